"""The TAXII 2.1 server (docs/taxii.md): discovery, the api root, the six
collections, objects, manifest, versions and status.

A thin edge like `broker.api`: authenticate (HTTP Basic with the user id and
the API token, or a bearer token, through the same `Authenticator` as the
native API), parse the filters, ask the services — reading and listing are
`ItemService` (the decision is `tlp.selects`, i.e. `may_read`), posting is
`SubmissionService.submit`, answering is `FeedbackService.answer` — and render
the typed results as STIX 2.1 (`broker.taxii.stix`) in TAXII resources.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web

from broker import tlp
from broker.api.common import nests_deeper_than, source_address
from broker.api.keys import SERVICES, SETTINGS
from broker.crypto import constant_time_equals
from broker.domain import Actor, AuditAction
from broker.domain.items import OpenedItem
from broker.domain.timestamps import rfc3339
from broker.errors import BrokerError, Unauthorized
from broker.services import Services
from broker.taxii import feedback as taxii_feedback
from broker.taxii.errors import TaxiiError, error_body
from broker.taxii.posting import post_envelope
from broker.taxii.query import (
    Filters,
    NextTokens,
    Position,
    parse_filters,
    parse_limit,
    versions_kept,
)
from broker.taxii.stix import (
    DEFINITIONS_ADDED,
    StixCache,
    cache_pattern_validation,
    council_objects,
    version_of,
)
from broker.tls import certificate_user

__all__ = ["API_ROOT", "MEDIA_TYPE", "create_taxii_app", "taxii_errors"]

log = structlog.get_logger("broker.taxii")

MEDIA_TYPE = "application/taxii+json;version=2.1"
"""TAXII 2.1 §1.6.8: every TAXII request and response body."""
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"

API_ROOT = "council"
_REALM = 'Basic realm="council"'
_BATCH = 200  # items opened per query while filling a page, at most
_FIRST_BATCH = 2  # items opened by a page's first query


class _State:
    """What the edge builds once per app: the object cache, the `next` key, the
    council's own objects (built on first use: the key ring opens with the app)."""

    def __init__(self) -> None:
        self.cache = StixCache()
        self._tokens: NextTokens | None = None
        self._council: tuple[dict[str, Any], ...] | None = None

    def tokens(self, services: Services) -> NextTokens:
        if self._tokens is None:
            # Bound to the key ring: a `next` made here is refused by any other installation.
            self._tokens = NextTokens(services.ring.derive_key("taxii-next-v1"))
        return self._tokens

    def council(self) -> tuple[dict[str, Any], ...]:
        if self._council is None:
            self._council = council_objects(_TITLE)
        return self._council


_STATE: web.AppKey[_State] = web.AppKey("taxii_state", _State)
_TITLE = "Council broker"

routes = web.RouteTableDef()


def create_taxii_app() -> web.Application:
    """The TAXII 2.1 edge as a sub-application, mounted at `/taxii2`."""
    cache_pattern_validation()
    app = web.Application(middlewares=[taxii_errors])
    app.add_routes(routes)
    app[_STATE] = _State()
    return app


# -- errors, media types, authentication --------------------------------------


@web.middleware
async def taxii_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every failure as a TAXII error object (§3.6.1), never HTML or the native body."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except TaxiiError as error:
        return _error(error.status, error.title, error.description)
    except Unauthorized:
        response = _error(
            401,
            "Unauthorized",
            "send HTTP Basic with your user id as user name and your API token as "
            "password, or Authorization: Bearer <token>",
        )
        response.headers["WWW-Authenticate"] = _REALM
        return response
    except BrokerError as error:
        status = 400 if error.status == 422 else error.status
        return _error(status, error.code.replace("_", " ").capitalize(), error.message)
    except web.HTTPRequestEntityTooLarge:
        return _error(413, "Too large", "the request body is over max_content_length")
    except web.HTTPException as http:
        if http.status < 400:
            raise
        titles = {404: "Not found", 405: "Method not allowed"}
        response = _error(http.status, titles.get(http.status, "HTTP error"), http.reason)
        if "Allow" in http.headers:
            response.headers["Allow"] = http.headers["Allow"]
        return response
    except Exception:
        log.exception("taxii_unhandled_error")
        return _error(500, "Internal error", "internal error")


