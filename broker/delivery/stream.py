"""Serving one live connection: replay from the cursor, then follow the hub.

At-least-once without gaps: the connection subscribes to the hub first, then
replays everything after its cursor from the database, then sends live
events, skipping any seq it already sent. Event ids are the cursors, so a
client drops duplicates by id and resumes with the last id it saw.

While live and idle, the connection lets the hub write events to it directly
(`WriteNow`, see broker.delivery.hub); the same checks apply on both paths.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable

from broker import tlp
from broker.delivery.hub import DeliverNow, Hub, Subscription
from broker.delivery.model import Control, FeedEvent
from broker.delivery.poller import load_feed_events
from broker.domain import EventKind, Reader
from broker.store.uow import Store

__all__ = ["KEEPALIVE_SECONDS", "Follow", "Keepalive", "Send", "WriteNow"]

Send = Callable[[FeedEvent], Awaitable[None]]
# Writes an event without waiting, or returns False when the connection cannot
# take it right now (its send buffer is full, it is closing).
WriteNow = Callable[[FeedEvent], bool]
Keepalive = Callable[[], Awaitable[None]]
KEEPALIVE_SECONDS = 15.0
_REPLAY_BATCH = 500


class Follow:
    """One connection's delivery loop, independent of WebSocket or SSE framing."""

    def __init__(self, store: Store, hub: Hub, reader: Reader) -> None:
        self.store = store
        self.hub = hub
        self.reader = reader
        self.subscription: Subscription = hub.subscribe(reader)
        self.last = 0
        self.sent = 0
        self._audiences: dict[str, frozenset[str]] = {}

    async def replay(self, cursor: int | None, send: Send) -> None:
        """Send what was committed after `cursor` (from now on if None)."""
        if cursor is None:
            async with self.store.read() as uow:
                self.last = await uow.feed.latest_seq()
            return
        self.last = cursor
        while True:
            async with self.store.read() as uow:
                rows = await uow.feed.for_member_after(
                    self.reader.body.id, self.last, _REPLAY_BATCH
                )
                if not rows:
                    return
                batch = await load_feed_events(uow, rows, self._audiences)
            for event in batch:
                if self._visible(event):
                    await send(event)
                    self.sent += 1
                self.last = event.seq

    async def follow(
        self, send: Send, keepalive: Keepalive | None = None, write_now: WriteNow | None = None
    ) -> str:
        """Send live events until the hub closes this connection; returns why.

        `keepalive` runs after each quiet `KEEPALIVE_SECONDS`: writing is how a
        server notices a client that went away without closing. With
        `write_now`, the hub writes events itself while nothing is queued.
        """
        queue = self.subscription.queue
        deliver = None if write_now is None else functools.partial(self._deliver_now, write_now)
        while True:
            if queue.empty():
                event = await self._wait(keepalive, deliver)
                if event is None:
                    continue
            else:
                event = queue.get_nowait()  # no wait, no timer, per message while busy
            if isinstance(event, Control):
                return event.reason
            if self._due(event):
                await send(event)
                self._sent(event)

    async def _wait(
        self, keepalive: Keepalive | None, deliver: DeliverNow | None
    ) -> FeedEvent | Control | None:
        """The next queued message (the queue is empty now), None after a keepalive;
        meanwhile the hub may `deliver` to the connection directly."""
        queue = self.subscription.queue
        self.subscription.deliver_now = deliver
        try:
            if keepalive is None:
                return await queue.get()  # no timer to arm and cancel
            try:
                async with asyncio.timeout(KEEPALIVE_SECONDS):
                    return await queue.get()
            except TimeoutError:
                await keepalive()
                return None
        finally:
            # Busy (or gone) from here on: what comes meanwhile queues behind.
            self.subscription.deliver_now = None

    def _deliver_now(self, write_now: WriteNow, event: FeedEvent) -> bool:
        """The hub's direct path: True when `event` is dealt with (written or not due)."""
        if not self._due(event):
            return True
        try:
            written = write_now(event)
        except (ConnectionError, RuntimeError):
            return False  # queued: the sender meets the error and ends the connection
        if written:
            self._sent(event)
        return written

    def _due(self, event: FeedEvent) -> bool:
        if event.seq <= self.last:
            return False  # already replayed
        # Withdrawn while queued: never delivered after the decision.
        return event.kind == EventKind.WITHDRAWN or event.item_id not in self.hub.withdrawn

    def _sent(self, event: FeedEvent) -> None:
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
