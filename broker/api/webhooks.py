"""Member webhooks (issue: live delivery to member systems)."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field, StrictStr

from broker.api.common import actor, operation, parse, respond, services
from broker.api.models import Strict
from broker.api.views.webhooks import registration_view, removed_view, webhook_view

__all__ = ["WebhookCreate", "routes"]

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
    """Register a webhook for the member (its admins); the secret is in this answer only."""
    caller = await actor(request)
    body = await parse(request, WebhookCreate)
    hook = await services(request).webhooks.register(caller, request.match_info["id"], body.url)
    return respond(registration_view(hook), 201)


@routes.get("/v1/members/{id}/webhooks")
@operation(
    "get",
    "/v1/members/{id}/webhooks",
    "Webhooks with failures and dead letters (member admin)",
    tag=TAG,
)
async def list_webhooks(request: web.Request) -> web.Response:
    """The member's webhooks with their failures and dead letters (its admins)."""
    caller = await actor(request)
    hooks = await services(request).webhooks.list(caller, request.match_info["id"])
    return respond({"items": [webhook_view(h) for h in hooks], "next_cursor": None})


@routes.delete("/v1/members/{id}/webhooks/{webhook_id}")
@operation("delete", "/v1/members/{id}/webhooks/{webhook_id}", "Stop a webhook", tag=TAG)
async def delete(request: web.Request) -> web.Response:
    """Stop delivering to one of the member's webhooks (its admins)."""
    caller = await actor(request)
    webhook_id = request.match_info["webhook_id"]
    await services(request).webhooks.remove(caller, request.match_info["id"], webhook_id)
    return respond(removed_view(webhook_id))
