"""Serving one live connection: replay from the cursor, then follow the hub.

At-least-once without gaps: the connection subscribes to the hub first, then
replays everything after its cursor from the database, then sends live
events, skipping any seq it already sent. Event ids are the cursors, so a
client drops duplicates by id and resumes with the last id it saw.

While live and idle, the connection lets the hub write events to it directly
(`WriteNow`, see broker.delivery.hub); the same checks apply on both paths.

A connection keeps the reader it signed in with, so it ends when that reader's
rights change (SPEC §3 rules 3, 7): at once when the change is announced (the
hub closes it), and, for changes that come with time (a handler registration
ending), when they fall due: nothing is sent from that moment, on either path.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import datetime

from broker import tlp
from broker.delivery.hub import ACCESS_CHANGED, DeliverNow, Hub, Subscription
from broker.delivery.model import Control, FeedEvent
from broker.delivery.poller import load_feed_events
from broker.domain import EventKind, Reader
from broker.services.clock import Clock
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

    def __init__(self, store: Store, hub: Hub, reader: Reader, clock: Clock | None = None) -> None:
        self.store = store
        self.hub = hub
        self.reader = reader
        self.subscription: Subscription = hub.subscribe(reader)
        self.last = 0
        self.sent = 0
        self._audiences: dict[str, frozenset[str]] = {}
        self.clock = clock
        # When the reader's rights next change by themselves (tlp.rights_until);
        # None: not until a change is announced.
        self.rights_until: datetime | None = None

    async def load_rights(self) -> None:
        """Learn, after subscribing, when this reader's rights next change with time;
        end the connection at once if they changed since sign-in (a change committed
        before the subscription, which the hub could not announce to it)."""
        if self.clock is None:
            return
        async with self.store.read() as uow:
            user = await uow.members.user(self.reader.user_id, self.reader.body.id)
            registrations = await uow.members.handlers_of(self.reader.body.id)
        self.rights_until = tlp.rights_until(
            self.reader,
            now=self.clock(),
            revoked=user is None or user.revoked_at is not None,
            registrations=registrations,
            # An expiring token ends its stream when it expires (SPEC §3 rule 7:
            # nothing is sent from the moment the rights end).
            token_expires_at=None if user is None else user.expires_at,
        )
        self._rights_hold()

    def _rights_hold(self) -> bool:
        """Whether the reader's rights still hold; if not, the connection closes now."""
        if self.clock is None or self.rights_until is None:
            return True  # changes announced in the feed close it in the hub
        if not tlp.may_keep_stream(self.rights_until, self.clock()):
            self.subscription.close(ACCESS_CHANGED)
            return False
        return True

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
                if self.subscription.closed is not None:
                    return  # rights changed (or closing): follow() ends it
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
        rights = self._seconds_of_rights()
        self.subscription.deliver_now = deliver
        try:
            if keepalive is None and rights is None:
                return await queue.get()  # no timer to arm and cancel
            delays = [KEEPALIVE_SECONDS] if keepalive is not None else []
            if rights is not None:
                delays.append(rights)
            try:
                async with asyncio.timeout(min(delays)):
                    return await queue.get()
            except TimeoutError:
                if not self._rights_hold():
                    return None  # closed: the control message is queued
                if keepalive is not None:
                    await keepalive()
                return None
        finally:
            # Busy (or gone) from here on: what comes meanwhile queues behind.
            self.subscription.deliver_now = None

    def _seconds_of_rights(self) -> float | None:
        # How long until the rights change by themselves, to close on time even
        # when no event comes (the event checks catch it on any clock).
        if self.clock is None or self.rights_until is None:
            return None
        return max(0.0, (self.rights_until - self.clock()).total_seconds())

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
        if not self._rights_hold():
            return False  # rule 7: nothing from the moment the rights changed
        if event.seq <= self.last:
            return False  # already replayed
        # Withdrawn while queued: never delivered after the decision.
        return event.kind == EventKind.WITHDRAWN or event.item_id not in self.hub.withdrawn

    def _sent(self, event: FeedEvent) -> None:
        self.sent += 1
        self.last = event.seq

    def _visible(self, event: FeedEvent) -> bool:
        if event.internal or not self._rights_hold():
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
