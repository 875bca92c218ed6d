"""Task force: obligations, feedback, the ledger and consultations (API.md, SPEC §4).

Thin handlers: authenticate, parse, call the service, respond. The services
are stateless over the shared `Core`, so each request builds its own.
"""

from __future__ import annotations

from aiohttp import web

from broker.api.common import actor, operation, page_params, parse, respond, services
from broker.api.taskforce_models import ConsultationIn, FeedbackAnswerIn, ReplyIn
from broker.services.consultations import ConsultationService
from broker.services.sweeper import Sweeper
from broker.services.taskforce import TaskForceService

__all__ = ["SWEEPER", "routes"]

routes = web.RouteTableDef()
TAG = "task force"

SWEEPER = web.AppKey("sweeper", Sweeper)
"""The app's obligation sweeper (set by the app factory's resources)."""


def _taskforce(request: web.Request) -> TaskForceService:
    return TaskForceService(services(request).core)


def _consultations(request: web.Request) -> ConsultationService:
    return ConsultationService(services(request).core)


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
    return respond(await _taskforce(request).obligations(caller, limit, cursor, status))


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
    result = await _taskforce(request).answer(
        caller, request.match_info["id"], body.verdict.value, body.comment
    )
    return respond(result)


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
    return respond(await _taskforce(request).feedback(caller, request.match_info["id"]))


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
    return respond(await _taskforce(request).ledger(caller, period))


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
    result = await _consultations(request).open(caller, body.title, body.body, body.reveal_identity)
    return respond(result, 201)


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
    return respond(await _consultations(request).listing(caller, limit, cursor))


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
    return respond(await _consultations(request).read(caller, request.match_info["id"]))


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
    result = await _consultations(request).reply(caller, request.match_info["id"], body.body)
    return respond(result, 201)


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
    return respond(await _consultations(request).reveal(caller, request.match_info["id"]))
