"""The deliverable-event feed: appended in write transactions, read by seq.

`seq` is numbered while the writer holds the write lock (SQLite's single
writer; PostgreSQL's transaction advisory lock in `Database.write`), so seq
order is commit order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Select, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from broker.domain.events import EventDraft
from broker.store.tables import audience_members, events


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


def events_after(after: int, limit: int) -> Select[Any]:
    """Every event after `after`, oldest first (the poller's read)."""
    return select(events).where(events.c.seq > after).order_by(events.c.seq).limit(limit)


def event_kinds_after(after: int, limit: int) -> Select[Any]:
    """`events_after` without audiences and payloads: what the hub tracks when
    nobody is subscribed (kinds, items and members; see broker.delivery.hub)."""
    return (
        select(events.c.seq, events.c.kind, events.c.item_id, events.c.member_id)
        .where(events.c.seq > after)
        .order_by(events.c.seq)
        .limit(limit)
    )


def events_between(after: int, last: int) -> Select[Any]:
    """Every event after `after` up to and including `last`, oldest first."""
    return select(events).where(events.c.seq > after, events.c.seq <= last).order_by(events.c.seq)


def member_events_after(member_id: str, after: int, limit: int) -> Select[Any]:
    """What may concern one member after `after`: its own events and its audiences'."""
    mine = select(audience_members.c.audience_id).where(audience_members.c.member_id == member_id)
    return (
        select(events)
        .where(
            events.c.seq > after,
            or_(events.c.member_id == member_id, events.c.audience_id.in_(mine)),
        )
        .order_by(events.c.seq)
        .limit(limit)
    )


async def audience_members_of(
    conn: AsyncConnection, audience_ids: Iterable[str]
) -> dict[str, frozenset[str]]:
    """The member sets of some audiences."""
    ids = list(audience_ids)
    rows = (
        await conn.execute(
            select(audience_members.c.audience_id, audience_members.c.member_id).where(
                audience_members.c.audience_id.in_(ids)
            )
        )
    ).all()
    found: dict[str, set[str]] = {audience_id: set() for audience_id in ids}
    for row in rows:
        found[row.audience_id].add(row.member_id)
    return {k: frozenset(v) for k, v in found.items()}


async def latest_seq(conn: AsyncConnection) -> int:
    """The newest committed event's seq (0 for none)."""
    return int((await conn.execute(select(func.coalesce(func.max(events.c.seq), 0)))).scalar_one())


class FeedRepository:
    """The deliverable-event feed, on one unit of work's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def append(self, drafts: Iterable[EventDraft]) -> None:
        """Append `drafts` to the feed in this unit of work, in order."""
        await insert_events(self._conn, drafts)
