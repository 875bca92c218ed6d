"""The portal's pages: thin handlers over the same services and typed results as the API.

Each page calls the use case its API read calls (`GET /portal/inbox` is
`ItemService.inbox`, as `GET /v1/inbox` is), so what a user sees is what the
policy allows and every view is audited exactly like that read; the handlers
parse a form, call the service and render its typed result.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp_session import get_session, new_session
from pydantic import ValidationError

from broker.api.common import source_address
from broker.api.items import submit_draft
from broker.api.models import ItemSubmit
from broker.api.views.audit import export_line, keys_line
from broker.audit import VerifyResult
from broker.crypto import hash_token
from broker.domain import Actor
from broker.domain.audit import AuditFilter
from broker.domain.obligations import OwedObligation
from broker.errors import BrokerError, Forbidden, InvalidInput, NotFound, Unauthorized
from broker.feedback import ObligationStatus
from broker.portal.common import (
    GETTEXT,
    SESSIONS,
    form,
    may_submit,
    page,
    portal_role,
    redirect,
    services,
    signed_in,
)
from broker.portal.views import N_
from broker.tls import certificate_user

__all__ = ["VERIFY_JOBS", "VerifyJob", "routes"]

routes = web.RouteTableDef()

_AUDIT_FILTERS = ("item", "member", "user", "action", "outcome", "since", "until")
_PAGE = 50
_OWED_PAGE = 200
_ANSWERED_PAGES = 5
_PAST_ANSWERS = 20


def _home(caller: Actor) -> str:
    role = portal_role(caller)
    if role == "secretariat":
        return "/portal/audit"
    if role == "tier_two":
        return "/portal/obligations"
    return "/portal/inbox"


def _text(posted: Any, name: str) -> str:
    value = posted.get(name, "")
    return value.strip() if isinstance(value, str) else ""


# -- signing in and out ------------------------------------------------------------


@routes.get("/")
async def index(request: web.Request) -> web.StreamResponse:
    """The portal's address: the caller's main page, or the sign-in page."""
    session = await get_session(request)
    if "token_hash" not in session:
        return redirect("/portal/sign-in")
    return redirect(_home(await signed_in(request)))


@routes.get("/sign-in")
async def sign_in_form(request: web.Request) -> web.StreamResponse:
    """The sign-in page: one field, the API token."""
    notice = N_("You have signed out.") if request.query.get("signed_out") else None
    return await page(request, "sign_in.html", {"notice": notice})


@routes.post("/sign-in")
async def sign_in(request: web.Request) -> web.StreamResponse:
    """Sign in with an API token into a fresh server-side session (the token is not kept)."""
    token = _text(await form(request), "token")
    try:
        token_hash = hash_token(token) if token and len(token) <= 200 else None
        # The API's throttles and certificate check apply to this form too.
        caller = await services(request).auth.authenticate_hash(
            token_hash,
            address=source_address(request),
            certificate_user=certificate_user(request.transport),
        )
    except Unauthorized:
        error = N_("That API token was not accepted. Check it, or ask your administrator for one.")
        return await page(request, "sign_in.html", {"error": error}, status=401)
    # A new session identifier at sign-in: one planted before it is worth nothing.
    request.config_dict[SESSIONS].forget(await get_session(request))
    session = await new_session(request)
    session["token_hash"] = token_hash
    session["csrf"] = secrets.token_urlsafe(32)
    return redirect(_home(caller))


@routes.post("/sign-out")
async def sign_out(request: web.Request) -> web.StreamResponse:
    """End the session on the server; the cookie is cleared."""
    session = await get_session(request)
    request.config_dict[SESSIONS].forget(session)
    session.invalidate()
    return redirect("/portal/sign-in?signed_out=1")


# -- items ---------------------------------------------------------------------------


@routes.get("/inbox")
async def inbox(request: web.Request) -> web.StreamResponse:
    """What the caller may open, newest first (`GET /v1/inbox`)."""
    caller = await signed_in(request)
    cursor = request.query.get("cursor") or None
    listing = await services(request).items.inbox(caller, _PAGE, cursor, False)
    context = {"entries": listing.items, "next_cursor": listing.next_cursor}
    return await page(request, "inbox.html", context, caller=caller)


@routes.get("/items/{id}")
async def item(request: web.Request) -> web.StreamResponse:
    """One item (`GET /v1/items/{id}`) with its feedback as the reader may see it."""
    caller = await signed_in(request)
    item_id = request.match_info["id"]
    opened = await services(request).items.read(caller, item_id)
    feedback = None
    # `GET /v1/items/{id}/feedback`: shown where the reader may see answers at all.
    with contextlib.suppress(NotFound, Forbidden):
        feedback = await services(request).feedback.feedback(caller, item_id)
    context = {
        "opened": opened,
        "content": opened.content,
        "feedback": feedback,
        "done": "answered" in request.query,
    }
    return await page(request, "item.html", context, caller=caller)


@routes.post("/items/{id}/feedback")
async def answer(request: web.Request) -> web.StreamResponse:
    """One click: came / not came / don't know, or expert feedback (`POST .../feedback`)."""
    caller = await signed_in(request)
    posted = await form(request)
    verdict = _text(posted, "verdict")
    comment = _text(posted, "comment") or None
    if comment is not None and len(comment) > 16_384:
        raise InvalidInput("the comment is over 16384 characters", field="comment")
    await services(request).feedback.answer(caller, request.match_info["id"], verdict, comment)
    back = _text(posted, "back")
    if back != "/portal/obligations" and not back.startswith("/portal/items/"):
        back = "/portal/obligations"
    return redirect(back + "?answered=1")


