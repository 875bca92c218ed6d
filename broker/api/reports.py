"""Violation reports to the secretariat (docs/api.md "Governance", charter art. 29).

Thin handlers: authenticate, parse, call the service, turn its result into
JSON (`broker.api.views.reports`), respond.
"""

from __future__ import annotations

from aiohttp import web

from broker.api.common import actor, operation, page_params, parse, respond, services
from broker.api.models import ReportIn, ReportPatch
from broker.api.views.reports import report_json, report_page_json

__all__ = ["TAG", "create_report", "list_reports", "read_report", "routes", "update_report"]

routes = web.RouteTableDef()
TAG = "governance"


@routes.post("/v1/reports")
@operation(
    "post",
    "/v1/reports",
    "Report a suspected leak, scope breach or misuse to the secretariat (art. 29)",
    tag=TAG,
    body=ReportIn,
    responses={201: "the report"},
)
async def create_report(request: web.Request) -> web.Response:
    """`POST /v1/reports`."""
    caller = await actor(request)
    body = await parse(request, ReportIn)
    result = await services(request).reports.create(
        caller, body.kind, body.text, item_id=body.item_id, member_id=body.member_id
    )
    return respond(report_json(result), 201)


@routes.get("/v1/reports")
@operation(
    "get",
    "/v1/reports",
    "Reports, newest first: the caller's own; every report for the secretariat",
    tag=TAG,
    query=("cursor", "limit"),
)
async def list_reports(request: web.Request) -> web.Response:
    """`GET /v1/reports`."""
    caller = await actor(request)
    limit, cursor = page_params(request)
    page = await services(request).reports.listing(caller, limit, cursor)
    return respond(report_page_json(page))


@routes.get("/v1/reports/{id}")
@operation(
    "get", "/v1/reports/{id}", "One report (its reporter, the secretariat; else 404)", tag=TAG
)
async def read_report(request: web.Request) -> web.Response:
    """`GET /v1/reports/{id}`."""
    caller = await actor(request)
    result = await services(request).reports.read(caller, request.match_info["id"])
    return respond(report_json(result))


@routes.patch("/v1/reports/{id}")
@operation(
    "patch",
    "/v1/reports/{id}",
    "Move a report on: received, investigating, closed, with a note (secretariat)",
    tag=TAG,
    body=ReportPatch,
)
async def update_report(request: web.Request) -> web.Response:
    """`PATCH /v1/reports/{id}`."""
    caller = await actor(request)
    body = await parse(request, ReportPatch)
    result = await services(request).reports.update(
        caller, request.match_info["id"], body.status, body.note
    )
    return respond(report_json(result))
