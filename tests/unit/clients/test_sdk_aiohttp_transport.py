"""AiohttpTransport against an in-process aiohttp server on the loopback interface."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from clients.sdk import AiohttpTransport, CouncilClient, NotFound, TransportError


async def _echo(request: web.Request) -> web.Response:
    body = await request.json() if request.can_read_body else None
    return web.json_response(
        {
            "method": request.method,
            "raw_path": request.raw_path,
            "query": dict(request.query),
            "authorization": request.headers.get("Authorization"),
            "body": body,
        }
    )


async def _export(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/jsonl"})
    await response.prepare(request)
    for seq in range(1, 4):
        await response.write(f'{{"seq": {seq}}}\n'.encode())
    await response.write_eof()
    return response


async def _missing(request: web.Request) -> web.Response:
    return web.json_response(
        {"error": {"code": "not_found", "message": "no such item"}}, status=404
    )


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    """A loopback server that echoes requests and streams a small export."""
    app = web.Application()
    app.router.add_get("/v1/audit/export", _export)
    app.router.add_get("/v1/items/missing", _missing)
    app.router.add_route("*", "/{tail:.*}", _echo)
    test_server = TestServer(app)
    await test_server.start_server()
    yield test_server
    await test_server.close()


async def test_request_sends_json_params_and_headers(server: TestServer) -> None:
    """A request reaches the server with its method, JSON body, query and headers."""
    transport = AiohttpTransport(timeout=5)
    try:
        answer = await transport.request(
            "POST",
            str(server.make_url("/v1/items")),
            headers={"Authorization": "Bearer t0ken-value"},
            json={"title": "x"},
            params={"limit": "5"},
        )
    finally:
        await transport.aclose()
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json() == {
        "method": "POST",
        "raw_path": "/v1/items?limit=5",
        "query": {"limit": "5"},
        "authorization": "Bearer t0ken-value",
        "body": {"title": "x"},
    }


async def test_an_encoded_slash_in_an_id_stays_one_path_segment(server: TestServer) -> None:
    """An id containing '../' is sent percent-encoded, so it cannot walk to another endpoint."""
    async with CouncilClient(str(server.make_url("/")), "t0ken-value", timeout=5) as client:
        echoed = await client.feedback("../members")
        with pytest.raises(NotFound, match="no such item"):
            await client.get_item("missing")
    assert echoed["raw_path"] == "/v1/items/..%2Fmembers/feedback"


async def test_stream_reads_json_lines_as_they_come(server: TestServer) -> None:
    """audit_export over the real transport yields each streamed record."""
    async with CouncilClient(str(server.make_url("/")), "t0ken-value", timeout=5) as client:
        records = [record async for record in client.audit_export()]
    assert records == [{"seq": 1}, {"seq": 2}, {"seq": 3}]


async def test_stream_maps_an_error_status(server: TestServer) -> None:
    """A stream answered with 404 raises NotFound with the broker's message."""
    transport = AiohttpTransport(timeout=5)
    try:
        async with transport.stream(
            "GET", str(server.make_url("/v1/items/missing")), headers={}, params=None
        ) as stream:
            assert stream.status == 404
            assert (await stream.read()).json()["error"]["code"] == "not_found"
    finally:
        await transport.aclose()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_connection_refused_is_a_transport_error() -> None:
    """An unreachable broker raises TransportError naming the host, not an aiohttp error."""
    port = _closed_port()
    async with CouncilClient(f"http://127.0.0.1:{port}", "t0ken-value", timeout=5) as client:
        with pytest.raises(TransportError, match=f"127.0.0.1:{port}"):
            await client.health()
        with pytest.raises(TransportError):
            [record async for record in client.audit_export()]


async def test_a_shared_session_is_left_open(server: TestServer) -> None:
    """aclose() leaves a session the caller passed in open for the caller to close."""
    async with aiohttp.ClientSession() as session:
        transport = AiohttpTransport(session=session)
        answer = await transport.request(
            "GET", str(server.make_url("/healthz")), headers={}, json=None, params=None
        )
        await transport.aclose()
        assert answer.status == 200
        assert not session.closed
