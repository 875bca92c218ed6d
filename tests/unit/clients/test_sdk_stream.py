"""CouncilClient.follow against a scripted broker: SSE parsing, resuming, closing."""

from __future__ import annotations

import json
from contextlib import aclosing
from typing import Any

import pytest
from client_fakes import BASE_URL, TOKEN

from clients.sdk import (
    CallableTransport,
    CouncilClient,
    Forbidden,
    Request,
    Response,
    StreamClosed,
    StreamEvent,
    TransportError,
)


def sse(*events: tuple[int, str, dict[str, Any]], closed: str | None = None) -> Response:
    """A `text/event-stream` body as the broker writes it, with a keepalive comment."""
    parts = [b": keepalive\n\n"]
    for seq, kind, data in events:
        frame = json.dumps({"id": str(seq), "event": kind, "data": data})
        parts.append(f"id: {seq}\r\nevent: {kind}\r\ndata: {frame}\r\n\r\n".encode())
    if closed is not None:
        parts.append(f"event: closed\ndata: {closed}\n\n".encode())
    return Response(200, {"content-type": "text/event-stream"}, b"".join(parts))


class Script:
    """Answers each stream request with the next scripted response (or raises it)."""

    def __init__(self, *answers: Response | Exception) -> None:
        self.answers = list(answers)
        self.cursors: list[str | None] = []

    def __call__(self, request: Request) -> Response:
        assert request.path == "/v1/stream"
        assert request.headers["Accept"] == "text/event-stream"
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        self.cursors.append(request.params.get("cursor"))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def client_for(script: Script) -> CouncilClient:
    # Chunks of 7 bytes split lines, fields and UTF-8 sequences anywhere.
    return CouncilClient(BASE_URL, TOKEN, transport=CallableTransport(script, chunk_size=7))


async def take(client: CouncilClient, count: int, cursor: str | None = None) -> list[StreamEvent]:
    received: list[StreamEvent] = []
    async with aclosing(client.follow(cursor, reconnects=2)) as events:
        async for event in events:
            received.append(event)
            if len(received) == count:
                break
    return received


async def test_events_are_parsed_across_chunk_boundaries() -> None:
    """Each event keeps its cursor, kind and metadata; keepalives are skipped."""
    script = Script(sse((1, "item", {"id": "I1", "title": "機"}), (2, "withdrawn", {"id": "I1"})))
    events = await take(client_for(script), 2)
    assert events == [
        StreamEvent("1", "item", {"id": "I1", "title": "機"}),
        StreamEvent("2", "withdrawn", {"id": "I1"}),
    ]
    assert script.cursors == [None]


async def test_a_stream_closed_as_too_slow_resumes_from_the_last_cursor_without_repeats() -> None:
    """After `too_slow` the client reconnects with its last cursor and drops what it had."""
    script = Script(
        sse((5, "item", {"id": "A"}), (6, "item", {"id": "B"}), closed="too_slow"),
        sse((6, "item", {"id": "B"}), (7, "item", {"id": "C"})),
    )
    events = await take(client_for(script), 3, cursor="4")
    assert [e.id for e in events] == ["5", "6", "7"]
    assert script.cursors == ["4", "6"]


async def test_a_dropped_connection_is_retried_then_resumed() -> None:
    """A transport failure is retried (after a short pause) from the last cursor."""
    script = Script(
        sse((1, "item", {"id": "A"})),  # ends without a reason: the connection dropped
        TransportError("cannot reach the broker"),
        sse((2, "item", {"id": "B"})),
    )
    events = await take(client_for(script), 2)
    assert [e.id for e in events] == ["1", "2"]
    assert script.cursors == [None, "1", "1"]


async def test_too_many_failures_in_a_row_raise() -> None:
    """After `reconnects` failed attempts in a row the TransportError reaches the caller."""
    script = Script(*(TransportError("down") for _ in range(3)))
    with pytest.raises(TransportError, match="down"):
        await take(client_for(script), 1)
    assert len(script.cursors) == 3


async def test_access_changed_ends_the_stream_for_good() -> None:
    """A restriction closes the stream; resuming would not help, so the client says why."""
    script = Script(sse((1, "item", {"id": "A"}), closed="access_changed"))
    client = client_for(script)
    received: list[StreamEvent] = []
    with pytest.raises(StreamClosed) as closed:
        async for event in client.follow():
            received.append(event)
    assert closed.value.code == "access_changed"
    assert [e.id for e in received] == ["1"]


async def test_an_error_status_is_raised_not_retried() -> None:
    """A refusal (here 403) is the caller's to handle: no reconnection."""
    script = Script(Response.from_json({"error": {"code": "forbidden", "message": "no"}}, 403))
    with pytest.raises(Forbidden):
        await take(client_for(script), 1)
    assert script.cursors == [None]
