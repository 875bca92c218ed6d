"""The audit log: query, export, checkpoints (docs/api.md "Audit")."""

from __future__ import annotations

from aiohttp import web

from broker.api.common import actor, operation, page_params, respond, seq_cursor, services
from broker.api.views.audit import (
    audit_page_view,
    checkpoint_view,
    export_line,
    keys_line,
    keys_view,
)
from broker.domain.audit import AuditFilter
from broker.errors import InvalidInput, NotFound

__all__ = ["routes"]

routes = web.RouteTableDef()
TAG = "audit"
_FILTERS = ("item", "member", "user", "action", "outcome", "since", "until")


@routes.get("/v1/audit")
@operation(
    "get",
    "/v1/audit",
    "Query the audit log (secretariat, coordinator)",
    tag=TAG,
    query=(*_FILTERS, "cursor", "limit"),
)
async def query(request: web.Request) -> web.Response:
    """A filtered page of the log, oldest first, with a seq cursor."""
    caller = await actor(request)
    limit, cursor = page_params(request)
    filters = {name: request.query.get(name) for name in _FILTERS}
    for name, value in filters.items():
        if value is not None and len(value) > 64:
            raise InvalidInput(f"{name} is too long", field=name)
    page = await services(request).audit.query(
        caller, limit=limit, after_seq=seq_cursor(cursor), filters=AuditFilter(**filters)
    )
    return respond(audit_page_view(page))


@routes.get("/v1/audit/export")
@operation(
    "get",
    "/v1/audit/export",
    "The whole log as JSON Lines, streamed: a keys line, checkpoints, events",
    tag=TAG,
    responses={200: "application/x-ndjson"},
)
async def export(request: web.Request) -> web.StreamResponse:
    """The whole log as JSON Lines: checkpoints, then every event in chain order."""
    caller = await actor(request)
    records = await services(request).audit.export(caller)
    audit = services(request).audit
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)
    # The header line: the public keys, so the file says what verifies it.
    await response.write(keys_line(audit.public_keys(caller), audit.signing_key_id()))
    async for record in records:
        await response.write(export_line(record))
    await response.write_eof()
    return response


@routes.get("/v1/audit/checkpoints/latest")
@operation("get", "/v1/audit/checkpoints/latest", "The newest signed checkpoint", tag=TAG)
async def latest_checkpoint(request: web.Request) -> web.Response:
    """The newest signed checkpoint, or 404 before the first."""
    caller = await actor(request)
    checkpoint = await services(request).audit.latest_checkpoint(caller)
    if checkpoint is None:
        raise NotFound("no checkpoint yet")
    return respond(checkpoint_view(checkpoint))


@routes.get("/v1/audit/keys")
@operation(
    "get",
    "/v1/audit/keys",
    "The public keys that verify the signed checkpoints (save for audit verify --public-key)",
    tag=TAG,
)
async def public_keys(request: web.Request) -> web.Response:
    """The checkpoint-signing public keys, for offline verification of an export."""
    caller = await actor(request)
    audit = services(request).audit
    return respond(keys_view(audit.public_keys(caller), audit.signing_key_id()))
