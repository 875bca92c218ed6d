"""The hub routes each event to the queues that may see it, and no further."""

from __future__ import annotations

from broker.delivery.hub import ACCESS_CHANGED, SHUTTING_DOWN, TOO_SLOW, Hub
from broker.delivery.model import Control, FeedEvent
from broker.domain import (
    Body,
    Confidence,
    Group,
    ItemFacts,
    ItemKind,
    Reader,
    Scope,
    Tier,
    Tlp,
)


def _body(member_id: str, tier: Tier = Tier.TIER_ONE) -> Body:
    return Body(id=member_id, tier=tier, has_handler=True)


def _event(
    seq: int,
    *,
    secret: bool = False,
    audience: frozenset[str] = frozenset({"a", "b"}),
    kind: str = "item",
    member_id: str | None = None,
) -> FeedEvent:
    facts = ItemFacts(
        id=f"item{seq}",
        provider_id="a",
        kind=ItemKind.ANALYSIS,
        confidence=Confidence.UNCONFIRMED,
        tlp=Tlp.AMBER,
        secret=secret,
        scope=Scope(groups=frozenset({Group.TIER_ONE_GROUP})),
    )
    return FeedEvent(
        seq=seq,
        kind=kind,
        item_id=facts.id,
        member_id=member_id,
        audience=audience,
        facts=facts,
        text=FeedEvent.frame_text(seq, kind, {}),
    )


def test_item_event_reaches_only_readers_in_its_audience() -> None:
    """A subscriber outside the audience gets nothing; a non-handler gets no secret item."""
    hub = Hub()
    handler = hub.subscribe(Reader("u1", _body("b"), is_handler=True))
    plain = hub.subscribe(Reader("u2", _body("b"), is_handler=False))
    outsider = hub.subscribe(Reader("u3", _body("c"), is_handler=True))
    hub.publish([_event(1), _event(2, secret=True)])
    assert [e.seq for e in _drain(handler.queue)] == [1, 2]
    assert [e.seq for e in _drain(plain.queue)] == [1]
    assert _drain(outsider.queue) == []


def test_member_event_reaches_only_its_member() -> None:
    """An obligation for member b is not shown to member a."""
    hub = Hub()
    mine = hub.subscribe(Reader("u1", _body("b"), is_handler=True))
    other = hub.subscribe(Reader("u2", _body("a"), is_handler=True))
    hub.publish([_event(3, kind="obligation", member_id="b")])
    assert [e.seq for e in _drain(mine.queue)] == [3]
    assert _drain(other.queue) == []


def test_slow_consumer_is_closed_and_others_unaffected() -> None:
    """A full queue closes that connection with too_slow; the others keep everything."""
    hub = Hub(queue_size=2)
    slow = hub.subscribe(Reader("u1", _body("b"), is_handler=True))
    hub.publish([_event(1)])
    fast = hub.subscribe(Reader("u2", _body("b"), is_handler=True))
    hub.publish([_event(2), _event(3)])
    assert slow.closed == TOO_SLOW
    assert isinstance(_drain(slow.queue)[-1], Control)
    assert [e.seq for e in _drain(fast.queue)] == [2, 3]


def test_restriction_drops_what_is_queued_at_once() -> None:
    """A member_status event empties that member's queues and closes them (art. 8(2))."""
    hub = Hub()
    restricted = hub.subscribe(Reader("u1", _body("b"), is_handler=True))
    hub.publish([_event(1), _event(2)])
    hub.publish(
        [
            FeedEvent(
                seq=3,
                kind="member_status",
                item_id=None,
                member_id="b",
                audience=frozenset(),
                facts=None,
            )
        ]
    )
    queued = _drain(restricted.queue)
    assert len(queued) == 1 and isinstance(queued[0], Control)
    assert queued[0].reason == ACCESS_CHANGED


def _drain(queue: object) -> list[object]:
    import asyncio

    assert isinstance(queue, asyncio.Queue)
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


def test_a_connection_subscribing_after_shutdown_began_is_closed_at_once() -> None:
    """Shutdown waits for every stream to end: one still being set up when the
    server began to stop must not wait for events that will never come."""
    hub = Hub()
    early = hub.subscribe(Reader("u1", _body("a"), is_handler=True))
    hub.close_all(SHUTTING_DOWN)
    late = hub.subscribe(Reader("u2", _body("b"), is_handler=True))
    for subscription in (early, late):
        assert subscription.closed == SHUTTING_DOWN
        assert subscription.queue.get_nowait() == Control(
            member_id=subscription.reader.body.id, reason=SHUTTING_DOWN
        )
    hub.publish([_event(1)])
    assert late.queue.empty()
    assert hub.connections == 1  # the early one, until its handler unsubscribes
