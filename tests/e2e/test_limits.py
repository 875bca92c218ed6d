"""The broker's limits over real HTTP: failed sign-ins, token rates, open streams,
header and body sizes, slow clients (README, "Limits").

The brokers here trust 127.0.0.1 as a reverse proxy, so a test names the
client's address in X-Forwarded-For; the clock is the manual one, so a
bucket refills only when the test moves time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from tests.conftest import Broker

FAILURES = 5
BURST = 40


@pytest.fixture
def broker_settings() -> dict[str, Any]:
    """Small limits, so a test reaches each in a few requests."""
    return {
        "auth_failures_per_minute": FAILURES,
        "token_requests_per_second": 1.0,
        "token_burst": BURST,
        "max_streams_per_user": 2,
        "trusted_proxies": ["127.0.0.1"],
        "idle_timeout": timedelta(seconds=0.5),
        "body_timeout": timedelta(seconds=0.5),
        "max_header_bytes": 2048,
        "max_headers": 20,
    }


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client (status codes and headers as they are)."""
    async with aiohttp.ClientSession() as session:
        yield session


def bearer(token: str, source: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if source is not None:
        headers["X-Forwarded-For"] = source
    return headers


async def get(
    http: aiohttp.ClientSession, broker: Broker, path: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], Any]:
    async with http.get(broker.url + path, headers=headers) as response:
        return response.status, dict(response.headers), await response.json()


async def rate_limited_events(broker: Broker) -> list[dict[str, Any]]:
    page = await broker.admin.audit(action="request.rate_limited")
    return [event.model_dump(mode="json") for event in page.items]


async def new_user(broker: Broker, name: str) -> tuple[str, str]:
    """A coordinator user: (user id, token)."""
    user, token = await broker.admin.create_user(broker.coordinator_id, name, "member_user")
    return user.id, token


async def test_failed_sign_ins_from_one_address_get_429_with_retry_after(
    broker: Broker, http: aiohttp.ClientSession
) -> None:
    """Past the threshold an address is answered 429 + Retry-After, valid token or not,
    until it waits; other addresses are counted apart; one audit event, no token in it."""
    bad = "cbt_" + "x" * 43
    attacker = "198.51.100.7"
    for _ in range(FAILURES):
        status, _, _ = await get(http, broker, "/v1/inbox", bearer(bad, attacker))
        assert status == 401
    for _ in range(3):
        status, headers, body = await get(http, broker, "/v1/inbox", bearer(bad, attacker))
        assert status == 429 and body["error"]["code"] == "rate_limited"
        # 5 a minute: one more attempt every 12 s.
        assert headers["Retry-After"] == "12"
    _, good_token = await new_user(broker, "Staff")
    status, _, _ = await get(http, broker, "/v1/inbox", bearer(good_token, attacker))
    assert status == 429  # the address is throttled, whoever signs in from it
    status, _, _ = await get(http, broker, "/v1/inbox", bearer(bad, "198.51.100.8"))
    assert status == 401  # a neighbour is counted on its own
    assert (await get(http, broker, "/healthz", bearer(bad, attacker)))[0] == 200

    broker.clock.advance(seconds=12)
    status, _, _ = await get(http, broker, "/v1/inbox", bearer(good_token, attacker))
    assert status == 200

    events = await rate_limited_events(broker)
    assert len(events) == 1, events  # the flood is logged; its first refusal audited
    assert events[0]["outcome"] == "denied"
    assert events[0]["details"]["limit"] == "auth_failures_address"
    assert events[0]["details"]["address"] == attacker
    assert bad not in json.dumps(events)


async def test_failed_sign_ins_are_counted_per_claimed_user_across_addresses(
    broker: Broker, http: aiohttp.ClientSession
) -> None:
    """A revoked token names its user: tried from many addresses, that user is
    throttled (429) while a fresh address with another bad token still gets 401."""
    user_id, token = await new_user(broker, "Leaver")
    await broker.admin.revoke_user(broker.coordinator_id, user_id)
    for n in range(FAILURES):
        status, _, _ = await get(http, broker, "/v1/inbox", bearer(token, f"203.0.113.{n}"))
        assert status == 401
    status, headers, _ = await get(http, broker, "/v1/inbox", bearer(token, "203.0.113.99"))
    assert status == 429 and int(headers["Retry-After"]) >= 1
    status, _, _ = await get(http, broker, "/v1/inbox", bearer("cbt_unknown", "203.0.113.99"))
    assert status == 401

    events = await rate_limited_events(broker)
    assert [e["details"]["limit"] for e in events] == ["auth_failures_user"]
    assert events[0]["details"]["user"] == user_id
    assert token not in json.dumps(events)


