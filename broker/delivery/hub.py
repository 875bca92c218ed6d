"""The in-process hub: routes each committed event to the connections that may see it.

A connection whose sender is idle (nothing queued, waiting for more) gets the
event written at once, by the publisher, as a frame built once for everyone:
no queue and no task wake-up per connection. Otherwise the event goes on the
connection's bounded queue, behind what is already there, so order holds.

Slow consumers never slow the others: a connection whose socket is backed up
gets its events queued, and a queue that fills up closes its connection with a
reason; the client resumes from its cursor. A control message (a member
restricted, withdrawn or expelled, charter art. 7, 8; or one user's rights
changed: revoked, handler registration added or ended, SPEC §3 rules 3, 7)
empties the queues it concerns at once and closes them, so nothing already
queued is delivered after the decision; the client reconnects and is decided
afresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

import structlog

from broker import tlp
from broker.delivery.model import Control, FeedEvent
from broker.domain import ITEM_EVENTS, Body, EventKind, Reader, Role

__all__ = [
    "ACCESS_CHANGED",
    "SHUTTING_DOWN",
    "TOO_SLOW",
    "AudienceKey",
    "DeliverNow",
    "Hub",
    "Subscription",
]

log = structlog.get_logger("broker.delivery")

TOO_SLOW = "too_slow"
ACCESS_CHANGED = "access_changed"
SHUTTING_DOWN = "shutting_down"

# What the policy decides on: connections that share it see the same events.
AudienceKey = tuple[Body, bool, Role]
# Internal events after which some connections must be re-decided (closed).
_RIGHTS_EVENTS = frozenset({EventKind.MEMBER_STATUS, EventKind.USER_ACCESS})
# Delivers an event at once; False when it cannot right now, and it is queued.
DeliverNow = Callable[[FeedEvent], bool]


class Subscription:
    """One live connection: who it is for, and what is waiting to be sent."""

    def __init__(self, reader: Reader, queue_size: int) -> None:
        self.reader = reader
        self.audience_key: AudienceKey = (reader.body, reader.is_handler, reader.role)
        self.queue: asyncio.Queue[FeedEvent | Control] = asyncio.Queue(maxsize=queue_size)
        self.closed: str | None = None
        # Set by the connection's sender only while it waits on an empty queue;
        # anything put on the queue clears it. So while it is set nothing is
        # queued, and a direct write never overtakes a queued event.
        self.deliver_now: DeliverNow | None = None

    def offer(self, event: FeedEvent) -> None:
        """Deliver or queue an event this reader may see; close the connection if it
        cannot keep up."""
        if self.closed is not None:
            return
        if self.deliver_now is not None:
            if self.deliver_now(event):
                return
            self.deliver_now = None  # queued from here until the sender catches up
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.close(TOO_SLOW)

    def close(self, reason: str) -> None:
        """Drop what is queued and wake the sender with the reason it must stop."""
        if self.closed is not None:
            return
        self.closed = reason
        self.deliver_now = None
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(Control(member_id=self.reader.body.id, reason=reason))


class Hub:
    """Subscriptions by member and kind of reader; routes committed events to them."""

    def __init__(self, queue_size: int = 1000) -> None:
        self.queue_size = queue_size
        # Grouped by what the policy decides on, so it decides once per group.
        self._by_member: dict[str, dict[AudienceKey, set[Subscription]]] = {}
        # Withdrawn items, so events for them still queued are dropped at send time.
        self.withdrawn: set[str] = set()
        # Why every connection was closed (the server is stopping), if it was.
        self._closed_all: str | None = None

    def subscribe(self, reader: Reader) -> Subscription:
        """Start receiving events for `reader`."""
        subscription = Subscription(reader, self.queue_size)
        if self._closed_all is not None:
            # A connection that was still being set up when the server began to
            # stop: end it at once, or the shutdown would wait for it.
            subscription.close(self._closed_all)
            return subscription
        groups = self._by_member.setdefault(reader.body.id, {})
        groups.setdefault(subscription.audience_key, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop routing to `subscription`."""
        member_id = subscription.reader.body.id
        groups = self._by_member.get(member_id, {})
        group = groups.get(subscription.audience_key)
        if group is None:
            return
        group.discard(subscription)
        if not group:
            del groups[subscription.audience_key]
        if not groups:
            del self._by_member[member_id]

    @property
    def connections(self) -> int:
        """How many connections are subscribed."""
        return sum(len(group) for groups in self._by_member.values() for group in groups.values())

    @property
    def has_subscribers(self) -> bool:
        """Whether any connection is subscribed."""
        return bool(self._by_member)

    def note(self, events: Iterable[FeedEvent]) -> None:
        """Apply the access decisions among committed events: restricted members'
        connections close, withdrawn items are remembered. Alone, for when nobody is
        subscribed (the poller then loads no facts for them); first, in `publish`."""
        for event in events:
            if event.kind in _RIGHTS_EVENTS and event.member_id is not None:
                self._rights_changed(event, event.member_id)
            elif event.kind == EventKind.WITHDRAWN and event.item_id is not None:
                self.withdrawn.add(event.item_id)

    def publish(self, events: Iterable[FeedEvent]) -> None:
        """Route committed events, in seq order."""
        batch = list(events)
        # Decisions first: they also cover this batch's earlier events, which must
        # not be written directly before the decision is seen (when publishing
        # only queued, they were still queued and were dropped).
        self.note(batch)
        for event in batch:
            if not event.internal:  # internal: for the replicas' caches
                self._route(event)

    def _route(self, event: FeedEvent) -> None:
        if event.member_id is not None and event.kind not in ITEM_EVENTS:
            targets: Iterable[str] = (event.member_id,)
        else:
            targets = event.audience & self._by_member.keys()
        for member_id in targets:
            for group in tuple(self._by_member.get(member_id, {}).values()):
                # Decide once per kind of reader, not once per connection.
                if _may_see(next(iter(group)).reader, event):
                    for subscription in tuple(group):
                        subscription.offer(event)

    def _rights_changed(self, event: FeedEvent, member_id: str) -> None:
        """Close the connections whose reader the policy says this change concerns."""
        named = event.payload.get("user_id")
        # Without a payload (only what the hub tracks was read: nobody was
        # subscribed then) a user change is taken to concern every user.
        user_id = named if isinstance(named, str) else None
        closed = 0
        for subscription in self._subscriptions_of(member_id):
            if tlp.rights_changed(
                subscription.reader, event.kind, member_id=member_id, user_id=user_id
            ):
                subscription.close(ACCESS_CHANGED)
                closed += 1
        if closed:
            log.info(
                "stream_access_changed",
                member_id=member_id,
                user_id=user_id,
                change=str(event.kind),
                closed=closed,
            )

    def close_all(self, reason: str) -> None:
        """Close every connection, and any that subscribes later (the server is stopping)."""
        self._closed_all = reason
        for member_id in tuple(self._by_member):
            for subscription in self._subscriptions_of(member_id):
                subscription.close(reason)

    def control(self, member_id: str, reason: str) -> None:
        """Close every connection of `member_id` now, dropping what was queued."""
        for subscription in self._subscriptions_of(member_id):
            subscription.close(reason)
        log.info("stream_member_closed", member_id=member_id, reason=reason)

    def _subscriptions_of(self, member_id: str) -> list[Subscription]:
        groups = self._by_member.get(member_id, {})
        return [s for group in groups.values() for s in group]


def _may_see(reader: Reader, event: FeedEvent) -> bool:
    return bool(
        tlp.may_see_event(
            reader,
            event.kind,
            member_id=event.member_id,
            audience=event.audience,
            facts=event.facts,
        )
    )
