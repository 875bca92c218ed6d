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
from broker.domain.audit import AuditDraft, AuditFilter, AuditPage
from broker.store.tables import audit_checkpoints, audit_events, audit_head, audit_item_refs

__all__ = ["AuditDraft", "AuditRepository", "append_events", "append_events_sync"]


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
    conn.execute(insert(audit_events), [_event_row(e) for e in events])
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


def _event_row(event: AuditEvent) -> dict[str, Any]:
    # The stored form of an event: details as the canonical JSON that was hashed.
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


def _event_from_row(row: Any) -> AuditEvent:
    # Inverse of `_event_row`.
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


def _checkpoint(row: Any) -> Checkpoint:
    return Checkpoint(
        size=int(row.size), head=row.head, at=row.at, key_id=row.key_id, signature=row.signature
    )


def _query(filters: AuditFilter, after_seq: int | None, limit: int) -> Select[Any]:
    q = select(audit_events).order_by(audit_events.c.seq).limit(limit)
    if filters.item is not None:
        refs = select(audit_item_refs.c.seq).where(audit_item_refs.c.item_id == filters.item)
        q = q.where(or_(audit_events.c.item_id == filters.item, audit_events.c.seq.in_(refs)))
    if filters.member is not None:
        q = q.where(
            or_(
                audit_events.c.actor_member_id == filters.member,
                audit_events.c.subject_member_id == filters.member,
            )
        )
    if filters.user is not None:
        q = q.where(audit_events.c.actor_user_id == filters.user)
    if filters.action is not None:
        q = q.where(audit_events.c.action == filters.action)
    if filters.outcome is not None:
        q = q.where(audit_events.c.outcome == filters.outcome)
    if filters.since is not None:
        q = q.where(audit_events.c.at >= filters.since)
    if filters.until is not None:
        q = q.where(audit_events.c.at < filters.until)
    if after_seq is not None:
        q = q.where(audit_events.c.seq > after_seq)
    return q


class AuditRepository:
    """The audit chain, its checkpoints and its queries, on one unit of work's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def append(self, drafts: Sequence[AuditDraft]) -> list[AuditEvent]:
        """Chain and insert `drafts` in this unit of work, in order."""
        return await append_events(self._conn, drafts)

    async def head(self) -> tuple[int, str]:
        """(size, head) of the chain as committed."""
        query = select(audit_head).where(audit_head.c.id == 1)
        row = (await self._conn.execute(query)).one_or_none()
        return (int(row.size), row.head) if row else (0, GENESIS)

    async def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store a signed checkpoint."""
        await self._conn.execute(
            insert(audit_checkpoints).values(
                size=checkpoint.size,
                head=checkpoint.head,
                at=checkpoint.at,
                key_id=checkpoint.key_id,
                signature=checkpoint.signature,
            )
        )

    async def latest_checkpoint(self) -> Checkpoint | None:
        """The newest signed checkpoint, or None."""
        query = select(audit_checkpoints).order_by(audit_checkpoints.c.size.desc()).limit(1)
        row = (await self._conn.execute(query)).one_or_none()
        return _checkpoint(row) if row else None

    async def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint, oldest first."""
        query = select(audit_checkpoints).order_by(audit_checkpoints.c.size)
        return [_checkpoint(r) for r in (await self._conn.execute(query)).all()]

    async def page(self, filters: AuditFilter, *, after_seq: int | None, limit: int) -> AuditPage:
        """A filtered page of events after `after_seq`, oldest first (`GET /v1/audit`)."""
        rows = (await self._conn.execute(_query(filters, after_seq, limit + 1))).all()
        events = tuple(_event_from_row(r) for r in rows[:limit])
        more = len(rows) > limit
        return AuditPage(events=events, next_seq=events[-1].seq if more else None)

    async def stream(self, batch: int = 2000) -> AsyncIterator[AuditEvent]:
        """Every event in chain order, fetched in batches (for export and verify)."""
        after = 0
        while True:
            query = (
                select(audit_events)
                .where(audit_events.c.seq > after)
                .order_by(audit_events.c.seq)
                .limit(batch)
            )
            rows = (await self._conn.execute(query)).all()
            if not rows:
                return
            for row in rows:
                yield _event_from_row(row)
            after = int(rows[-1].seq)
