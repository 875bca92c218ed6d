"""The deliverable-event feed: appended in write transactions, read by seq.

`seq` is numbered while the writer holds the write lock (SQLite's single
writer; PostgreSQL's transaction advisory lock in `Database.write`), so seq
order is commit order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Select, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from broker.domain.events import EventDraft, EventKind
from broker.store.tables import audience_members, events

__all__ = ["EventDraft", "FeedRecord", "FeedRepository", "insert_events", "insert_events_sync"]


@dataclass(frozen=True, slots=True)
class FeedRecord:
    """One committed event as the feed holds it: for one member, or for an item's audience.

    Read without payloads and audiences (`FeedRepository.kinds_after`), it is
    what the hub tracks when nobody is subscribed.
    """

    seq: int
    kind: EventKind
    item_id: str | None
    member_id: str | None
    audience_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


async def insert_events(conn: AsyncConnection, drafts: Iterable[EventDraft]) -> None:
    """Append `drafts` to the feed in the caller's transaction, in order."""
    await conn.run_sync(insert_events_sync, drafts)


def insert_events_sync(conn: Connection, drafts: Iterable[EventDraft]) -> None:
    """`insert_events` in a synchronous transaction (the group writer's)."""
    rows = [
        {
            "kind": str(d.kind),
            "member_id": d.member_id,
            "audience_id": d.audience_id,
            "item_id": d.item_id,
            "payload": d.payload,
            "created_at": d.created_at,
        }
        for d in drafts
    ]
    if rows:
        conn.execute(insert(events), rows)


def _record(row: Any) -> FeedRecord:
    return FeedRecord(
        seq=int(row.seq),
        kind=EventKind(row.kind),
        item_id=row.item_id,
        member_id=row.member_id,
        audience_id=row.audience_id,
        payload=row.payload,
    )


def _bare_record(row: Any) -> FeedRecord:
    return FeedRecord(
        seq=int(row.seq), kind=EventKind(row.kind), item_id=row.item_id, member_id=row.member_id
    )


class FeedRepository:
    """The deliverable-event feed, on one unit of work's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def append(self, drafts: Iterable[EventDraft]) -> None:
        """Append `drafts` to the feed in this unit of work, in order."""
        await insert_events(self._conn, drafts)

    async def _records(self, query: Select[Any]) -> list[FeedRecord]:
        return [_record(row) for row in (await self._conn.execute(query)).all()]

    async def after(self, after: int, limit: int) -> list[FeedRecord]:
        """Every event after `after`, oldest first (the poller's read)."""
        return await self._records(
            select(events).where(events.c.seq > after).order_by(events.c.seq).limit(limit)
        )

    async def kinds_after(self, after: int, limit: int) -> list[FeedRecord]:
        """`after` without audiences and payloads: what the hub tracks when nobody is
        subscribed (kinds, items and members; see broker.delivery.hub)."""
        query = (
            select(events.c.seq, events.c.kind, events.c.item_id, events.c.member_id)
            .where(events.c.seq > after)
            .order_by(events.c.seq)
            .limit(limit)
        )
        return [_bare_record(row) for row in (await self._conn.execute(query)).all()]

    async def between(self, after: int, last: int) -> list[FeedRecord]:
        """Every event after `after` up to and including `last`, oldest first."""
        return await self._records(
            select(events).where(events.c.seq > after, events.c.seq <= last).order_by(events.c.seq)
        )

    async def for_member_after(self, member_id: str, after: int, limit: int) -> list[FeedRecord]:
        """What may concern one member after `after`: its own events and its audiences'."""
        mine = select(audience_members.c.audience_id).where(
            audience_members.c.member_id == member_id
        )
        return await self._records(
            select(events)
            .where(
                events.c.seq > after,
                or_(events.c.member_id == member_id, events.c.audience_id.in_(mine)),
            )
            .order_by(events.c.seq)
            .limit(limit)
        )

    async def audience_members(self, audience_ids: Iterable[str]) -> dict[str, frozenset[str]]:
        """The member sets of some audiences."""
        ids = list(audience_ids)
        rows = (
            await self._conn.execute(
                select(audience_members.c.audience_id, audience_members.c.member_id).where(
                    audience_members.c.audience_id.in_(ids)
                )
            )
        ).all()
        found: dict[str, set[str]] = {audience_id: set() for audience_id in ids}
        for row in rows:
            found[row.audience_id].add(row.member_id)
        return {k: frozenset(v) for k, v in found.items()}

    async def latest_seq(self) -> int:
        """The newest committed event's seq (0 for none)."""
        query = select(func.coalesce(func.max(events.c.seq), 0))
        return int((await self._conn.execute(query)).scalar_one())