async def test_a_token_over_its_request_rate_gets_429_until_it_refills(
    broker: Broker, http: aiohttp.ClientSession
) -> None:
    """The burst passes, the next request is 429 with Retry-After 1; other tokens are
    not affected; a second later one more passes."""
    user_id, token = await new_user(broker, "Scraper")
    _, other = await new_user(broker, "Neighbour")
    for _ in range(BURST):
        assert (await get(http, broker, "/v1/inbox", bearer(token)))[0] == 200
    for _ in range(3):
        status, headers, body = await get(http, broker, "/v1/inbox", bearer(token))
        assert status == 429 and headers["Retry-After"] == "1"
        assert "token" in body["error"]["message"]
    assert (await get(http, broker, "/v1/inbox", bearer(other)))[0] == 200
    broker.clock.advance(seconds=1)
    assert (await get(http, broker, "/v1/inbox", bearer(token)))[0] == 200
    assert (await get(http, broker, "/v1/inbox", bearer(token)))[0] == 429

    events = await rate_limited_events(broker)
    # One event per episode: the first refusal, then the one after the refill.
    assert [(e["actor_user_id"], e["details"]["limit"]) for e in events] == [
        (user_id, "token_rate"),
        (user_id, "token_rate"),
    ]
    assert token not in json.dumps(events)


async def test_a_user_holds_at_most_the_cap_of_open_streams(
    broker: Broker, http: aiohttp.ClientSession
) -> None:
    """The third concurrent stream of a user is refused 429; another user may open
    one; closing a stream frees its slot."""
    _, token = await new_user(broker, "Watcher")
    _, other = await new_user(broker, "Other watcher")
    url = broker.url + "/v1/stream"
    first = await http.ws_connect(url, headers=bearer(token))
    second = await http.ws_connect(url, headers=bearer(token))
    try:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url, headers=bearer(token))
        assert refused.value.status == 429
        assert refused.value.headers is not None
        assert refused.value.headers["Retry-After"] == "5"
        async with http.get(
            url, headers={**bearer(token), "Accept": "text/event-stream"}
        ) as response:
            assert response.status == 429
        third_party = await http.ws_connect(url, headers=bearer(other))
        await third_party.close()
        await first.close()
        async with asyncio.timeout(10):
            while True:
                with contextlib.suppress(aiohttp.WSServerHandshakeError):
                    again = await http.ws_connect(url, headers=bearer(token))
                    await again.close()
                    break
                await asyncio.sleep(0.05)
    finally:
        await first.close()
        await second.close()
    events = await rate_limited_events(broker)
    # Two refusals (WebSocket, then SSE) before a stream opened again: one event.
    assert [e["details"]["limit"] for e in events] == ["streams_per_user"]


async def raw_exchange(broker: Broker, data: bytes, *, wait: float = 5.0) -> bytes:
    """Send `data` on a fresh connection and read until the server closes it."""
    where = urlsplit(broker.url)
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(wait):
            return await reader.read()
    finally:
        writer.close()


async def test_a_header_line_over_the_limit_is_refused(broker: Broker) -> None:
    """A header longer than `max_header_bytes`, or too many headers: 400, nothing served."""
    long_line = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 3000 + b"\r\n\r\n"
    answer = await raw_exchange(broker, long_line)
    assert answer.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request"), answer[:80]
    many = b"".join(b"X-H%d: v\r\n" % n for n in range(30))
    answer = await raw_exchange(broker, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert answer.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request"), answer[:80]
    fine = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert (await raw_exchange(broker, fine)).startswith(b"HTTP/1.1 200")


async def test_a_body_that_does_not_arrive_in_time_gets_408(broker: Broker) -> None:
    """A client that announces a body and sends a little of it is answered 408 after
    `body_timeout`, with the JSON error body."""
    head = (
        b"POST /v1/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + broker.admin_token.encode() + b"\r\n"
        b'Content-Length: 400\r\nConnection: close\r\n\r\n{"kind": '
    )
    where = urlsplit(broker.url)
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        writer.write(head)
        async with asyncio.timeout(5):
            status = await reader.readline()
            headers = (await reader.readuntil(b"\r\n\r\n")).decode()
            length = int(headers.lower().split("content-length: ")[1].split("\r\n")[0])
            body = json.loads(await reader.readexactly(length))
    finally:
        writer.close()
    assert status.startswith(b"HTTP/1.1 408"), status
    assert body["error"]["code"] == "timeout"
    assert loop.time() - started < 3.0


async def test_a_client_that_dribbles_its_headers_is_cut_after_the_idle_timeout(
    broker: Broker,
) -> None:
    """Slowloris: one byte of a header every 50 ms never completes a request; the
    broker closes the connection once `idle_timeout` (0.5 s here) has passed, answering
    nothing (well before the header would reach any size limit)."""
    where = urlsplit(broker.url)
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    loop = asyncio.get_running_loop()
    started = loop.time()
    closed_after = None
    answered = b""
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        for _ in range(200):  # up to 10 s of dribbling, 200 bytes
            try:
                writer.write(b"y")
                await writer.drain()
            except ConnectionError:
                closed_after = loop.time() - started
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.05):
                    answered = await reader.read(100)
                    closed_after = loop.time() - started
                    break
    finally:
        writer.close()
    assert closed_after is not None, "the dribbling client was never cut"
    assert answered == b"", answered
    assert 0.4 <= closed_after < 3.0, closed_after
