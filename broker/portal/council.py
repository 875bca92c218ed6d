"""The steering committee's pages and violation reports: thin pages over the services.

`/portal/resolutions` calls `ResolutionService.listing`/`get`/`vote`/`recuse`
as `GET /v1/resolutions`, `GET /v1/resolutions/{id}`, `POST .../votes` and
`POST .../recusal` do, and `/portal/reports` calls `ReportService` as
`/v1/reports` does: the services decide (art. 27, art. 29) and audit each
call, so a page is audited exactly as the API call it mirrors. The forms are
parsed with the API's own request models.
"""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from broker import governance
from broker.api.models import ReasonIn, ReportIn, ReportPatch
from broker.domain.reports import ReportStatus
from broker.domain.resolutions import ResolutionStatus, Vote
from broker.errors import InvalidInput
from broker.portal.common import form, page, redirect, services, signed_in
from broker.tlp import may_handle_reports, may_report

__all__ = ["routes"]

routes = web.RouteTableDef()

_PAGE = 50

M = TypeVar("M", bound=BaseModel)


def _text(posted: Any, name: str) -> str:
    value = posted.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def _parsed(model: type[M], data: dict[str, Any]) -> M:
    """The form as the API's request body, refused as the API refuses it."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidInput(f"{where}: {first['msg']}", field=where) from None


# -- resolutions (SPEC §6) ---------------------------------------------------------


@routes.get("/resolutions")
async def resolutions(request: web.Request) -> web.StreamResponse:
    """The open resolutions the caller may see, with their count (`GET /v1/resolutions`)."""
    caller = await signed_in(request)
    listing = await services(request).resolutions.listing(
        caller, status=ResolutionStatus.OPEN, kind=None, cursor=None, limit=_PAGE
    )
    return await page(request, "resolutions.html", {"resolutions": listing.items}, caller=caller)


@routes.get("/resolutions/{id}")
async def resolution(request: web.Request) -> web.StreamResponse:
    """One resolution, as much as the caller may see (`GET /v1/resolutions/{id}`); else 404."""
    caller = await signed_in(request)
    shown = await services(request).resolutions.get(caller, request.match_info["id"])
    context = {
        "shown": shown,
        "r": shown.resolution,
        # Only which buttons to offer: the service decides whether the vote counts.
        "seat": governance.is_committee_seat(caller.reader),
        "done": request.query.get("done"),
    }
    return await page(request, "resolution.html", context, caller=caller)


@routes.post("/resolutions/{id}/votes")
async def vote(request: web.Request) -> web.StreamResponse:
    """Yes, no or abstain in one click (`POST /v1/resolutions/{id}/votes`)."""
    caller = await signed_in(request)
    chosen = _text(await form(request), "vote")
    if chosen not in {v.value for v in Vote}:
        raise InvalidInput("choose yes, no or abstain", field="vote")
    resolution_id = request.match_info["id"]
    await services(request).resolutions.vote(caller, resolution_id, Vote(chosen), None)
    return redirect(f"/portal/resolutions/{resolution_id}?done=voted")


@routes.post("/resolutions/{id}/recusal")
async def recuse(request: web.Request) -> web.StreamResponse:
    """Declare a special interest, with its reason (`POST .../recusal`, art. 11(6))."""
    caller = await signed_in(request)
    body = _parsed(ReasonIn, {"reason": _text(await form(request), "reason")})
    resolution_id = request.match_info["id"]
    await services(request).resolutions.recuse(caller, resolution_id, body.reason)
    return redirect(f"/portal/resolutions/{resolution_id}?done=recused")


# -- violation reports (art. 29) ---------------------------------------------------


@routes.get("/reports")
async def reports(request: web.Request) -> web.StreamResponse:
    """The form, and the reports the caller may see (`GET /v1/reports`)."""
    caller = await signed_in(request)
    listing = await services(request).reports.listing(caller, _PAGE, None)
    # Only whether to offer the form: `ReportService.create` asks the policy again.
    context = {"reports": listing.items, "may_file": bool(may_report(caller.reader))}
    return await page(request, "reports.html", context, caller=caller)


@routes.post("/reports")
async def file_report(request: web.Request) -> web.StreamResponse:
    """File a report with the secretariat (`POST /v1/reports`)."""
    caller = await signed_in(request)
    posted = await form(request)
    body = _parsed(
        ReportIn,
        {
            "kind": _text(posted, "kind"),
            "text": _text(posted, "text"),
            "item_id": _text(posted, "item_id") or None,
        },
    )
    filed = await services(request).reports.create(
        caller, body.kind, body.text, item_id=body.item_id, member_id=body.member_id
    )
    return redirect(f"/portal/reports/{filed.id}")


@routes.get("/reports/{id}")
async def report(request: web.Request) -> web.StreamResponse:
    """One report, for its reporter or the secretariat (`GET /v1/reports/{id}`)."""
    caller = await signed_in(request)
    found = await services(request).reports.read(caller, request.match_info["id"])
    # Only which form to offer: `ReportService.update` asks the policy again, and
    # refuses a backward move or a closed report as the API does.
    handles = bool(may_handle_reports(caller.reader))
    context = {"report": found, "statuses": [s.value for s in ReportStatus] if handles else []}
    return await page(request, "report.html", context, caller=caller)


@routes.post("/reports/{id}")
async def move_report(request: web.Request) -> web.StreamResponse:
    """The secretariat moves a report on, with a note (`PATCH /v1/reports/{id}`)."""
    caller = await signed_in(request)
    posted = await form(request)
    body = _parsed(
        ReportPatch,
        {"status": _text(posted, "status"), "note": _text(posted, "note") or None},
    )
    report_id = request.match_info["id"]
    await services(request).reports.update(caller, report_id, body.status, body.note)
    return redirect(f"/portal/reports/{report_id}")
