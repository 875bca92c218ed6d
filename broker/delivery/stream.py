"""Serving one live connection: replay from the cursor, then follow the hub.

At-least-once without gaps: the connection subscribes to the hub first, then
replays everything after its cursor from the database, then sends live
events, skipping any seq it already sent. Event ids are the cursors, so a
client drops duplicates by id and resumes with the last id it saw.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from broker import tlp
from broker.delivery.hub import Hub, Subscription
from broker.delivery.model import Control, FeedEvent
from broker.delivery.poller import load_feed_events
from broker.domain import Reader
from broker.store import Database
from broker.store.feed_repo import latest_seq, member_events_after

Send = Callable[[FeedEvent], Awaitable[None]]
Keepalive = Callable[[], Awaitable[None]]
KEEPALIVE_SECONDS = 15.0
_REPLAY_BATCH = 500


class Follow:
    """One connection's delivery loop, independent of WebSocket or SSE framing."""

    def __init__(self, db: Database, hub: Hub, reader: Reader) -> None:
        self.db = db
        self.hub = hub
        self.reader = reader
        self.subscription: Subscription = hub.subscribe(reader)
        self.last = 0
        self.sent = 0
        self._audiences: dict[str, frozenset[str]] = {}

    async def replay(self, cursor: int | None, send: Send) -> None:
        """Send what was committed after `cursor` (from now on if None)."""
        if cursor is None:
            async with self.db.read() as conn:
                self.last = await latest_seq(conn)
            return
        self.last = cursor
        while True:
            async with self.db.read() as conn:
                query = member_events_after(self.reader.body.id, self.last, _REPLAY_BATCH)
                rows = (await conn.execute(query)).all()
                if not rows:
                    return
                batch = await load_feed_events(conn, rows, self._audiences)
            for event in batch:
                if self._visible(event):
                    await send(event)
                    self.sent += 1
                self.last = event.seq

    async def follow(self, send: Send, keepalive: Keepalive | None = None) -> str:
        """Send live events until the hub closes this connection; returns why.

        `keepalive` runs after each quiet `KEEPALIVE_SECONDS`: writing is how a
        server notices a client that went away without closing.
        """
        queue = self.subscription.queue
        while True:
            if queue.empty():
                try:
                    async with asyncio.timeout(KEEPALIVE_SECONDS):
                        event = await queue.get()
                except TimeoutError:
                    if keepalive is not None:
                        await keepalive()
                    continue
            else:
                event = queue.get_nowait()  # no timer per message while busy
            if isinstance(event, Control):
                return event.reason
            if event.seq <= self.last:
                continue  # already replayed
            if event.kind != "withdrawn" and event.item_id in self.hub.withdrawn:
                continue  # withdrawn while queued: never delivered after the decision
            await send(event)
            self.sent += 1
            self.last = event.seq

    def _visible(self, event: FeedEvent) -> bool:
        if event.internal:
            return False
        return bool(
            tlp.may_see_event(
                self.reader,
                event.kind,
                member_id=event.member_id,
                audience=event.audience,
                facts=event.facts,
            )
        )

    def close(self) -> None:
        """Stop receiving from the hub."""
        self.hub.unsubscribe(self.subscription)
