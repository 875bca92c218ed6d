"""The feed poller reads only what the hub tracks when nobody is subscribed, and
whole events for anyone who subscribed meanwhile."""

from __future__ import annotations

from datetime import UTC, datetime

from broker.delivery.hub import Hub
from broker.delivery.model import FeedEvent
from broker.delivery.poller import FeedPoller
from broker.domain import EventDraft, EventKind
from broker.store import Database
from broker.store.uow import Store

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class RecordingHub(Hub):
    """A hub that answers `has_subscribers` from a script and records what it gets."""

    def __init__(self, *answers: bool) -> None:
        super().__init__()
        self.answers = list(answers)
        self.published: list[FeedEvent] = []
        self.noted: list[FeedEvent] = []

    @property
    def has_subscribers(self) -> bool:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def publish(self, events: list[FeedEvent]) -> None:  # type: ignore[override]
        self.published.extend(events)

    def note(self, events: list[FeedEvent]) -> None:  # type: ignore[override]
        self.noted.extend(events)


async def _feed(store: Store, count: int) -> None:
    drafts = [
        EventDraft(kind=EventKind.REMINDER, created_at=AT, payload={"n": n}) for n in range(count)
    ]
    async with store.write() as uow:
        await uow.feed.append(drafts)


async def test_without_subscribers_events_are_noted_only(database_url: str) -> None:
    """Nobody subscribed, before or after the read: the hub notes kinds, no payloads."""
    store = Store(Database(database_url))
    try:
        hub = RecordingHub(False)
        poller = FeedPoller(store, hub)
        await poller.start_position()
        await _feed(store, 3)
        assert await poller.poll_once() == 3
        assert [e.kind for e in hub.noted] == ["reminder"] * 3
        assert all(e.payload == {} for e in hub.noted) and not hub.published
    finally:
        await store.dispose()


async def test_a_subscriber_arriving_during_the_read_gets_whole_events(database_url: str) -> None:
    """Subscribed between the (narrow) read and the decision: the same events, read whole."""
    store = Store(Database(database_url))
    try:
        hub = RecordingHub(False, True)  # none before the read, one after it
        poller = FeedPoller(store, hub)
        await poller.start_position()
        await _feed(store, 3)
        assert await poller.poll_once() == 3
        assert [e.payload for e in hub.published] == [{"n": 0}, {"n": 1}, {"n": 2}]
        assert all(e.text for e in hub.published) and not hub.noted
        assert poller.last_seq == hub.published[-1].seq
    finally:
        await store.dispose()
