"""`GET /v1/stream`: WebSocket, or Server-Sent Events with `Accept: text/event-stream`."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSCloseCode, web

from broker.api.common import actor, operation, seq_cursor, services, source_address
from broker.api.keys import HUB
from broker.delivery.hub import ACCESS_CHANGED
from broker.delivery.model import FeedEvent
from broker.delivery.stream import Follow, WriteNow
from broker.domain import Actor, AuditAction

__all__ = ["routes"]

routes = web.RouteTableDef()
TAG = "delivery"
_CLOSE_CODES = {
    "too_slow": 4008,
    "access_changed": 4403,
    "shutting_down": WSCloseCode.GOING_AWAY,
}
# How much a connection's socket may hold unsent before its events queue (and
# its sender waits for the client): the transports' default high-water mark.
_DIRECT_WRITE_LIMIT = 64 * 1024


def _cursor(request: web.Request) -> int | None:
    raw = request.query.get("cursor") or request.headers.get("Last-Event-ID")
    if not raw:
        return None
    return seq_cursor(raw)


@routes.get("/v1/stream")
@operation(
    "get",
    "/v1/stream",
    "Live events (WebSocket; SSE with Accept: text/event-stream): item, obligation, "
    "reminder, overdue, scope_changed, withdrawn, resolution, information_request, "
    "member_status; each with its cursor id",
    tag=TAG,
    query=("cursor",),
    responses={101: "WebSocket", 200: "text/event-stream"},
)
async def stream(request: web.Request) -> web.StreamResponse:
    """Replay from the cursor, then follow live events; opening and closing are audited."""
    caller = await actor(request)
    cursor = _cursor(request)
    wired = services(request)
    # A user holds at most `max_streams_per_user` streams on this replica (429).
    async with wired.throttle.stream(caller, source_address(request)):
        return await _stream(request, caller, cursor)


async def _stream(request: web.Request, caller: Actor, cursor: int | None) -> web.StreamResponse:
    wired = services(request)
    auditor = wired.auditor
    follow = Follow(wired.store, request.app[HUB], caller.reader, clock=wired.clock)
    await auditor.record(auditor.draft(caller, AuditAction.STREAM_OPEN, details={"cursor": cursor}))
    reason = "client_closed"
    try:
        # After subscribing: a change of rights from now on closes the connection.
        await follow.load_rights()
        if "text/event-stream" in request.headers.get("Accept", ""):
            response, reason = await _serve_sse(request, follow, cursor)
        else:
            response, reason = await _serve_websocket(request, follow, cursor)
        return response
    finally:
        follow.close()
        # Ended because the caller's rights changed: a denial, audited as one.
        denied = reason == ACCESS_CHANGED
        await auditor.record(
            auditor.draft(
                caller,
                AuditAction.STREAM_CLOSE,
                "denied" if denied else "allowed",
                reason=reason if denied else None,
                details={"sent": follow.sent, "reason": reason},
            )
        )


async def _serve_websocket(
    request: web.Request, follow: Follow, cursor: int | None
) -> tuple[web.StreamResponse, str]:
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)

    async def send(event: FeedEvent) -> None:
        await ws.send_str(event.text)

    async def watch_client() -> None:
        # Clients send nothing; reading notices when they go away.
        async for _ in ws:
            pass
        follow.subscription.close("client_closed")

    watcher = asyncio.create_task(watch_client())
    reason = "client_closed"
    try:
        await follow.replay(cursor, send)
        reason = await follow.follow(send, write_now=_direct_writer(request, ws))
    except (ConnectionResetError, RuntimeError):
        reason = "client_closed"
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        if not ws.closed:
            await ws.close(
                code=_CLOSE_CODES.get(reason, WSCloseCode.GOING_AWAY), message=reason.encode()
            )
    return ws, reason


def _direct_writer(request: web.Request, ws: web.WebSocketResponse) -> WriteNow | None:
    """Write an event's prebuilt frame straight to the socket, as `ws.send_str` would,
    while the socket keeps up; None when frames must be built per connection."""
    transport = request.transport
    if ws.compress or transport is None:
        return None  # permessage-deflate: each connection compresses with its own context

    def write_now(event: FeedEvent) -> bool:
        if ws.closed or transport.is_closing():
            return False  # never after a close frame
        if transport.get_write_buffer_size() > _DIRECT_WRITE_LIMIT:
            return False  # the client is behind: queue, bounded, until it catches up
        transport.write(event.websocket_frame)
        return True

    return write_now


async def _serve_sse(
    request: web.Request, follow: Follow, cursor: int | None
) -> tuple[web.StreamResponse, str]:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)

    async def send(event: FeedEvent) -> None:
        await response.write(
            f"id: {event.seq}\nevent: {event.kind}\ndata: {event.text}\n\n".encode()
        )

    async def keepalive() -> None:
        await response.write(b": keepalive\n\n")

    reason = "client_closed"
    try:
        await follow.replay(cursor, send)
        reason = await follow.follow(send, keepalive)
        await response.write(f"event: closed\ndata: {reason}\n\n".encode())
    except (ConnectionResetError, RuntimeError):
        reason = "client_closed"
    return response, reason
