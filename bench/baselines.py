"""The bare aiohttp servers every broker figure is compared with.

``python -m bench.baselines http --port P``: ``POST /v1/items`` reads and
parses the JSON body and answers 201 with an id: the least any HTTP handler
accepting the same request can do (the ingest baseline).

``python -m bench.baselines stream --port P``: ``GET /v1/stream`` upgrades to
a WebSocket; ``POST /v1/items`` answers 201 and then broadcasts the item as
one frame of the stream protocol, built once, to every connected client (the
fan-out baseline). No authentication, no storage, no policy.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
from collections.abc import Sequence
from datetime import UTC, datetime

from aiohttp import web
from ulid import ULID

__all__ = ["http_app", "main", "stream_app"]

Clients = set[web.WebSocketResponse]
_CLIENTS = web.AppKey("clients", Clients)
_TASKS = web.AppKey("tasks", set[asyncio.Task[None]])


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def http_app() -> web.Application:
    """Accept a JSON POST and answer 201: the ingest baseline."""
    numbers = itertools.count(1)

    async def submit(request: web.Request) -> web.Response:
        payload = await request.json()
        if not isinstance(payload, dict):
            raise web.HTTPUnprocessableEntity()
        return web.json_response({"id": str(ULID()), "version": next(numbers)}, status=201)

    app = web.Application(client_max_size=1024 * 1024)
    app.add_routes([web.get("/healthz", _healthz), web.post("/v1/items", submit)])
    return app


def stream_app() -> web.Application:
    """Broadcast each POSTed item to every WebSocket client: the fan-out baseline."""
    cursors = itertools.count(1)

    async def stream(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        clients = request.app[_CLIENTS]
        clients.add(ws)
        try:
            async for _ in ws:  # clients send nothing; this waits for the close
                pass
        finally:
            clients.discard(ws)
        return ws

    async def broadcast(clients: list[web.WebSocketResponse], frame: str) -> None:
        for ws in clients:
            if not ws.closed:
                await ws.send_str(frame)

    async def submit(request: web.Request) -> web.Response:
        payload = await request.json()
        item_id = str(ULID())
        frame = json.dumps(
            {
                "id": str(next(cursors)),
                "event": "item",
                "data": {
                    "id": item_id,
                    "title": payload["title"],
                    "kind": payload["kind"],
                    "tlp": payload["tlp"],
                    "confidence": payload["confidence"],
                    "created_at": datetime.now(UTC).isoformat(),
                },
            }
        )
        tasks = request.app[_TASKS]
        clients: Clients = request.app[_CLIENTS]
        task = asyncio.create_task(broadcast(list(clients), frame))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return web.json_response({"id": item_id, "version": 1}, status=201)

    async def close_clients(app: web.Application) -> None:
        clients: Clients = app[_CLIENTS]
        for ws in list(clients):
            await ws.close()

    app = web.Application(client_max_size=1024 * 1024)
    app[_CLIENTS] = set()
    app[_TASKS] = set()
    app.on_shutdown.append(close_clients)
    app.add_routes(
        [
            web.get("/healthz", _healthz),
            web.get("/v1/stream", stream),
            web.post("/v1/items", submit),
        ]
    )
    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Serve one baseline until SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m bench.baselines", description=__doc__)
    parser.add_argument("kind", choices=("http", "stream"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    app = http_app() if args.kind == "http" else stream_app()
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