@routes.get("/obligations")
async def obligations(request: web.Request) -> web.StreamResponse:
    """What the caller's member owes (`GET /v1/obligations`), open and answered."""
    caller = await signed_in(request)
    feedback = services(request).feedback
    open_ = list((await feedback.obligations(caller, _OWED_PAGE, None, "open")).items)
    # Answered ones, earliest due first, a bounded number of pages (each audited as
    # the API's pages are): those still changeable, then the latest few past due.
    answered: list[OwedObligation] = []
    cursor: str | None = None
    for _ in range(_ANSWERED_PAGES):
        listing = await feedback.obligations(caller, _OWED_PAGE, cursor, "all")
        answered += [e for e in listing.items if e.obligation.status is ObligationStatus.ANSWERED]
        cursor = listing.next_cursor
        if cursor is None:
            break
    now = services(request).clock()
    changeable = [e for e in answered if e.obligation.due_at > now]
    past = [e for e in answered if e.obligation.due_at <= now][-_PAST_ANSWERS:]
    answered = changeable + past[::-1]
    context = {"open": open_, "answered": answered, "done": "answered" in request.query}
    return await page(request, "obligations.html", context, caller=caller)


# -- submitting ----------------------------------------------------------------------


@routes.get("/submit")
async def submit_form(request: web.Request) -> web.StreamResponse:
    """The submission form; `?from=ID` derives from an item and shows its ceiling first."""
    caller = await signed_in(request)
    if not may_submit(caller):
        raise NotFound("not found")
    source = None
    values: dict[str, Any] = {"groups": [], "members": [], "exclude_members": []}
    values["exclude_attributes"] = []
    if source_id := request.query.get("from"):
        source = await services(request).items.read(caller, source_id)
        values["kind"] = "countermeasure"
        values["tlp"] = str(source.item.facts.effective_tlp)
    return await _submit_page(request, caller, values, source)


