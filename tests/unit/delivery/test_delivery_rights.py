"""Open connections follow every change of their user's rights (SPEC §3 rules 3, 7):
an announced change closes exactly the connections it concerns, and a change that
comes with time (a handler registration ending) closes the connection when it
falls due, with nothing sent from that moment on either path."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import cast

from broker import tlp
from broker.delivery.hub import ACCESS_CHANGED, Hub
from broker.delivery.model import Control, FeedEvent
from broker.delivery.stream import Follow
from broker.domain import EventKind, Reader
from broker.domain.members import HandlerRegistration
from broker.store.uow import Store
from tests.unit.delivery.test_delivery_direct import Socket
from tests.unit.delivery.test_delivery_hub import _body, _drain, _event

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _user_access(seq: int, member_id: str, user_id: str) -> FeedEvent:
    return FeedEvent(
        seq=seq,
        kind=EventKind.USER_ACCESS,
        item_id=None,
        member_id=member_id,
        audience=frozenset(),
        facts=None,
        payload={"user_id": user_id},
    )


def _registration(
    user_id: str, start: datetime, end: datetime | None = None
) -> HandlerRegistration:
    return HandlerRegistration(
        id=f"h-{user_id}-{start:%H%M}",
        member_id="b",
        user_id=user_id,
        effective_from=start,
        effective_until=end,
        created_at=start,
    )


def test_rule3_a_change_of_one_users_rights_closes_only_that_users_connections() -> None:
    """SPEC §3 rules 3, 7: a `user_access` event (revoked, handler removed) empties and
    closes that user's queues at once; its colleagues' connections go on."""
    hub = Hub()
    changed = hub.subscribe(Reader("u1", _body("b"), is_handler=True))
    colleague = hub.subscribe(Reader("u2", _body("b"), is_handler=True))
    hub.publish([_event(1)])
    hub.publish([_user_access(2, "b", "u1"), _event(3)])
    queued = _drain(changed.queue)
    assert len(queued) == 1 and isinstance(queued[0], Control)
    assert queued[0].reason == ACCESS_CHANGED
    assert [e.seq for e in _drain(colleague.queue) if isinstance(e, FeedEvent)] == [1, 3]


def test_rule3_a_user_change_read_without_its_payload_closes_every_user_of_the_member() -> None:
    """SPEC §3 rule 7: not knowing which user changed, the hub closes them all (safe)."""
    hub = Hub()
    one = hub.subscribe(Reader("u1", _body("b")))
    other = hub.subscribe(Reader("u2", _body("b")))
    elsewhere = hub.subscribe(Reader("u3", _body("a")))
    bare = FeedEvent(
        seq=1, kind=EventKind.USER_ACCESS, item_id=None, member_id="b",
        audience=frozenset(), facts=None,
    )  # fmt: skip
    hub.note([bare])
    assert one.closed == other.closed == ACCESS_CHANGED
    assert elsewhere.closed is None


def test_rule3_rights_until_is_the_next_start_or_end_of_the_users_registrations() -> None:
    """SPEC §3 rule 3, art. 6(6), 6(8): a handler's connection lasts until its
    registration ends; a non-handler's until one of its registrations starts; a
    revoked user's, a lost handler's or an expired token's not at all."""
    handler = Reader("u1", _body("b"), is_handler=True)
    plain = Reader("u2", _body("b"))
    later = T0 + timedelta(hours=2)
    regs = [
        _registration("u1", T0 - timedelta(days=1), later),
        _registration("u2", T0 + timedelta(hours=1)),
        _registration("u3", T0 - timedelta(days=1), T0 + timedelta(minutes=1)),
    ]
    assert tlp.rights_until(handler, now=T0, revoked=False, registrations=regs) == later
    assert tlp.rights_until(plain, now=T0, revoked=False, registrations=regs) == T0 + timedelta(
        hours=1
    )
    assert tlp.rights_until(handler, now=T0, revoked=True, registrations=regs) == T0
    assert tlp.rights_until(handler, now=later, revoked=False, registrations=regs) == later
    assert tlp.rights_until(plain, now=T0, revoked=False, registrations=[]) is None
    token_end = T0 + timedelta(minutes=30)
    assert (
        tlp.rights_until(
            handler, now=T0, revoked=False, registrations=regs, token_expires_at=token_end
        )
        == token_end
    )
    assert tlp.may_keep_stream(later, T0) and not tlp.may_keep_stream(later, later)
    assert tlp.may_keep_stream(None, later)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def test_rule3_a_handler_registration_ending_while_connected_ends_the_stream() -> None:
    """SPEC §3 rules 3, 7, art. 18(4): once the registration's `effective_until` passes,
    the connection is sent nothing more, directly or queued, and closes."""
    hub = Hub()
    clock = Clock()
    socket = Socket()
    sent: list[int] = []
    follow = Follow(cast(Store, None), hub, Reader("u1", _body("b"), is_handler=True), clock=clock)
    follow.rights_until = T0 + timedelta(hours=1)

    async def send(event: FeedEvent) -> None:
        sent.append(event.seq)

    task = asyncio.create_task(follow.follow(send, write_now=socket.write_now))
    await asyncio.sleep(0)
    hub.publish([_event(1, secret=True)])
    assert socket.frames == [1]
    clock.now = T0 + timedelta(hours=1)
    hub.publish([_event(2, secret=True)])
    socket.backed_up = True
    hub.publish([_event(3, secret=True)])
    assert await asyncio.wait_for(task, 1) == ACCESS_CHANGED
    assert socket.frames == [1] and sent == []
    follow.close()


async def test_rule3_a_connection_closes_on_time_with_no_event_to_notice_it() -> None:
    """SPEC §3 rule 7: the connection ends when its rights lapse even if nothing is sent."""
    hub = Hub()
    clock = Clock()
    follow = Follow(cast(Store, None), hub, Reader("u1", _body("b"), is_handler=True), clock=clock)
    follow.rights_until = T0 + timedelta(milliseconds=50)

    async def send(event: FeedEvent) -> None:
        raise AssertionError("nothing to send")

    task = asyncio.create_task(follow.follow(send))
    await asyncio.sleep(0.01)
    clock.now = T0 + timedelta(seconds=1)  # the timer finds the rights lapsed
    assert await asyncio.wait_for(task, 2) == ACCESS_CHANGED
    follow.close()
