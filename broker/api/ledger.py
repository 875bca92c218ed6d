"""The contribution ledger (docs/api.md `GET /v1/ledger`, SPEC §4).

A thin handler: authenticate, call the service, turn its result into JSON
(`broker.api.views.ledger`), respond.
"""

from __future__ import annotations

from aiohttp import web

from broker.api.common import actor, operation, respond, services
from broker.api.obligations import TAG
from broker.api.views.ledger import ledger_json

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get("/v1/ledger")
@operation(
    "get",
    "/v1/ledger",
    "The contribution ledger for a period (2026-W47, 2026-11, "
    "2026-11-22 or current-week): all rows for the coordinator, one's own otherwise",
    tag=TAG,
    query=("period",),
)
async def ledger(request: web.Request) -> web.Response:
    """`GET /v1/ledger?period=`."""
    caller = await actor(request)
    period = request.query.get("period") or None
    return respond(ledger_json(await services(request).ledger.ledger(caller, period)))
