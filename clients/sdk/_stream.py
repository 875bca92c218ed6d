"""Following the broker's live stream (docs/api.md `GET /v1/stream`) as Server-Sent Events.

The broker sends each event as ``id: <cursor>``, ``event: <kind>`` and one
``data:`` line holding the frame ``{"id", "event", "data"}``; when it ends a
stream it says why in a last ``event: closed`` whose data is the reason.
Delivery is at-least-once: a client that resumes from the last id it saw
gets everything after it, in order, and drops repeats by id.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from clients.sdk._errors import CouncilError, UnexpectedResponse

__all__ = ["RESUMABLE", "StreamClosed", "StreamEvent", "server_sent_events", "stream_event"]

# Reasons the broker ends a stream after which resuming from the cursor is right:
# the client fell too far behind, or the broker is restarting.
RESUMABLE = frozenset({"too_slow", "shutting_down"})


@dataclass(frozen=True)
class StreamEvent:
    """One event from the stream: ``id`` is its cursor, ``event`` its kind
    (``item``, ``obligation``, ``reminder``, ``scope_changed``, ``withdrawn``, ...),
    ``data`` its metadata (never content: open items with ``get_item``)."""

    id: str
    event: str
    data: dict[str, Any] = field(default_factory=dict)


class StreamClosed(CouncilError):
    """The broker ended the stream for a reason resuming cannot fix (``code``),
    such as ``access_changed`` when the member's access was restricted."""

    def __init__(self, reason: str) -> None:
        super().__init__(0, reason, f"the broker closed the stream: {reason}")


@dataclass(frozen=True)
class _Message:
    id: str | None
    event: str
    data: str


async def server_sent_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[_Message]:
    """The messages of a ``text/event-stream`` body (WHATWG HTML §9.2), as they arrive."""
    buffer = b""
    fields: dict[str, str] = {}
    async for chunk in chunks:
        buffer += chunk
        while (end := buffer.find(b"\n")) >= 0:
            line, buffer = buffer[:end].decode("utf-8").rstrip("\r"), buffer[end + 1 :]
            if not line:
                if "data" in fields or "event" in fields:
                    yield _Message(
                        fields.get("id"), fields.get("event", "message"), fields.get("data", "")
                    )
                fields = {}
            elif not line.startswith(":"):  # ":" starts a comment (the keepalives)
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                fields[name] = (
                    f"{fields[name]}\n{value}" if name == "data" and name in fields else value
                )


def stream_event(message: _Message) -> StreamEvent:
    """The event a message carries; UnexpectedResponse if it is not the broker's frame."""
    try:
        frame = json.loads(message.data)
    except ValueError as exc:
        raise UnexpectedResponse(200, "unexpected_response", "a stream event is not JSON") from exc
    if message.id is None or not isinstance(frame, dict) or not isinstance(frame.get("data"), dict):
        raise UnexpectedResponse(200, "unexpected_response", "a stream event has no id or data")
    return StreamEvent(message.id, message.event, frame["data"])
