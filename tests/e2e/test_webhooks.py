"""Member webhooks: signed deliveries, backoff retries, dead letters for the admin."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from broker.delivery.webhooks import BACKOFF_SECONDS, MAX_ATTEMPTS
from clients.sdk import Forbidden
from tests.conftest import Broker
from tests.council import Council, draft, make_council


@dataclass
class Receiver:
    """A member's SIEM: records deliveries, fails while told to."""

    failing: bool = False
    received: list[dict[str, Any]] = field(default_factory=list)
    attempted: list[str] = field(default_factory=list)  # event ids, one per POST

    def attempts(self, event_id: str) -> int:
        """How many times one event was POSTed."""
        return self.attempted.count(event_id)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.attempted.append(request.headers["X-Council-Event-Id"])
        if self.failing:
            return web.Response(status=503)
        self.received.append(
            {"body": body, "headers": dict(request.headers), "event": json.loads(body)}
        )
        return web.Response(status=204)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    """A webhook receiver on a real socket."""
    sink = Receiver()
    app = web.Application()
    app.router.add_post("/hook", sink.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield sink, str(server.make_url("/hook"))
    await server.close()


def _verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    parts = dict(p.split("=", 1) for p in headers["X-Council-Signature"].split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(parts["v1"], expected.hexdigest())


async def _register(council: Council, url: str) -> dict[str, Any]:
    return await council.vendor_b.admin._json(
        "POST", f"/v1/members/{council.vendor_b.id}/webhooks", json={"url": url}
    )


async def _eventually(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    # The broker's own dispatcher runs in the background: wait, bounded, for its effect.
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_deliveries_are_signed_and_hide_what_a_system_may_not_see(
    broker: Broker, receiver: tuple[Receiver, str]
) -> None:
    """Each event the member may see arrives once, HMAC-signed; secret items never go
    to a webhook, which is no registered handler (art. 18(4))."""
    council = await make_council(broker)
    sink, url = receiver
    hook = await _register(council, url)
    assert len(hook["secret"]) >= 32
    secret = await council.vendor_a.handler.submit(draft(title="secret", secret=True))
    plain = await council.vendor_a.handler.submit(draft(title="plain"))

    def items() -> list[dict[str, Any]]:
        return [r for r in sink.received if r["event"]["event"] == "item"]

    await _eventually(lambda: len(items()) >= 1, "the plain item's delivery")
    marker = await council.vendor_a.handler.submit(draft(title="marker"))
    await _eventually(lambda: marker.id in json.dumps([r["event"] for r in items()]), "marker")
    items_seen = [r["event"]["data"]["id"] for r in items()]
    assert items_seen == [plain.id, marker.id]  # once each, in order
    assert secret.id not in json.dumps([r["event"] for r in sink.received])
    for delivery in sink.received:
        assert _verify(hook["secret"], delivery["headers"], delivery["body"])
        assert delivery["headers"]["X-Council-Event-Id"] == delivery["event"]["id"]
    seqs = [r["event"]["id"] for r in sink.received]
    assert len(seqs) == len(set(seqs))  # nothing twice


async def test_failures_back_off_then_dead_letter_for_the_admin(
    broker: Broker, receiver: tuple[Receiver, str]
) -> None:
    """A failing receiver is retried with growing delays, then the event is dead-lettered,
    shown to the member's admin, and later events still flow."""
    council = await make_council(broker)
    sink, url = receiver
    await _register(council, url)
    sink.failing = True
    lost = await council.vendor_a.handler.submit(draft(title="lost"))
    await _eventually(lambda: bool(sink.attempted), "the first attempt")
    first = sink.attempted[0]  # the item event comes before the obligations it creates

    async def recorded() -> dict[str, Any]:
        # The receiver sees an attempt before the broker records its failure: wait for both.
        for _ in range(250):
            hooks = await council.vendor_b.admin._json(
                "GET", f"/v1/members/{council.vendor_b.id}/webhooks"
            )
            hook: dict[str, Any] = hooks["items"][0]
            if hook["failing_attempts"] == sink.attempts(first) or hook["dead_letters"]:
                return hook
            await asyncio.sleep(0.02)
        raise AssertionError("the broker never recorded the failed attempt")

    for attempt in range(2, MAX_ATTEMPTS + 1):
        await recorded()
        # Each retry waits for its backoff on the broker's clock, never sooner.
        broker.clock.advance(seconds=BACKOFF_SECONDS[attempt - 2] - 0.5)
        await asyncio.sleep(0.2)
        assert sink.attempts(first) == attempt - 1
        broker.clock.advance(seconds=1)
        await _eventually(lambda n=attempt: sink.attempts(first) == n, f"attempt {attempt}")
    dead = (await recorded())["dead_letters"]
    assert dead and dead[0] == {**dead[0], "event_id": first, "attempts": MAX_ATTEMPTS}
    sink.failing = False
    broker.clock.advance(seconds=BACKOFF_SECONDS[0] + 1)  # past the next event's first backoff
    after = await council.vendor_a.handler.submit(draft(title="after"))

    def ids() -> list[str]:
        return [r["event"]["data"]["id"] for r in sink.received if r["event"]["event"] == "item"]

    await _eventually(lambda: after.id in ids(), "the next event after the dead letter")
    assert lost.id not in ids()
    with pytest.raises(Forbidden):
        await council.vendor_b.plain._json("GET", f"/v1/members/{council.vendor_b.id}/webhooks")


async def test_a_silent_webhook_delays_only_itself(
    broker: Broker, receiver: tuple[Receiver, str]
) -> None:
    """Charter art. 15 (timely warning for every member): three webhooks of one member
    pointing at an endpoint that never answers do not hold up another member's
    healthy webhook; each is delivered concurrently, bounded per webhook."""
    council = await make_council(broker)
    release = asyncio.Event()
    silent_hits: list[str] = []

    async def silent(request: web.Request) -> web.Response:
        silent_hits.append(request.headers["X-Council-Event-Id"])
        await release.wait()  # never answers while the test runs
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/silent", silent)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        for _ in range(3):
            await _register(council, str(server.make_url("/silent")))
        sink, url = receiver
        await council.vendor_c.admin._json(
            "POST", f"/v1/members/{council.vendor_c.id}/webhooks", json={"url": url}
        )
        notice = await council.vendor_a.handler.submit(
            draft(kind="notice", title="meeting", scope={"groups": ["all_members"]})
        )

        def healthy_got_it() -> bool:
            return notice.id in json.dumps([r["event"] for r in sink.received])

        await _eventually(lambda: len(silent_hits) >= 3, "the silent webhooks' first POSTs")
        # Well inside one silent POST's 10 s timeout: nobody waited for them.
        await _eventually(healthy_got_it, "the healthy webhook's delivery", timeout=3.0)
    finally:
        release.set()
        await server.close()
