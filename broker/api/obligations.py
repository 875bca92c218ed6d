"""Obligations and feedback: what a member owes, answering, seeing the answers
(docs/api.md "Task force", SPEC §4).

Thin handlers: authenticate, parse, call the service, turn its result into
JSON (`broker.api.views.obligations`), respond.
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field, StrictStr

from broker.api.common import actor, operation, page_params, parse, respond, services
from broker.api.models import Strict
from broker.api.views.obligations import answer_json, feedback_json, obligation_page_json
from broker.feedback import Verdict

__all__ = ["TAG", "FeedbackAnswerIn", "routes"]

routes = web.RouteTableDef()
TAG = "task force"


class FeedbackAnswerIn(Strict):
    """`POST /v1/items/{id}/feedback`: tier two `came` / `not_came` / `unknown`;
    tier one `confirm` / `refute` / `additional_info` (the last with a comment).

    Like `broker.api.models`: unknown fields are refused.
    """

    verdict: Verdict
    comment: Annotated[StrictStr, Field(max_length=16_384)] | None = None


@routes.get("/v1/obligations")
@operation(
    "get",
    "/v1/obligations",
    "What the caller's member owes, earliest due first; ?status=open (default) or all",
    tag=TAG,
    query=("cursor", "limit", "status"),
)
async def list_obligations(request: web.Request) -> web.Response:
    """`GET /v1/obligations`."""
    caller = await actor(request)
    limit, cursor = page_params(request)
    status = request.query.get("status", "open")
    page = await services(request).feedback.obligations(caller, limit, cursor, status)
    return respond(obligation_page_json(page))


@routes.post("/v1/items/{id}/feedback")
@operation(
    "post",
    "/v1/items/{id}/feedback",
    "Answer what the caller's member owes on an "
    "item: changeable until due, late answers accepted and counted late",
    tag=TAG,
    body=FeedbackAnswerIn,
    responses={
        200: "the caller's obligation with its answer and `change`",
        403: "the member owes nothing on this item",
        409: "cancelled, closed, or locked after the due time",
    },
)
async def answer(request: web.Request) -> web.Response:
    """`POST /v1/items/{id}/feedback`."""
    caller = await actor(request)
    body = await parse(request, FeedbackAnswerIn)
    result = await services(request).feedback.answer(
        caller, request.match_info["id"], body.verdict.value, body.comment
    )
    return respond(answer_json(result))


@routes.get("/v1/items/{id}/feedback")
@operation(
    "get",
    "/v1/items/{id}/feedback",
    "The answers on an item: individual for the "
    "provider and coordinator, counts for the tier-one group, one's own for tier two",
    tag=TAG,
)
async def feedback(request: web.Request) -> web.Response:
    """`GET /v1/items/{id}/feedback`."""
    caller = await actor(request)
    result = await services(request).feedback.feedback(caller, request.match_info["id"])
    return respond(feedback_json(result))
