"""Items: submit, read, inbox, scope, consents, withdraw, access log, break-glass."""

from __future__ import annotations

import asyncio
from functools import partial

from aiohttp import web

from broker.api.common import actor, operation, page_params, parse, respond, seq_cursor, services
from broker.api.models import BreakGlassIn, ConsentIn, ItemSubmit, ScopeChange
from broker.api.views.audit import audit_page_view
from broker.api.views.items import (
    consent_requests_view,
    inbox_view,
    item_view,
    scope_change_view,
    submit_view,
    withdrawal_view,
)
from broker.domain import Confidence
from broker.errors import InvalidInput
from broker.misp.imports import ItemFields, parse_event, propose, resolve
from broker.services import Actor
from broker.services.submissions import SubmitDraft, check_idempotency_key

__all__ = ["native_fields", "routes", "submit_draft"]

routes = web.RouteTableDef()
TAG = "items"


def submit_draft(body: ItemSubmit, fields: ItemFields | None = None) -> SubmitDraft:
    """The use case's draft of a validated submission (the API's and the portal's):
    the item's `fields` as resolved from a MISP event, else the body's own."""
    item = fields if fields is not None else native_fields(body)
    victim = body.victim.model_dump(mode="json") if body.victim is not None else None
    return SubmitDraft(
        kind=item.kind,
        title=item.title,
        body=item.body,
        stix=item.stix,
        tlp=item.tlp,
        secret=body.secret,
        confidence=item.confidence,
        scope=item.scope,
        derived_from=tuple(dict.fromkeys(body.derived_from)),
        victim=victim,
        feedback_due=body.feedback.due if body.feedback else None,
        as_sent=partial(body.model_dump, mode="json"),
        information_request_id=body.information_request_id,
    )


def native_fields(body: ItemSubmit) -> ItemFields:
    """The item's fields of a submission without a MISP event."""
    # ItemSubmit's validator guarantees these without a MISP event.
    assert body.kind and body.title and body.tlp and body.scope is not None
    return ItemFields(
        title=body.title,
        tlp=body.tlp,
        kind=body.kind,
        confidence=body.confidence or Confidence.UNCONFIRMED,
        scope=body.scope.to_domain(),
        stix=body.stix.model_dump(mode="json") if body.stix is not None else None,
        body=body.body,
    )


@routes.post("/v1/items")
@operation(
    "post",
    "/v1/items",
    "Submit an item; `secret` is required (art. 18(1),(2))",
    tag=TAG,
    body=ItemSubmit,
    responses={201: "id, version, recipients, dropped, pending_consents"},
)
async def submit(request: web.Request) -> web.Response:
    caller = await actor(request)
    body = await parse(request, ItemSubmit)
    key = request.headers.get("Idempotency-Key")
    if key is not None:
        check_idempotency_key(key)  # the same rule the use case applies, before any work
    draft = submit_draft(body, await _resolved(request, caller, body))
    result = await services(request).submissions.submit(caller, draft, key)
    return respond(submit_view(result), 201)


async def _resolved(request: web.Request, caller: Actor, body: ItemSubmit) -> ItemFields:
    """The item's fields: the request's, over a MISP event's where one is given."""
    if body.misp_event is None:
        return native_fields(body)
    event = parse_event(body.misp_event)
    roster = await services(request).members.roster()
    # misp-stix is CPU work (tens of ms for a large event): off the event loop.
    proposal = await asyncio.to_thread(propose, event, caller.member_id, roster)
    return resolve(
        proposal,
        title=body.title,
        tlp=body.tlp,
        kind=body.kind,
        confidence=body.confidence,
        scope=body.scope.to_domain() if body.scope is not None else None,
        body=body.body,
    )


@routes.get("/v1/items/{id}")
@operation(
    "get", "/v1/items/{id}", "Open an item with its handling, provenance, masked victim", tag=TAG
)
async def read(request: web.Request) -> web.Response:
    caller = await actor(request)
    opened = await services(request).items.read(caller, request.match_info["id"])
    return respond(item_view(opened))


@routes.get("/v1/inbox")
@operation(
    "get",
    "/v1/inbox",
    "What the caller may open, newest first or ?order=oldest",
    tag=TAG,
    query=("cursor", "limit", "order"),
)
async def inbox(request: web.Request) -> web.Response:
    caller = await actor(request)
    limit, cursor = page_params(request)
    order = request.query.get("order", "newest")
    if order not in ("newest", "oldest"):
        raise InvalidInput("order is newest or oldest", field="order")
    page = await services(request).items.inbox(caller, limit, cursor, order == "oldest")
    return respond(inbox_view(page))


@routes.post("/v1/items/{id}/scope")
@operation(
    "post", "/v1/items/{id}/scope", "A new scope version (provider only)", tag=TAG, body=ScopeChange
)
async def change_scope(request: web.Request) -> web.Response:
    caller = await actor(request)
    body = await parse(request, ScopeChange)
    result = await services(request).items.change_scope(
        caller, request.match_info["id"], body.scope.to_domain()
    )
    return respond(scope_change_view(result))


@routes.post("/v1/items/{id}/consents")
@operation(
    "post",
    "/v1/items/{id}/consents",
    "The source's provider consents to a derived item's wider scope (art. 17(3))",
    tag=TAG,
    body=ConsentIn,
)
async def consent(request: web.Request) -> web.Response:
    caller = await actor(request)
    body = await parse(request, ConsentIn)
    result = await services(request).items.consent(
        caller, request.match_info["id"], body.derived_item_id
    )
    return respond(scope_change_view(result))


@routes.get("/v1/consents")
@operation("get", "/v1/consents", "Consent requests waiting for the caller's member", tag=TAG)
async def pending_consents(request: web.Request) -> web.Response:
    caller = await actor(request)
    requests = await services(request).items.pending_consents(caller)
    return respond(consent_requests_view(requests))


@routes.post("/v1/items/{id}/withdraw")
@operation("post", "/v1/items/{id}/withdraw", "Withdraw: the content is destroyed", tag=TAG)
async def withdraw(request: web.Request) -> web.Response:
    caller = await actor(request)
    withdrawal = await services(request).items.withdraw(caller, request.match_info["id"])
    return respond(withdrawal_view(withdrawal))


@routes.get("/v1/items/{id}/access-log")
@operation(
    "get",
    "/v1/items/{id}/access-log",
    "Every access to the item (provider, coordinator)",
    tag=TAG,
    query=("cursor", "limit"),
)
async def access_log(request: web.Request) -> web.Response:
    caller = await actor(request)
    limit, cursor = page_params(request)
    page = await services(request).items.access_log(
        caller, request.match_info["id"], limit, seq_cursor(cursor)
    )
    return respond(audit_page_view(page))


@routes.post("/v1/items/{id}/break-glass")
@operation(
    "post",
    "/v1/items/{id}/break-glass",
    "Secretariat read of one item with a written reason (art. 14(3))",
    tag=TAG,
    body=BreakGlassIn,
)
async def break_glass(request: web.Request) -> web.Response:
    caller = await actor(request)
    body = await parse(request, BreakGlassIn)
    opened = await services(request).items.break_glass(
        caller, request.match_info["id"], body.reason
    )
    return respond(item_view(opened))
