"""The direct path: an idle connection is written to at publish time, and nothing else
changes: order, bounded buffering, too_slow, and decisions that take effect at once."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from aiohttp.http import WebSocketWriter

from broker.delivery.hub import ACCESS_CHANGED, TOO_SLOW, Hub
from broker.delivery.model import FeedEvent, websocket_text_frame
from broker.delivery.stream import Follow
from broker.domain import Reader
from broker.store.uow import Store
from tests.unit.delivery.test_delivery_hub import _body, _drain, _event


class Socket:
    """A connection's `write_now`: records frames, or refuses while backed up."""

    def __init__(self) -> None:
        self.frames: list[int] = []
        self.backed_up = False

    def write_now(self, event: FeedEvent) -> bool:
        if self.backed_up:
            return False
        self.frames.append(event.seq)
        return True


class Live:
    """A Follow in its live phase with a direct writer, as the WebSocket endpoint runs it."""

    def __init__(self, hub: Hub, member_id: str = "b", last: int = 0) -> None:
        self.socket = Socket()
        self.sent: list[int] = []  # what went through the queue and the sender
        self.follow = Follow(cast(Store, None), hub, Reader("u", _body(member_id), is_handler=True))
        self.follow.last = last
        self.task: asyncio.Task[str] | None = None

    async def send(self, event: FeedEvent) -> None:
        self.sent.append(event.seq)

    async def start(self) -> None:
        self.task = asyncio.create_task(
            self.follow.follow(self.send, write_now=self.socket.write_now)
        )
        await asyncio.sleep(0)  # until it waits on its empty queue

    async def settle(self) -> None:
        for _ in range(5):
            await asyncio.sleep(0)


@pytest.fixture
async def hub() -> AsyncIterator[Hub]:
    """A hub whose connections are all closed at the end."""
    hub = Hub()
    yield hub
    hub.close_all("test_over")
    await asyncio.sleep(0)


async def test_idle_connection_is_written_at_publish_time(hub: Hub) -> None:
    """No queue, no task hop: the frames are written by `publish` itself."""
    live = Live(hub)
    await live.start()
    hub.publish([_event(1), _event(2)])
    assert live.socket.frames == [1, 2]  # before the event loop ran anything
    assert live.follow.sent == 2 and live.follow.last == 2
    assert live.follow.subscription.queue.empty()


async def test_backed_up_socket_queues_in_order_until_the_sender_catches_up(hub: Hub) -> None:
    """Once one event is queued, later ones queue behind it, never overtaking it."""
    live = Live(hub)
    await live.start()
    live.socket.backed_up = True
    hub.publish([_event(1)])
    live.socket.backed_up = False
    hub.publish([_event(2)])  # the socket would take it, but 1 is still queued
    assert live.socket.frames == []
    await live.settle()
    assert live.sent == [1, 2]
    hub.publish([_event(3)])  # idle again: direct
    assert live.socket.frames == [3]


async def test_consumer_too_slow_for_its_bounded_queue_is_closed(hub: Hub) -> None:
    """A socket that stays backed up fills the queue, and the connection closes."""
    hub.queue_size = 2
    slow, fast = Live(hub), Live(hub)
    await slow.start()
    await fast.start()
    slow.socket.backed_up = True
    hub.publish([_event(n) for n in range(1, 5)])
    assert slow.follow.subscription.closed == TOO_SLOW
    assert fast.socket.frames == [1, 2, 3, 4]
    assert slow.task is not None
    assert await slow.task == TOO_SLOW
    assert slow.socket.frames == [] and slow.sent == []


async def test_restriction_in_the_same_batch_stops_earlier_events(hub: Hub) -> None:
    """A decision committed after an event but read with it still stops it (art. 8(2))."""
    live = Live(hub)
    await live.start()
    status = FeedEvent(
        seq=3, kind="member_status", item_id=None, member_id="b", audience=frozenset(), facts=None
    )
    hub.publish([_event(1), _event(2), status])
    assert live.socket.frames == []
    assert live.task is not None
    assert await live.task == ACCESS_CHANGED


async def test_withdrawal_drops_the_item_event_even_in_the_same_batch(hub: Hub) -> None:
    """A withdrawn item is never offered after the decision; the withdrawal itself is."""
    live = Live(hub)
    await live.start()
    withdrawn = dataclasses.replace(_event(2, kind="withdrawn"), item_id="item1")
    hub.publish([_event(1), withdrawn])
    assert live.socket.frames == [2]


async def test_direct_path_skips_what_was_replayed(hub: Hub) -> None:
    """Events at or before the cursor the replay reached are not sent twice."""
    live = Live(hub, last=2)
    await live.start()
    hub.publish([_event(1), _event(2), _event(3)])
    assert live.socket.frames == [3]


async def test_connection_that_stopped_following_is_not_written(hub: Hub) -> None:
    """After the sender returns, publishing neither writes nor queues."""
    live = Live(hub)
    await live.start()
    live.follow.subscription.close("client_closed")
    assert live.task is not None
    assert await live.task == "client_closed"
    hub.publish([_event(1)])
    assert live.socket.frames == []
    assert live.follow.subscription.deliver_now is None
    assert [type(m).__name__ for m in _drain(live.follow.subscription.queue)] == []


def test_unsubscribe_forgets_the_connection() -> None:
    """Subscriptions grouped by kind of reader are removed cleanly."""
    hub = Hub()
    one = hub.subscribe(Reader("u1", _body("b"), is_handler=True))
    two = hub.subscribe(Reader("u2", _body("b"), is_handler=False))
    assert hub.connections == 2
    hub.unsubscribe(one)
    hub.publish([_event(1)])
    assert [cast(FeedEvent, e).seq for e in _drain(two.queue)] == [1]
    hub.unsubscribe(two)
    assert hub.connections == 0 and not hub.has_subscribers


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_prebuilt_frame_is_what_aiohttp_sends(size: int) -> None:
    """The frame built once is byte for byte what `ws.send_str` writes uncompressed."""

    class Transport:
        def __init__(self) -> None:
            self.data = b""

        def is_closing(self) -> bool:
            return False

        def write(self, data: bytes) -> None:
            self.data += data

    transport = Transport()
    text = "é" * (size // 2) + "x" * (size % 2)
    WebSocketWriter(cast(Any, None), cast(Any, transport))._write_websocket_frame(
        text.encode(), 0x1, 0
    )
    assert websocket_text_frame(text) == transport.data