async def _submit_page(
    request: web.Request,
    caller: Actor,
    values: dict[str, Any],
    source: Any,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    roster = await services(request).members.roster()
    values.setdefault("idempotency_key", secrets.token_urlsafe(18))
    context = {"values": values, "source": source, "roster": roster, "error": error}
    return await page(request, "submit.html", context, caller=caller, status=status)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def _submission(posted: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The form as typed back (to show again) and as the API's JSON body."""
    values: dict[str, Any] = {
        name: _text(posted, name)
        for name in (
            "kind",
            "title",
            "body",
            "tlp",
            "secret",
            "confidence",
            "member_ids",
            "exclude_ids",
            "due",
            "victim_name",
            "derived_from",
            "idempotency_key",
        )
    }
    for name in ("groups", "members", "exclude_members", "exclude_attributes"):
        values[name] = [v for v in posted.getall(name, []) if isinstance(v, str)]
    values["victim_damage"] = posted.get("victim_damage") == "true"
    body: dict[str, Any] = {
        "kind": values["kind"],
        "title": values["title"],
        "tlp": values["tlp"],
        "confidence": values["confidence"],
        "scope": {
            "groups": values["groups"],
            "members": list(dict.fromkeys(values["members"] + _lines(values["member_ids"]))),
            "exclude_members": list(
                dict.fromkeys(values["exclude_members"] + _lines(values["exclude_ids"]))
            ),
            "exclude_attributes": values["exclude_attributes"],
        },
    }
    # Art. 18(1): no default — a form without the choice is refused, as the API refuses it.
    if values["secret"] in ("true", "false"):
        body["secret"] = values["secret"] == "true"  # noqa: S105 - a yes/no choice, not a password
    if values["body"]:
        body["body"] = values["body"]
    if values["derived_from"]:
        body["derived_from"] = [values["derived_from"]]
    if values["due"]:
        body["feedback"] = {"due": values["due"]}
    if values["victim_name"] or values["victim_damage"]:
        body["victim"] = {"name": values["victim_name"] or None, "damage": values["victim_damage"]}
    return values, body


@routes.post("/submit")
async def submit(request: web.Request) -> web.StreamResponse:
    """Submit (`POST /v1/items`): the same validation and use case as the API."""
    caller = await signed_in(request)
    values, body = _submission(await form(request))
    source = None
    if values["derived_from"]:
        source = await services(request).items.read(caller, values["derived_from"])
    try:
        parsed = ItemSubmit.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        gettext = request[GETTEXT]
        message = (
            gettext("Choose whether it is secret: there is no default (art. 18(1)).")
            if where == "secret"
            else f"{where}: {first['msg']}"
        )
        return await _submit_page(request, caller, values, source, message, 422)
    key = values["idempotency_key"] or None
    try:
        result = await services(request).submissions.submit(caller, submit_draft(parsed), key)
    except (InvalidInput, Forbidden) as error:
        return await _submit_page(request, caller, values, source, error.message, error.status)
    return await page(request, "submitted.html", {"result": result}, caller=caller, status=201)


# -- the secretariat -----------------------------------------------------------------


@routes.get("/items/{id}/break-glass")
async def break_glass_form(request: web.Request) -> web.StreamResponse:
    """The break-glass form: the reason is required (art. 14(3))."""
    caller = await signed_in(request)
    if not caller.is_secretariat:
        raise NotFound("not found")
    context = {"item_id": request.match_info["id"]}
    return await page(request, "break_glass.html", context, caller=caller)


@routes.post("/items/{id}/break-glass")
async def break_glass(request: web.Request) -> web.StreamResponse:
    """Read one item with a written reason (`POST /v1/items/{id}/break-glass`)."""
    caller = await signed_in(request)
    reason = _text(await form(request), "reason")
    if not reason:
        raise InvalidInput("a break-glass read needs a reason", field="reason")
    if len(reason) > 2000:
        raise InvalidInput("the reason is over 2000 characters", field="reason")
    opened = await services(request).items.break_glass(caller, request.match_info["id"], reason)
    context = {"opened": opened, "content": opened.content, "feedback": None, "break_glass": True}
    return await page(request, "item.html", context, caller=caller)


@routes.get("/audit")
async def audit(request: web.Request) -> web.StreamResponse:
    """The audit log, filtered (`GET /v1/audit`): events, never contents."""
    caller = await signed_in(request)
    filters = {name: (request.query.get(name) or "").strip() or None for name in _AUDIT_FILTERS}
    for name, value in filters.items():
        if value is not None and len(value) > 64:
            raise InvalidInput(f"{name} is too long", field=name)
    cursor = request.query.get("cursor")
    after = int(cursor) if cursor and cursor.isascii() and cursor.isdigit() else None
    listing = await services(request).audit.query(
        caller, limit=_PAGE, after_seq=after, filters=AuditFilter(**filters)
    )
    next_query = None
    if listing.next_seq is not None:
        given = {k: v for k, v in filters.items() if v is not None}
        next_query = urlencode({**given, "cursor": str(listing.next_seq)})
    context = {"events": listing.events, "filters": filters, "next_query": next_query}
    return await page(request, "audit.html", context, caller=caller)


@routes.get("/audit/export")
async def audit_export(request: web.Request) -> web.StreamResponse:
    """The whole log as JSON Lines (`GET /v1/audit/export`), as a download."""
    caller = await signed_in(request)
    audit = services(request).audit
    records = await audit.export(caller)
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/x-ndjson",
            "Content-Disposition": 'attachment; filename="council-audit.jsonl"',
        }
    )
    await response.prepare(request)
    await response.write(keys_line(audit.public_keys(caller), audit.signing_key_id()))
    async for record in records:
        await response.write(export_line(record))
    await response.write_eof()
    return response


@dataclass
class VerifyJob:
    """One chain verification started from the audit page, owned by its user."""

    id: str
    user_id: str
    checked: int = 0
    total: int = 0
    done: bool = False
    result: VerifyResult | None = None
    error: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def progress(self, checked: int, total: int) -> None:
        """Told by the verification as it reads the log."""
        self.checked, self.total = checked, total


VERIFY_JOBS = web.AppKey("portal_verify_jobs", dict)
_KEEP_JOBS = 20


@routes.post("/audit/verify")
async def audit_verify(request: web.Request) -> web.StreamResponse:
    """Start a chain verification; its page shows the progress bar until it ends."""
    caller = await signed_in(request)
    jobs: dict[str, VerifyJob] = request.config_dict[VERIFY_JOBS]
    job = VerifyJob(id=secrets.token_urlsafe(12), user_id=caller.user_id)
    audit_service = services(request).audit

    async def run() -> None:
        try:
            job.result = await audit_service.verify_chain(caller, job.progress)
        except BrokerError as error:
            job.error = error.message
        finally:
            job.done = True

    job.task = asyncio.create_task(run())
    jobs[job.id] = job
    while len(jobs) > _KEEP_JOBS:
        jobs.pop(next(iter(jobs)))
    return redirect(f"/portal/audit/verify/{job.id}")


