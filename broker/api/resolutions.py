"""Resolutions of the committee and the assembly, and information requests (SPEC §6)."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web

from broker.api.common import actor, operation, page_params, parse, respond, services
from broker.api.models import ReasonIn, ResolutionCreate, VoteIn
from broker.api.views.resolutions import (
    information_requests_view,
    resolution_page_view,
    resolution_view,
)
from broker.domain.resolutions import NewResolution, ResolutionKind, ResolutionStatus
from broker.errors import InvalidInput

__all__ = [
    "close",
    "create",
    "get",
    "information_requests",
    "listing",
    "publish",
    "recuse",
    "refuse",
    "routes",
    "vote",
]

routes = web.RouteTableDef()
TAG = "governance"


@routes.post("/v1/resolutions")
@operation(
    "post",
    "/v1/resolutions",
    "Open a resolution (the secretariat's users, the chair)",
    tag=TAG,
    body=ResolutionCreate,
    responses={201: "the resolution"},
)
async def create(request: web.Request) -> web.Response:
    caller = await actor(request)
    body = await parse(request, ResolutionCreate)
    new = NewResolution(
        kind=body.kind,
        title=body.title,
        text=body.text,
        subject_member_id=body.subject_member_id,
        closes_at=body.closes_at,
        purpose=body.purpose,
        scope=body.scope.to_domain() if body.scope is not None else None,
        target_member_ids=tuple(body.target_member_ids),
    )
    shown = await services(request).resolutions.create(caller, new)
    return respond(resolution_view(shown), 201)


E = TypeVar("E", ResolutionStatus, ResolutionKind)


def _enum_query(request: web.Request, name: str, enum: type[E]) -> E | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return enum(raw)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise InvalidInput(f"{name} must be one of {allowed}", field=name) from None


@routes.get("/v1/resolutions")
@operation(
    "get",
    "/v1/resolutions",
    "The resolutions the caller may see (art. 27), newest first",
    tag=TAG,
    query=("status", "kind", "cursor", "limit"),
)
async def listing(request: web.Request) -> web.Response:
    caller = await actor(request)
    limit, cursor = page_params(request)
    page = await services(request).resolutions.listing(
        caller,
        status=_enum_query(request, "status", ResolutionStatus),
        kind=_enum_query(request, "kind", ResolutionKind),
        cursor=cursor,
        limit=limit,
    )
    return respond(resolution_page_view(page))


@routes.get("/v1/resolutions/{id}")
@operation(
    "get", "/v1/resolutions/{id}", "One resolution, as far as the caller may see it", tag=TAG
)
async def get(request: web.Request) -> web.Response:
    caller = await actor(request)
    shown = await services(request).resolutions.get(caller, request.match_info["id"])
    return respond(resolution_view(shown))


@routes.post("/v1/resolutions/{id}/votes")
@operation(
    "post",
    "/v1/resolutions/{id}/votes",
    "Vote (a committee seat; a member's admin in the assembly), or give a proxy",
    tag=TAG,
    body=VoteIn,
    responses={201: "the resolution after the vote"},
)
async def vote(request: web.Request) -> web.Response:
    caller = await actor(request)
    body = await parse(request, VoteIn)
    shown = await services(request).resolutions.vote(
        caller, request.match_info["id"], body.vote, body.proxy_to
    )
    return respond(resolution_view(shown), 201)


@routes.post("/v1/resolutions/{id}/recusal")
@operation(
    "post",
    "/v1/resolutions/{id}/recusal",
    "A seat declares a special interest and has no vote (art. 11(6))",
    tag=TAG,
    body=ReasonIn,
    responses={201: "the resolution after the recusal"},
)
async def recuse(request: web.Request) -> web.Response:
    caller = await actor(request)
    body = await parse(request, ReasonIn)
    shown = await services(request).resolutions.recuse(
        caller, request.match_info["id"], body.reason
    )
    return respond(resolution_view(shown), 201)


@routes.post("/v1/resolutions/{id}/refusal")
@operation(
    "post",
    "/v1/resolutions/{id}/refusal",
    "The chair refuses an open ordinary resolution (art. 11(9))",
    tag=TAG,
    body=ReasonIn,
)
async def refuse(request: web.Request) -> web.Response:
    caller = await actor(request)
    body = await parse(request, ReasonIn)
    shown = await services(request).resolutions.refuse(
        caller, request.match_info["id"], body.reason
    )
    return respond(resolution_view(shown))


@routes.post("/v1/resolutions/{id}/close")
@operation(
    "post",
    "/v1/resolutions/{id}/close",
    "Decide the resolution now (the secretariat, the chair)",
    tag=TAG,
)
async def close(request: web.Request) -> web.Response:
    caller = await actor(request)
    shown = await services(request).resolutions.close(caller, request.match_info["id"])
    return respond(resolution_view(shown))


@routes.post("/v1/resolutions/{id}/publish")
@operation(
    "post",
    "/v1/resolutions/{id}/publish",
    "Publish a decided resolution's record to every active member (the secretariat)",
    tag=TAG,
)
async def publish(request: web.Request) -> web.Response:
    caller = await actor(request)
    shown = await services(request).resolutions.publish(caller, request.match_info["id"])
    return respond(resolution_view(shown))


@routes.get("/v1/information-requests")
@operation(
    "get",
    "/v1/information-requests",
    "The committee's passed information requests to the caller's member (art. 23)",
    tag=TAG,
)
async def information_requests(request: web.Request) -> web.Response:
    caller = await actor(request)
    found = await services(request).resolutions.information_requests(caller)
    return respond(information_requests_view(found))
