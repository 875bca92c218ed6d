"""Member webhooks (issue: live delivery to member systems)."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field, StrictStr

from broker.api.common import actor, operation, parse, respond, services
from broker.api.models import Strict

routes = web.RouteTableDef()
TAG = "delivery"


class WebhookCreate(Strict):
    """`POST /v1/members/{id}/webhooks`."""

    url: Annotated[StrictStr, Field(min_length=8, max_length=2000)]


@routes.post("/v1/members/{id}/webhooks")
@operation(
    "post",
    "/v1/members/{id}/webhooks",
    "Register a webhook; its HMAC secret is shown once",
    tag=TAG,
    body=WebhookCreate,
    responses={201: "{id, url, secret}"},
)
async def create(request: web.Request) -> web.Response:
    caller = await actor(request)
    body = await parse(request, WebhookCreate)
    hook = await services(request).webhooks.register(caller, request.match_info["id"], body.url)
    return respond(hook, 201)


@routes.get("/v1/members/{id}/webhooks")
@operation(
    "get",
    "/v1/members/{id}/webhooks",
    "Webhooks with failures and dead letters (member admin)",
    tag=TAG,
)
async def list_webhooks(request: web.Request) -> web.Response:
    caller = await actor(request)
    hooks = await services(request).webhooks.list(caller, request.match_info["id"])
    return respond({"items": hooks, "next_cursor": None})


@routes.delete("/v1/members/{id}/webhooks/{webhook_id}")
@operation("delete", "/v1/members/{id}/webhooks/{webhook_id}", "Stop a webhook", tag=TAG)
async def delete(request: web.Request) -> web.Response:
    caller = await actor(request)
    result = await services(request).webhooks.remove(
        caller, request.match_info["id"], request.match_info["webhook_id"]
    )
    return respond(result)
