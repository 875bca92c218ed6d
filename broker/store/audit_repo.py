"""Appending to and reading the audit chain in the database.

Appends happen inside the caller's transaction, so an action and its audit
event commit together or not at all. The chain head is one row; reading it
`FOR UPDATE` serialises appenders across PostgreSQL replicas (SQLite already
has a single writer).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Connection, Select, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from broker.audit import GENESIS, AuditChain, AuditEvent, Checkpoint
from broker.domain.audit import AuditDraft
from broker.store.tables import audit_checkpoints, audit_events, audit_head, audit_item_refs


async def append_events(conn: AsyncConnection, drafts: Sequence[AuditDraft]) -> list[AuditEvent]:
    """Chain and insert `drafts` in the caller's transaction."""
    if not drafts:
        return []
    return await conn.run_sync(append_events_sync, drafts)


def append_events_sync(conn: Connection, drafts: Sequence[AuditDraft]) -> list[AuditEvent]:
    """`append_events` in a synchronous transaction (the group writer's)."""
    if not drafts:
        return []
    row = conn.execute(
        select(audit_head).where(audit_head.c.id == 1).with_for_update()
    ).one_or_none()
    chain = AuditChain(head=row.head, size=row.size) if row else AuditChain(head=GENESIS, size=0)
    events = [
        chain.append(
            id=d.id,
            at=d.at,
            action=str(d.action),
            outcome=d.outcome,
            actor_user_id=d.actor_user_id,
            actor_member_id=d.actor_member_id,
            item_id=d.item_id,
            subject_member_id=d.subject_member_id,
            reason=d.reason,
            details=d.details,
        )
        for d in drafts
    ]
    conn.execute(insert(audit_events), [event_row(e) for e in events])
    refs = [
        {"item_id": item_id, "seq": e.seq}
        for d, e in zip(drafts, events, strict=True)
        for item_id in dict.fromkeys(d.item_refs)
    ]
    if refs:
        conn.execute(insert(audit_item_refs), refs)
    if row is None:
        conn.execute(insert(audit_head).values(id=1, size=chain.size, head=chain.head))
    else:
        conn.execute(
            update(audit_head).where(audit_head.c.id == 1).values(size=chain.size, head=chain.head)
        )
    return events


def event_row(event: AuditEvent) -> dict[str, Any]:
    """The stored form of an event: details as the canonical JSON that was hashed."""
    return {
        "seq": event.seq,
        "id": event.id,
        "at": event.at,
        "actor_user_id": event.actor_user_id,
        "actor_member_id": event.actor_member_id,
        "action": event.action,
        "item_id": event.item_id,
        "subject_member_id": event.subject_member_id,
        "outcome": event.outcome,
        "reason": event.reason,
        "details": json.dumps(
            event.details, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ),
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def event_from_row(row: Any) -> AuditEvent:
    """Inverse of `event_row`."""
    m = row._mapping
    return AuditEvent(
        seq=int(m["seq"]),
        id=m["id"],
        at=m["at"],
        actor_user_id=m["actor_user_id"],
        actor_member_id=m["actor_member_id"],
        action=m["action"],
        item_id=m["item_id"],
        subject_member_id=m["subject_member_id"],
        outcome=m["outcome"],
        reason=m["reason"],
        details=json.loads(m["details"]),
        prev_hash=m["prev_hash"],
        hash=m["hash"],
    )


async def chain_head(conn: AsyncConnection) -> tuple[int, str]:
    """(size, head) of the chain as committed."""
    row = (await conn.execute(select(audit_head).where(audit_head.c.id == 1))).one_or_none()
    return (int(row.size), row.head) if row else (0, GENESIS)


async def insert_checkpoint(conn: AsyncConnection, checkpoint: Checkpoint) -> None:
    """Store a signed checkpoint."""
    await conn.execute(
        insert(audit_checkpoints).values(
            size=checkpoint.size,
            head=checkpoint.head,
            at=checkpoint.at,
            key_id=checkpoint.key_id,
            signature=checkpoint.signature,
        )
    )


async def latest_checkpoint(conn: AsyncConnection) -> Checkpoint | None:
    """The newest signed checkpoint, or None."""
    row = (
        await conn.execute(
            select(audit_checkpoints).order_by(audit_checkpoints.c.size.desc()).limit(1)
        )
    ).one_or_none()
    return _checkpoint(row) if row else None


def _checkpoint(row: Any) -> Checkpoint:
    return Checkpoint(
        size=int(row.size), head=row.head, at=row.at, key_id=row.key_id, signature=row.signature
    )


async def all_checkpoints(conn: AsyncConnection) -> list[Checkpoint]:
    """Every checkpoint, oldest first."""
    rows = (await conn.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.size))).all()
    return [_checkpoint(r) for r in rows]


def query_events(
    *,
    item: str | None = None,
    member: str | None = None,
    user: str | None = None,
    action: str | None = None,
    outcome: str | None = None,
    since: str | None = None,
    until: str | None = None,
    after_seq: int | None = None,
    limit: int = 50,
) -> Select[Any]:
    """A filtered page of events, oldest first (API.md `GET /v1/audit`)."""
    q = select(audit_events).order_by(audit_events.c.seq).limit(limit)
    if item is not None:
        refs = select(audit_item_refs.c.seq).where(audit_item_refs.c.item_id == item)
        q = q.where(or_(audit_events.c.item_id == item, audit_events.c.seq.in_(refs)))
    if member is not None:
        q = q.where(
            or_(
                audit_events.c.actor_member_id == member,
                audit_events.c.subject_member_id == member,
            )
        )
    if user is not None:
        q = q.where(audit_events.c.actor_user_id == user)
    if action is not None:
        q = q.where(audit_events.c.action == action)
    if outcome is not None:
        q = q.where(audit_events.c.outcome == outcome)
    if since is not None:
        q = q.where(audit_events.c.at >= since)
    if until is not None:
        q = q.where(audit_events.c.at < until)
    if after_seq is not None:
        q = q.where(audit_events.c.seq > after_seq)
    return q


async def stream_events(conn: AsyncConnection, batch: int = 2000) -> AsyncIterator[AuditEvent]:
    """Every event in chain order, fetched in batches (for export and verify)."""
    after = 0
    while True:
        rows = (
            await conn.execute(
                select(audit_events)
                .where(audit_events.c.seq > after)
                .order_by(audit_events.c.seq)
                .limit(batch)
            )
        ).all()
        if not rows:
            return
        for row in rows:
            yield event_from_row(row)
        after = int(rows[-1].seq)


class AuditRepository:
    """The audit chain, its checkpoints and its queries, on one unit of work's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def append(self, drafts: Sequence[AuditDraft]) -> list[AuditEvent]:
        """Chain and insert `drafts` in this unit of work, in order."""
        return await append_events(self._conn, drafts)
