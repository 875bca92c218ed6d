"""Webhook delivery reaches public targets only, asked again after DNS resolution,
and tells the member's admin nothing about the remote (broker.delivery.webhooks).

Every connection here is to 127.0.0.1; names are resolved by a fake DNS.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer

from broker.crypto import Envelope
from broker.delivery.webhooks import DELIVERY_FAILED, REFUSED_TARGET, WebhookDispatcher
from broker.services.keyring import Keys
from broker.store.uow import Store
from broker.store.webhooks_repo import DeliveryTarget
from broker.tlp import TargetAllowList


class FakeDns(AbstractResolver):
    """Every name resolves to 127.0.0.1: a name re-pointed inward after registration."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
        ]

    async def close(self) -> None:
        return None


class Receiver:
    """An endpoint inside the broker's network: records every request it gets."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.requests = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        return web.Response(status=self.status)


@pytest.fixture(params=[204, 401])
async def inside(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Receiver, int]]:
    """A receiver on 127.0.0.1, answering 204 or 401; and its port."""
    receiver = Receiver(request.param)
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    assert server.port is not None
    yield receiver, server.port
    await server.close()


def _dispatcher(allow: TargetAllowList | None = None) -> WebhookDispatcher:
    return WebhookDispatcher(
        store=cast(Store, None),
        keys=cast(Keys, None),
        clock=lambda: datetime(2026, 12, 1, tzinfo=UTC),
        poll_interval=timedelta(seconds=1),
        timeout=2.0,
        targets=allow,
        resolver=FakeDns(),
    )


def _hook(url: str) -> DeliveryTarget:
    return DeliveryTarget(
        id="hook1",
        member_id="power",
        url=url,
        secret=cast(Envelope, None),
        cursor=0,
        attempts=0,
        next_attempt_at=None,
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "rebound.example", "localhost"])
async def test_rule10_delivery_refuses_an_inward_target_without_connecting(
    inside: tuple[Receiver, int], host: str
) -> None:
    """SPEC §3 rule 10: at delivery time, after resolution, a target inside the
    broker's network is refused before any connection (a name registered while
    public and re-pointed inward since included); the admin is told
    `refused_target`, the same whether the port is open or what it would answer."""
    receiver, port = inside
    dispatcher = _dispatcher()
    async with dispatcher.session() as session:
        error = await dispatcher._post(session, _hook(f"http://{host}:{port}/hook"), "s", 1, "{}")
    assert error == REFUSED_TARGET
    assert receiver.requests == 0


async def test_rule10_an_allow_listed_target_is_delivered_and_failures_say_nothing_of_it(
    inside: tuple[Receiver, int],
) -> None:
    """SPEC §3 rule 10: the operator's allow-list lets a local target through; a
    refusal by the remote is reported as `delivery_failed`, never its status."""
    receiver, port = inside
    dispatcher = _dispatcher(TargetAllowList.parse(["127.0.0.1"]))
    async with dispatcher.session() as session:
        error = await dispatcher._post(
            session, _hook(f"http://127.0.0.1:{port}/hook"), "s", 1, "{}"
        )
        closed = await dispatcher._post(session, _hook("http://127.0.0.1:9/hook"), "s", 1, "{}")
    assert error == (None if receiver.status == 204 else DELIVERY_FAILED)
    assert receiver.requests == 1
    assert closed == DELIVERY_FAILED  # a closed port reads the same as a 401


async def test_rule10_a_redirect_is_not_followed_inward() -> None:
    """SPEC §3 rule 10: a target that redirects elsewhere is not followed, unchecked."""
    followed = Receiver(204)
    app = web.Application()
    app.router.add_post("/inner", followed.handle)

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(f"http://127.0.0.1:{request.url.port}/inner")

    app.router.add_post("/hook", redirect)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        dispatcher = _dispatcher(TargetAllowList.parse(["127.0.0.1"]))
        async with dispatcher.session() as session:
            url = f"http://127.0.0.1:{server.port}/hook"
            assert await dispatcher._post(session, _hook(url), "s", 1, "{}") == DELIVERY_FAILED
        assert followed.requests == 0
    finally:
        await server.close()
