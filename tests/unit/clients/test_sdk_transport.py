"""The transport seam: Response, CallableTransport and streaming without sockets."""

from __future__ import annotations

import pytest

from clients.sdk import (
    CallableTransport,
    Request,
    Response,
    StreamingTransport,
    Transport,
)


def test_response_header_names_are_case_insensitive() -> None:
    """Header names are stored lower-cased, whatever spelling the server used."""
    response = Response(200, {"Content-Type": "application/json", "X-Request-ID": "r1"})
    assert response.headers == {"content-type": "application/json", "x-request-id": "r1"}


def test_response_json_decodes_the_body() -> None:
    """json() decodes the body, and an empty body is None."""
    assert Response.from_json({"a": [1, 2]}).json() == {"a": [1, 2]}
    assert Response(204).json() is None


def test_response_json_rejects_a_body_that_is_not_json() -> None:
    """json() raises ValueError on a body that is not JSON."""
    with pytest.raises(ValueError):
        Response(200, body=b"<html>").json()


def test_from_json_lines_writes_one_record_per_line() -> None:
    """from_json_lines builds a JSON Lines body with a trailing newline."""
    response = Response.from_json_lines([{"seq": 1}, {"seq": 2}])
    assert response.body == b'{"seq": 1}\n{"seq": 2}\n'
    assert response.headers["content-type"] == "application/jsonl"


async def test_callable_transport_passes_the_request_and_records_it() -> None:
    """The handler sees method, URL, headers, JSON and params, and the request is recorded."""
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response.from_json({"ok": True}, 201)

    transport = CallableTransport(handler)
    answer = await transport.request(
        "POST",
        "https://broker.test/v1/items?x=1",
        headers={"A": "b"},
        json={"k": "v"},
        params={"limit": "5"},
    )
    assert answer.status == 201
    assert transport.requests == seen
    request = seen[0]
    assert (request.method, request.path) == ("POST", "/v1/items")
    assert request.headers == {"A": "b"}
    assert request.json == {"k": "v"}
    assert request.params == {"limit": "5"}


async def test_callable_transport_awaits_an_async_handler() -> None:
    """An async handler works the same as a plain one."""

    async def handler(request: Request) -> Response:
        return Response.from_json({"path": request.path})

    transport = CallableTransport(handler)
    answer = await transport.request("GET", "https://b.test/x", headers={}, json=None, params=None)
    assert answer.json() == {"path": "/x"}


async def test_callable_transport_refuses_a_handler_that_returns_something_else() -> None:
    """A handler that forgets to return a Response fails loudly, not later."""
    transport = CallableTransport(lambda request: {"oops": 1})  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="not Response"):
        await transport.request("GET", "https://b.test/", headers={}, json=None, params=None)


async def test_callable_transport_streams_in_chunks_of_the_given_size() -> None:
    """stream() hands the body over chunk_size bytes at a time."""
    transport = CallableTransport(lambda request: Response(200, body=b"abcdefgh"), chunk_size=3)
    async with transport.stream("GET", "https://b.test/", headers={}, params=None) as stream:
        assert stream.status == 200
        chunks = [chunk async for chunk in stream.aiter_bytes()]
    assert chunks == [b"abc", b"def", b"gh"]


async def test_stream_read_collects_the_whole_body() -> None:
    """StreamResponse.read() returns a complete Response."""
    transport = CallableTransport(lambda request: Response(404, {"X": "y"}, b"gone"), chunk_size=1)
    async with transport.stream("GET", "https://b.test/", headers={}, params=None) as stream:
        whole = await stream.read()
    assert (whole.status, whole.headers, whole.body) == (404, {"x": "y"}, b"gone")


def test_callable_transport_satisfies_both_protocols() -> None:
    """CallableTransport is a Transport and a StreamingTransport."""
    transport: Transport = CallableTransport(lambda request: Response(200))
    assert isinstance(transport, StreamingTransport)