def _error(status: int, title: str, description: str) -> web.Response:
    return _respond(error_body(status, title, description), status)


def _respond(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    response = web.Response(
        body=json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        status=status,
        headers=headers,
    )
    response.headers["Content-Type"] = MEDIA_TYPE
    return response


def _check_accept(request: web.Request, *, stix_too: bool = False) -> None:
    """406 unless the Accept header admits the TAXII 2.1 media type (§1.6.8)."""
    accept = request.headers.get("Accept")
    if accept is None:
        return
    for media_range in accept.split(","):
        parts = [p.strip().lower() for p in media_range.split(";")]
        kind = parts[0]
        version = next((p.split("=", 1)[1] for p in parts[1:] if p.startswith("version=")), None)
        if kind in ("*/*", "application/*"):
            return
        if kind == "application/taxii+json" and version in (None, "2.1"):
            return
        if stix_too and kind == "application/stix+json" and version in (None, "2.1"):
            return
    raise TaxiiError(
        406,
        "Not acceptable",
        f"this server answers {MEDIA_TYPE}: send it in the Accept header",
    )


def _check_content_type(request: web.Request) -> None:
    """415 unless the body is the TAXII 2.1 media type (§1.6.8)."""
    parts = [p.strip().lower() for p in request.headers.get("Content-Type", "").split(";")]
    version = next((p.split("=", 1)[1] for p in parts[1:] if p.startswith("version=")), None)
    if parts[0] != "application/taxii+json" or version not in (None, "2.1"):
        raise TaxiiError(
            415,
            "Unsupported media type",
            f"send the envelope as Content-Type: {MEDIA_TYPE}",
        )


def _services(request: web.Request) -> Services:
    return request.config_dict[SERVICES]


async def _caller(request: web.Request) -> Actor:
    """The signed-in caller: HTTP Basic (user id, API token) or a bearer token.

    Both go through the native `Authenticator.authenticate`, so TAXII sign-ins
    are looked up, cached, refused and throttled exactly like native ones; a
    Basic user name that is not the token's user is refused like a bad token.
    """
    header = request.headers.get("Authorization", "")
    auth = _services(request).auth
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise Unauthorized("malformed Basic credentials") from None
        user_id, sep, token = decoded.partition(":")
        if not sep or not token:
            raise Unauthorized("malformed Basic credentials")
        caller = await auth.authenticate(
            f"Bearer {token}",
            address=source_address(request),
            certificate_user=certificate_user(request.transport),
        )
        if not constant_time_equals(user_id, caller.user_id):
            raise Unauthorized("the user id does not hold this token")
    else:
        caller = await auth.authenticate(
            header or None,
            address=source_address(request),
            certificate_user=certificate_user(request.transport),
        )
    structlog.contextvars.bind_contextvars(member_id=caller.member_id, user_id=caller.user_id)
    return caller


async def _denied(
    request: web.Request,
    caller: Actor,
    error: TaxiiError,
    action: AuditAction,
    reason: str,
    collection_id: str,
) -> TaxiiError:
    """Audit a refusal (SPEC §3 rule 10: every denial is audited), then the error to raise."""
    auditor = _services(request).auditor
    await auditor.record(
        auditor.draft(
            caller,
            action,
            "denied",
            reason=reason,
            details={"via": "taxii", "collection": collection_id[:64]},
        )
    )
    return error


async def _collection(request: web.Request, caller: Actor) -> tlp.CollectionSpec:
    """The request's collection, or an audited 404 for one unknown and one the
    caller may not use alike."""
    collection_id = request.match_info["collection"]
    spec = tlp.collection_by_id(collection_id)
    if spec is None or not tlp.may_use_collection(caller.reader, spec):
        raise await _denied(
            request,
            caller,
            TaxiiError(404, "Not found", "no collection with that id"),
            AuditAction.ITEM_LIST,
            "unknown_collection" if spec is None else "collection_not_for_role",
            collection_id,
        )
    return spec


def _collection_json(caller: Actor, spec: tlp.CollectionSpec) -> dict[str, Any]:
    return {
        "id": spec.id,
        "title": spec.title,
        "description": spec.description,
        "alias": spec.alias.value,
        "can_read": True,
        "can_write": tlp.may_write_collection(caller.reader, spec),
        "media_types": [STIX_MEDIA_TYPE],
    }


# -- discovery, api root, collections, status ---------------------------------


@routes.get("/")
async def discovery(request: web.Request) -> web.Response:
    """TAXII 2.1 §4.1: no authentication needed."""
    _check_accept(request)
    root = f"/taxii2/{API_ROOT}/"
    return _respond(
        {
            "title": _TITLE,
            "description": "TAXII 2.1 server of the council broker",
            "default": root,
            "api_roots": [root],
        }
    )


@routes.get(f"/{API_ROOT}/")
async def api_root(request: web.Request) -> web.Response:
    """TAXII 2.1 §4.2."""
    _check_accept(request)
    await _caller(request)
    return _respond(
        {
            "title": _TITLE,
            "description": "The council's collections",
            "versions": [MEDIA_TYPE],
            "max_content_length": request.config_dict[SETTINGS].max_body_bytes,
        }
    )


@routes.get(f"/{API_ROOT}/collections/")
async def collections(request: web.Request) -> web.Response:
    """TAXII 2.1 §5.1: the collections the caller's role may use, in a fixed order."""
    _check_accept(request)
    caller = await _caller(request)
    usable = [
        _collection_json(caller, spec)
        for spec in tlp.COLLECTIONS
        if tlp.may_use_collection(caller.reader, spec)
    ]
    return _respond({"collections": usable} if usable else {})


@routes.get(f"/{API_ROOT}/collections/{{collection}}/")
async def collection(request: web.Request) -> web.Response:
    """TAXII 2.1 §5.2."""
    _check_accept(request)
    caller = await _caller(request)
    spec = await _collection(request, caller)
    return _respond(_collection_json(caller, spec))


@routes.get(f"/{API_ROOT}/status/{{status}}/")
async def status(request: web.Request) -> web.Response:
    """TAXII 2.1 §4.3: only the caller that posted sees its status."""
    _check_accept(request)
    caller = await _caller(request)
    try:
        found = await _services(request).taxii.get(caller, request.match_info["status"])
    except BrokerError:
        raise TaxiiError(404, "Not found", "no status with that id (kept 24 hours)") from None
    return _respond(found)


# -- reading ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    """One object of a listing with where it sits and when it was added."""

    position: Position
    date_added: datetime
    item_id: str | None
    obj: dict[str, Any]


async def _walk(
    request: web.Request,
    caller: Actor,
    spec: tlp.CollectionSpec,
    filters: Filters,
    start: Position | None,
    want: int,
) -> list[_Entry]:
    """Up to `want` objects of the collection after `start`, in date_added order.

    The council's own objects come first; then each item's objects, item by
    item. `match[version]` keeps, of the versions of one id, those it names
    among the versions this walk meets.
    """
    entries: list[_Entry] = []
    if start is None or start[0] == "":
        entries.extend(_council_entries(request, filters, start[1] if start is not None else -1))
    if spec.alias is tlp.CollectionAlias.FEEDBACK:
        entries.extend(await _feedback_entries(request, caller, filters, start, want))
    elif tlp.may_use_collection(caller.reader, spec) and spec.kinds:
        items = _services(request).items
        cache = request.app[_STATE].cache
        after = start[0] if start is not None and start[0] else None
        resume = start if start is not None and start[0] else None
        inclusive = resume is not None
        # Items are opened a few at a time, as many as the page still needs at
        # the objects per item seen so far: an item may hold one object or a
        # hundred, and each opened item is built (and validated) in full.
        opened_items, found_objects = 0, 0
        while len(entries) < want:
            per_item = max(1.0, found_objects / opened_items) if opened_items else 0.0
            needed = want - len(entries)
            count = _FIRST_BATCH if not per_item else math.ceil(needed / per_item)
            opened, more = await items.collection_page(
                caller,
                spec,
                added_after=filters.added_after,
                after=after,
                count=max(1, min(_BATCH, count)),
                inclusive=inclusive,
            )
            inclusive = False
            for item in opened:
                objects = cache.objects(item)
                opened_items += 1
                found_objects += len(objects)
                entries.extend(_item_entries(objects, item, filters, resume))
            if more is None:
                break
            after = more
    return _by_version(entries, filters)[:want]


def _council_entries(request: web.Request, filters: Filters, skip: int = -1) -> list[_Entry]:
    """The council's own objects (served first in every collection) after index
    `skip` that pass `filters`."""
    if filters.added_after is not None and DEFINITIONS_ADDED <= filters.added_after:
        return []
    return [
        _Entry(("", index), DEFINITIONS_ADDED, None, obj)
        for index, obj in enumerate(request.app[_STATE].council())
        if index > skip and filters.keeps(obj)
    ]


async def _feedback_entries(
    request: web.Request, caller: Actor, filters: Filters, start: Position | None, want: int
) -> list[_Entry]:
    """The feedback the caller may see, ascending by when each answer was given.

    An answer's date_added is when it was given (or last changed), so a
    platform polling with `added_after` hears of every new answer, also on
    old items. Positions after the council's objects are "time|id".
    """
    answers = await taxii_feedback.feedback_objects(
        _services(request), caller, request.app[_STATE].cache
    )
    after = start[0] if start is not None and start[0] else ""
    out: list[_Entry] = []
    for item, at, obj in answers:
        key = f"{rfc3339(at)}|{obj['id']}"
        if key <= after or (filters.added_after is not None and at <= filters.added_after):
            continue
        if filters.keeps(obj):
            out.append(_Entry((key, 0), at, item.item.id, obj))
        if len(out) >= want:
            break
    return out


def _item_entries(
    objects: list[dict[str, Any]],
    item: OpenedItem,
    filters: Filters,
    resume: Position | None,
) -> list[_Entry]:
    out: list[_Entry] = []
    for index, obj in enumerate(objects):
        if resume is not None and item.item.id == resume[0] and index <= resume[1]:
            continue
        if filters.keeps(obj):
            out.append(_Entry((item.item.id, index), item.item.created_at, item.item.id, obj))
    return out


def _by_version(entries: list[_Entry], filters: Filters) -> list[_Entry]:
    if filters.versions == ("all",):
        return entries
    versions: dict[str, list[str]] = {}
    for entry in entries:
        versions.setdefault(str(entry.obj.get("id")), []).append(version_of(entry.obj))
    kept = {object_id: versions_kept(filters, found) for object_id, found in versions.items()}
    return [e for e in entries if version_of(e.obj) in kept[str(e.obj.get("id"))]]


def _date_headers(entries: list[_Entry]) -> dict[str, str]:
    # TAXII 2.1 §3.3: the date_added of the first and last object on the page.
    if not entries:
        return {}
    return {
        "X-TAXII-Date-Added-First": rfc3339(entries[0].date_added),
        "X-TAXII-Date-Added-Last": rfc3339(entries[-1].date_added),
    }


async def _page(
    request: web.Request, caller: Actor, allowed: tuple[str, ...]
) -> tuple[tlp.CollectionSpec, list[_Entry], bool, str | None]:
    """A page of the collection: its entries, whether there is more, the `next`."""
    spec = await _collection(request, caller)
    settings = request.config_dict[SETTINGS]
    query = request.rel_url.query
    filters = parse_filters(query, allowed)
    limit = parse_limit(query, settings.max_page_size)
    tokens = request.app[_STATE].tokens(_services(request))
    start = None
    if "next" in query:
        start = tokens.check(query["next"], caller.user_id, filters)
    entries = await _walk(request, caller, spec, filters, start, limit + 1)
    more = len(entries) > limit
    page = entries[:limit]
    next_token = tokens.make(caller.user_id, filters, page[-1].position) if more else None
    await _services(request).items.record_listing(
        caller,
        [e.item_id for e in page if e.item_id is not None],
        {"via": "taxii", "collection": spec.alias.value},
    )
    return spec, page, more, next_token


_LISTING_FIELDS = ("id", "type", "version", "spec_version")


@routes.get(f"/{API_ROOT}/collections/{{collection}}/objects/")
async def get_objects(request: web.Request) -> web.Response:
    """TAXII 2.1 §5.4: an envelope, ascending by date_added."""
    _check_accept(request, stix_too=True)
    caller = await _caller(request)
    _, page, more, next_token = await _page(request, caller, _LISTING_FIELDS)
    envelope: dict[str, Any] = {"more": more}
    if next_token is not None:
        envelope["next"] = next_token
    if page:
        envelope["objects"] = [e.obj for e in page]
    return _respond(envelope, headers=_date_headers(page))


@routes.get(f"/{API_ROOT}/collections/{{collection}}/manifest/")
async def get_manifest(request: web.Request) -> web.Response:
    """TAXII 2.1 §5.3: one record per object version."""
    _check_accept(request, stix_too=True)
    caller = await _caller(request)
    _, page, more, next_token = await _page(request, caller, _LISTING_FIELDS)
    manifest: dict[str, Any] = {"more": more}
    if next_token is not None:
        manifest["next"] = next_token
    if page:
        manifest["objects"] = [
            {
                "id": e.obj["id"],
                "date_added": rfc3339(e.date_added),
                "version": version_of(e.obj),
                "media_type": STIX_MEDIA_TYPE,
            }
            for e in page
        ]
    return _respond(manifest, headers=_date_headers(page))


async def _named(
    request: web.Request, caller: Actor, spec: tlp.CollectionSpec, filters: Filters
) -> list[_Entry]:
    """Every version of the objects `filters.ids` names that the caller may read,
    in date_added order, as a walk of the whole collection would give them.

    An item collection finds the items holding them through the STIX object
    index (`ItemService.collection_items_holding`, the same decision as a
    listing); the feedback collection, made of answers, is walked.
    """
    if spec.alias is tlp.CollectionAlias.FEEDBACK or not spec.kinds:
        return await _walk(request, caller, spec, filters, None, 1 << 30)
    entries = _council_entries(request, filters)
    cache = request.app[_STATE].cache
    holding = await _services(request).items.collection_items_holding(
        caller, spec, sorted(filters.ids or ())
    )
    for item in holding:
        if filters.added_after is None or item.item.created_at > filters.added_after:
            entries.extend(_item_entries(cache.objects(item), item, filters, None))
    return _by_version(entries, filters)


@routes.get(f"/{API_ROOT}/collections/{{collection}}/objects/{{object}}/")
async def get_object(request: web.Request) -> web.Response:
    """TAXII 2.1 §5.6: the versions of one object the caller may read."""
    _check_accept(request, stix_too=True)
    caller = await _caller(request)
    spec = await _collection(request, caller)
    settings = request.config_dict[SETTINGS]
    query = request.rel_url.query
    parsed = parse_filters(query, ("version", "spec_version"))
    limit = parse_limit(query, settings.max_page_size)
    filters = Filters(
        added_after=parsed.added_after,
        ids=frozenset({request.match_info["object"]}),
        versions=parsed.versions,
        spec_versions=parsed.spec_versions,
    )
    found = await _named(request, caller, spec, filters)
    if not found:
        raise TaxiiError(404, "Not found", "no object with that id in this collection")
    page = found[:limit]
    await _services(request).items.record_reads(
        caller,
        [e.item_id for e in page if e.item_id is not None],
        {"via": "taxii", "collection": spec.alias.value},
    )
    envelope: dict[str, Any] = {"more": len(found) > limit, "objects": [e.obj for e in page]}
    return _respond(envelope, headers=_date_headers(page))


@routes.get(f"/{API_ROOT}/collections/{{collection}}/objects/{{object}}/versions/")
async def get_versions(request: web.Request) -> web.Response:
    """TAXII 2.1 §5.8: every version of one object the caller may read."""
    _check_accept(request)
    caller = await _caller(request)
    spec = await _collection(request, caller)
    settings = request.config_dict[SETTINGS]
    query = request.rel_url.query
    parsed = parse_filters(query, ("spec_version",))
    limit = parse_limit(query, settings.max_page_size)
    filters = Filters(
        added_after=parsed.added_after,
        ids=frozenset({request.match_info["object"]}),
        versions=("all",),
        spec_versions=parsed.spec_versions,
    )
    found = await _named(request, caller, spec, filters)
    if not found:
        raise TaxiiError(404, "Not found", "no object with that id in this collection")
    versions = sorted(dict.fromkeys(version_of(e.obj) for e in found))
    await _services(request).items.record_reads(
        caller,
        [e.item_id for e in found if e.item_id is not None],
        {"via": "taxii", "collection": spec.alias.value, "versions": True},
    )
    return _respond(
        {"more": len(versions) > limit, "versions": versions[:limit]},
        headers=_date_headers(found),
    )


@routes.delete(f"/{API_ROOT}/collections/{{collection}}/objects/{{object}}/")
async def delete_object(request: web.Request) -> web.Response:
    """Council items are withdrawn, not deleted: 403 (docs/taxii.md)."""
    _check_accept(request)
    caller = await _caller(request)
    spec = await _collection(request, caller)
    raise await _denied(
        request,
        caller,
        TaxiiError(
            403,
            "Forbidden",
            "objects are not deleted over TAXII: the provider withdraws its item with "
            "POST /v1/items/{id}/withdraw",
        ),
        AuditAction.ITEM_WITHDRAW,
        "taxii_delete",
        spec.id,
    )


# -- posting ------------------------------------------------------------------


@routes.post(f"/{API_ROOT}/collections/{{collection}}/objects/")
async def add_objects(request: web.Request) -> web.Response:
    """TAXII 2.1 §5.5: one envelope is one council item (or, in the feedback
    collection, answers); 202 with the stored status."""
    _check_accept(request)
    _check_content_type(request)
    caller = await _caller(request)
    spec = await _collection(request, caller)
    if not tlp.may_write_collection(caller.reader, spec):
        raise await _denied(
            request,
            caller,
            TaxiiError(403, "Forbidden", "your role may read this collection, not add to it"),
            AuditAction.ITEM_SUBMIT,
            "collection_read_only",
            spec.id,
        )
    objects = await _envelope_objects(request)
    services = _services(request)
    head = {"status": "complete", "request_timestamp": rfc3339(services.clock())}
    if spec.alias is tlp.CollectionAlias.FEEDBACK:
        cache = request.app[_STATE].cache
        answered = await taxii_feedback.post_answers(services, caller, objects, cache)
        stored = await services.taxii.save(caller, {**head, **answered})
    else:
        stored = await post_envelope(services, caller, spec, objects, head)
    return _respond(stored, 202)


async def _envelope_objects(request: web.Request) -> list[Any]:
    settings = request.config_dict[SETTINGS]
    limit = settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise TaxiiError(413, "Too large", f"the envelope is over {limit} bytes")
    raw = await request.read()
    if len(raw) > limit:
        raise TaxiiError(413, "Too large", f"the envelope is over {limit} bytes")
    if nests_deeper_than(raw, settings.max_json_depth):
        raise TaxiiError(400, "Bad envelope", "the envelope nests too deeply")
    try:
        data = json.loads(raw or b"null")
    except (RecursionError, UnicodeDecodeError, json.JSONDecodeError):
        raise TaxiiError(400, "Bad envelope", "the body is not valid JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("objects"), list):
        raise TaxiiError(
            400, "Bad envelope", 'the body is a TAXII envelope: {"objects": [STIX objects]}'
        )
    objects: list[Any] = data["objects"]
    if not objects:
        raise TaxiiError(400, "Bad envelope", "the envelope holds no objects")
    if len(objects) > 10_000:
        raise TaxiiError(413, "Too large", "an envelope holds at most 10000 objects")
    return objects
