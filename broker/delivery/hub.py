"""The in-process hub: each connection's bounded queue, fed by the poller.

Slow consumers never slow the others: a queue that fills up closes its
connection with a reason, and the client resumes from its cursor. A control
message (a member restricted, withdrawn or expelled, charter art. 7, 8) empties
that member's queues at once and closes them, so nothing already queued is
delivered after the decision.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import structlog

from broker import tlp
from broker.delivery.model import Control, FeedEvent
from broker.domain import Body, Reader, Role

log = structlog.get_logger("broker.delivery")

TOO_SLOW = "too_slow"
ACCESS_CHANGED = "access_changed"
SHUTTING_DOWN = "shutting_down"


class Subscription:
    """One live connection: who it is for, and what is waiting to be sent."""

    def __init__(self, reader: Reader, queue_size: int) -> None:
        self.reader = reader
        self.queue: asyncio.Queue[FeedEvent | Control] = asyncio.Queue(maxsize=queue_size)
        self.closed: str | None = None

    @property
    def audience_key(self) -> tuple[Body, bool, Role]:
        """What the policy decides on: users that share it see the same events."""
        return (self.reader.body, self.reader.is_handler, self.reader.role)

    def offer(self, event: FeedEvent) -> None:
        """Queue an event this reader may see; close the connection if it cannot keep up."""
        if self.closed is not None:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.close(TOO_SLOW)

    def close(self, reason: str) -> None:
        """Drop what is queued and wake the sender with the reason it must stop."""
        if self.closed is not None:
            return
        self.closed = reason
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(Control(member_id=self.reader.body.id, reason=reason))


class Hub:
    """Subscriptions by member; routes each committed event to the queues that may see it."""

    def __init__(self, queue_size: int = 1000) -> None:
        self.queue_size = queue_size
        self._by_member: dict[str, set[Subscription]] = {}
        # Withdrawn items, so events for them still queued are dropped at send time.
        self.withdrawn: set[str] = set()

    def subscribe(self, reader: Reader) -> Subscription:
        """Start receiving events for `reader`."""
        subscription = Subscription(reader, self.queue_size)
        self._by_member.setdefault(reader.body.id, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop routing to `subscription`."""
        members = self._by_member.get(subscription.reader.body.id)
        if members is not None:
            members.discard(subscription)
            if not members:
                del self._by_member[subscription.reader.body.id]

    @property
    def connections(self) -> int:
        """How many connections are subscribed."""
        return sum(len(s) for s in self._by_member.values())

    @property
    def has_subscribers(self) -> bool:
        """Whether any connection is subscribed."""
        return bool(self._by_member)

    def note(self, events: Iterable[FeedEvent]) -> None:
        """Keep what `publish` keeps from committed events, delivering nothing: for
        when nobody is subscribed (the poller then loads no facts for them)."""
        for event in events:
            if event.kind == "member_status" and event.member_id is not None:
                self.control(event.member_id, ACCESS_CHANGED)
            elif event.kind == "withdrawn" and event.item_id is not None:
                self.withdrawn.add(event.item_id)

    def publish(self, events: Iterable[FeedEvent]) -> None:
        """Route committed events, in seq order."""
        for event in events:
            if event.kind == "member_status" and event.member_id is not None:
                self.control(event.member_id, ACCESS_CHANGED)
                continue
            if event.internal:
                continue  # for the replicas' caches, not for subscribers
            if event.kind == "withdrawn" and event.item_id is not None:
                self.withdrawn.add(event.item_id)
            if event.member_id is not None and event.kind not in tlp.ITEM_EVENTS:
                targets: Iterable[str] = (event.member_id,)
            else:
                targets = event.audience & self._by_member.keys()
            # Decide once per kind of reader, not once per connection: many
            # connections share a member, handler status and role.
            decided: dict[tuple[Body, bool, Role], bool] = {}
            for member_id in targets:
                for subscription in tuple(self._by_member.get(member_id, ())):
                    key = subscription.audience_key
                    allowed = decided.get(key)
                    if allowed is None:
                        allowed = decided[key] = bool(
                            tlp.may_see_event(
                                subscription.reader,
                                event.kind,
                                member_id=event.member_id,
                                audience=event.audience,
                                facts=event.facts,
                            )
                        )
                    if allowed:
                        subscription.offer(event)

    def close_all(self, reason: str) -> None:
        """Close every connection (the server is stopping)."""
        for member_id in tuple(self._by_member):
            for subscription in tuple(self._by_member.get(member_id, ())):
                subscription.close(reason)

    def control(self, member_id: str, reason: str) -> None:
        """Close every connection of `member_id` now, dropping what was queued."""
        for subscription in tuple(self._by_member.get(member_id, ())):
            subscription.close(reason)
        log.info("stream_member_closed", member_id=member_id, reason=reason)
