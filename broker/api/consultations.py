"""Private consultations (docs/api.md "Task force", charter art. 16(3)).

Thin handlers: authenticate, parse, call the service, turn its result into
JSON (`broker.api.views.consultations`), respond.
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field, StrictBool, StrictStr

from broker.api.common import actor, operation, page_params, parse, respond, services
from broker.api.models import Strict
from broker.api.obligations import TAG
from broker.api.views.consultations import (
    consultation_json,
    consultation_page_json,
    message_json,
)

__all__ = ["ConsultationIn", "ReplyIn", "routes"]

routes = web.RouteTableDef()

Text = Annotated[StrictStr, Field(min_length=1, max_length=65_536)]


class ConsultationIn(Strict):
    """`POST /v1/consultations`: the asker stays hidden unless `reveal_identity` (art. 16(3)).

    Like `broker.api.models`: unknown fields are refused and booleans are
    strict (`"reveal_identity": "no"` must not reveal anyone).
    """

    title: Annotated[StrictStr, Field(min_length=1, max_length=300)]
    body: Text
    reveal_identity: StrictBool = False


class ReplyIn(Strict):
    """`POST /v1/consultations/{id}/replies`."""

    body: Text


@routes.post("/v1/consultations")
@operation(
    "post",
    "/v1/consultations",
    "Consult the coordinator and the tier-one group privately (art. 16(3))",
    tag=TAG,
    body=ConsultationIn,
    responses={201: "the consultation"},
)
async def open_consultation(request: web.Request) -> web.Response:
    """`POST /v1/consultations`."""
    caller = await actor(request)
    body = await parse(request, ConsultationIn)
    result = await services(request).consultations.open(
        caller, body.title, body.body, body.reveal_identity
    )
    return respond(consultation_json(result), 201)


@routes.get("/v1/consultations")
@operation(
    "get",
    "/v1/consultations",
    "The consultations the caller may see, newest first",
    tag=TAG,
    query=("cursor", "limit"),
)
async def list_consultations(request: web.Request) -> web.Response:
    """`GET /v1/consultations`."""
    caller = await actor(request)
    limit, cursor = page_params(request)
    page = await services(request).consultations.listing(caller, limit, cursor)
    return respond(consultation_page_json(page))


@routes.get("/v1/consultations/{id}")
@operation(
    "get",
    "/v1/consultations/{id}",
    "A consultation and its thread; who asked is shown to the coordinator only, unless revealed",
    tag=TAG,
)
async def read_consultation(request: web.Request) -> web.Response:
    """`GET /v1/consultations/{id}`."""
    caller = await actor(request)
    result = await services(request).consultations.read(caller, request.match_info["id"])
    return respond(consultation_json(result))


@routes.post("/v1/consultations/{id}/replies")
@operation(
    "post",
    "/v1/consultations/{id}/replies",
    "Answer a consultation privately, or follow up on one's own",
    tag=TAG,
    body=ReplyIn,
    responses={201: "the message"},
)
async def reply(request: web.Request) -> web.Response:
    """`POST /v1/consultations/{id}/replies`."""
    caller = await actor(request)
    body = await parse(request, ReplyIn)
    result = await services(request).consultations.reply(
        caller, request.match_info["id"], body.body
    )
    return respond(message_json(result), 201)


@routes.post("/v1/consultations/{id}/reveal")
@operation(
    "post",
    "/v1/consultations/{id}/reveal",
    "The consulting member reveals its identity to the tier-one group",
    tag=TAG,
)
async def reveal(request: web.Request) -> web.Response:
    """`POST /v1/consultations/{id}/reveal`."""
    caller = await actor(request)
    result = await services(request).consultations.reveal(caller, request.match_info["id"])
    return respond(consultation_json(result))
