"""The feed poller: reads newly committed events once per replica and publishes them.

Woken by this replica's own commits and, on PostgreSQL, by NOTIFY from the
others; a slow periodic poll covers a lost notification. Reading once per
replica (not per connection) keeps a commit's cost flat in the number of
subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

import structlog

from broker.delivery.hub import Hub
from broker.delivery.leader import close_quickly
from broker.delivery.model import FeedEvent
from broker.delivery.waking import woken
from broker.store.database import FEED_CHANNEL
from broker.store.feed_repo import FeedRecord
from broker.store.uow import Store, UnitOfWork

__all__ = ["FeedPoller", "listening", "load_feed_events"]

log = structlog.get_logger("broker.delivery")

_SAFETY_POLL_SECONDS = 1.0
_BATCH = 1000


async def load_feed_events(
    uow: UnitOfWork, rows: Sequence[FeedRecord], audiences: dict[str, frozenset[str]]
) -> list[FeedEvent]:
    """Feed records with the item facts and audiences the policy needs."""
    items = await uow.items.get_many([r.item_id for r in rows if r.item_id])
    missing = {r.audience_id for r in rows if r.audience_id and r.audience_id not in audiences}
    if missing:
        audiences.update(await uow.feed.audience_members(missing))
    return [
        FeedEvent(
            seq=r.seq,
            kind=r.kind,
            item_id=r.item_id,
            member_id=r.member_id,
            audience=audiences.get(r.audience_id, frozenset()) if r.audience_id else frozenset(),
            facts=items[r.item_id].facts if r.item_id in items else None,
            payload=r.payload,
            text=FeedEvent.frame_text(r.seq, r.kind, r.payload),
        )
        for r in rows
    ]


def _bare_event(row: FeedRecord) -> FeedEvent:
    # What the hub tracks without subscribers: kinds, items and members only.
    return FeedEvent(
        seq=row.seq,
        kind=row.kind,
        item_id=row.item_id,
        member_id=row.member_id,
        audience=frozenset(),
        facts=None,
    )


class FeedPoller:
    """One per replica: committed events → the hub."""

    def __init__(self, store: Store, hub: Hub) -> None:
        self.store = store
        self.hub = hub
        self.last_seq = 0
        self._wake = asyncio.Event()
        # Audiences are content-addressed and never change: cache them.
        self._audiences: dict[str, frozenset[str]] = {}
        # Called when members, users or handlers changed on any replica.
        self.on_directory_change: Callable[[], None] = lambda: None

    def wake(self) -> None:
        """Something was committed: look for new events."""
        self._wake.set()

    async def start_position(self) -> None:
        """Start after what is already committed (subscribers replay from their cursors)."""
        async with self.store.read() as uow:
            self.last_seq = await uow.feed.latest_seq()

    async def poll_once(self) -> int:
        """Publish every event committed since the last poll; returns how many."""
        published = 0
        while True:
            count = await self._poll_batch()
            published += count
            if count < _BATCH:
                # That read saw every commit before it; a later one wakes us again.
                return published

    async def _poll_batch(self) -> int:
        async with self.store.read() as uow:
            # Payloads, facts, audiences and frames are only for subscribers:
            # without any, only what the hub tracks is read.
            full = self.hub.has_subscribers
            read = uow.feed.after if full else uow.feed.kinds_after
            rows = await read(self.last_seq, _BATCH)
            if not rows:
                return 0
            # One who subscribes after these rows were read needs none of them
            # live: they were committed before it subscribed, so its replay (or
            # its starting position) covers them (broker.delivery.stream). One
            # who subscribed while they were read does need them: read them whole.
            subscribed = self.hub.has_subscribers
            if subscribed and not full:
                rows = await uow.feed.between(self.last_seq, rows[-1].seq)
            if subscribed:
                batch = await load_feed_events(uow, rows, self._audiences)
            else:
                batch = [_bare_event(r) for r in rows]
            # Published before the connection is released: its rollback is one
            # more thread hop, and need not delay delivery.
            self._publish(batch, subscribed)
        return len(batch)

    def _publish(self, batch: list[FeedEvent], subscribed: bool) -> None:
        if any(event.changes_directory for event in batch):
            self.on_directory_change()
        if subscribed:
            self.hub.publish(batch)
        else:
            self.hub.note(batch)
        self.last_seq = batch[-1].seq

    async def run(self) -> None:
        """Poll whenever woken (or every second), until cancelled."""
        while True:
            await woken(self._wake, _SAFETY_POLL_SECONDS)
            self._wake.clear()
            try:
                await self.poll_once()
            except Exception:
                log.exception("feed_poll_failed")


@contextlib.asynccontextmanager
async def listening(store: Store, poller: FeedPoller) -> AsyncIterator[None]:
    """Wake `poller` on PostgreSQL NOTIFY from any replica (no-op on SQLite)."""
    db = store.db
    if db.is_sqlite:
        yield
        return
    import asyncpg  # type: ignore[import-untyped]

    dsn = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    await connection.add_listener(FEED_CHANNEL, lambda *_: poller.wake())
    try:
        yield
    finally:
        await close_quickly(connection)