def _job(request: web.Request, caller: Actor, job_id: str) -> VerifyJob:
    job: VerifyJob | None = request.config_dict[VERIFY_JOBS].get(job_id)
    if job is None or job.user_id != caller.user_id:
        raise NotFound("no such verification")
    return job


@routes.get("/audit/verify/{job}.json")
async def audit_verify_status(request: web.Request) -> web.StreamResponse:
    """The progress of a verification, for the progress bar's script."""
    caller = await signed_in(request)
    job = _job(request, caller, request.match_info["job"])
    return web.json_response({"checked": job.checked, "total": job.total, "done": job.done})


@routes.get("/audit/verify/{job}")
async def audit_verify_page(request: web.Request) -> web.StreamResponse:
    """A verification's progress bar, then its outcome."""
    caller = await signed_in(request)
    job = _job(request, caller, request.match_info["job"])
    return await page(request, "verify.html", {"job": job}, caller=caller)


# -- the coordinator -----------------------------------------------------------------
# Only the navigation is by role: what each page shows is the use case's answer
# for the caller (a member sees its own body and ledger row), denials audited.


@routes.get("/members")
async def members(request: web.Request) -> web.StreamResponse:
    """Every body (`GET /v1/members`)."""
    caller = await signed_in(request)
    bodies = await services(request).members.list_members(caller)
    return await page(request, "members.html", {"members": bodies}, caller=caller)


@routes.get("/members/{id}")
async def member(request: web.Request) -> web.StreamResponse:
    """One body with its users and handlers (`GET /v1/members/{id}`, `/users`, `/handlers`)."""
    caller = await signed_in(request)
    member_id = request.match_info["id"]
    found = await services(request).members.get_member(caller, member_id)
    users = await services(request).members.list_users(caller, member_id)
    handlers = await services(request).members.list_handlers(caller, member_id)
    context = {
        "member": found,
        "users": users,
        "handlers": handlers,
        "handler_ids": {h.user_id for h in handlers if h.effective_until is None},
    }
    return await page(request, "member.html", context, caller=caller)


@routes.get("/ledger")
async def ledger(request: web.Request) -> web.StreamResponse:
    """The contribution ledger with free-rider flags and overdue answers (`GET /v1/ledger`)."""
    caller = await signed_in(request)
    period = (request.query.get("period") or "").strip() or None
    found = await services(request).ledger.ledger(caller, period)
    return await page(request, "ledger.html", {"ledger": found}, caller=caller)


@routes.get("/consultations")
async def consultations(request: web.Request) -> web.StreamResponse:
    """The consultations the caller may see (`GET /v1/consultations`)."""
    caller = await signed_in(request)
    listing = await services(request).consultations.listing(caller, _PAGE, None)
    return await page(
        request, "consultations.html", {"consultations": listing.items}, caller=caller
    )


@routes.post("/consultations")
async def consult(request: web.Request) -> web.StreamResponse:
    """Consult the coordinator and tier one privately (`POST /v1/consultations`, art. 16(3))."""
    caller = await signed_in(request)
    posted = await form(request)
    title, body = _text(posted, "title"), _text(posted, "body")
    if not title or len(title) > 300:
        raise InvalidInput("the title needs 1 to 300 characters", field="title")
    if not body or len(body) > 65_536:
        raise InvalidInput("the question needs 1 to 65536 characters", field="body")
    opened = await services(request).consultations.open(
        caller, title, body, posted.get("reveal_identity") == "true"
    )
    return redirect(f"/portal/consultations/{opened.id}")


@routes.get("/consultations/{id}")
async def consultation(request: web.Request) -> web.StreamResponse:
    """One consultation with its replies (`GET /v1/consultations/{id}`)."""
    caller = await signed_in(request)
    found = await services(request).consultations.read(caller, request.match_info["id"])
    return await page(request, "consultation.html", {"consultation": found}, caller=caller)


@routes.post("/consultations/{id}/replies")
async def reply(request: web.Request) -> web.StreamResponse:
    """Answer a consultation, or follow up on one's own (`POST .../replies`)."""
    caller = await signed_in(request)
    body = _text(await form(request), "body")
    if not body or len(body) > 65_536:
        raise InvalidInput("the reply needs 1 to 65536 characters", field="body")
    consultation_id = request.match_info["id"]
    await services(request).consultations.reply(caller, consultation_id, body)
    return redirect(f"/portal/consultations/{consultation_id}")
