"""The MISP feed (`/misp/feed/`) and MISP sightings (`/misp/sightings`).

A MISP administrator adds the council as a feed of the "MISP Feed" format,
with the member's token in a custom `Authorization: Bearer ...` header. The
feed holds exactly what `GET /v1/inbox` lists and `GET /v1/items/{id}` opens
for that token, each audited the same way: the manifest is an audited
listing (a page at a time, `item.list`), each event file and every item
behind `hashes.csv` an audited read (`item.read`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

from aiohttp import web
from pymisp import MISPEvent, MISPSighting

from broker.api.common import actor, operation, respond, services
from broker.domain.items import ItemSummary, OpenedItem
from broker.domain.obligations import OwedObligation
from broker.errors import InvalidInput, MalformedJson, NotFound
from broker.feedback import ObligationKind, ObligationStatus
from broker.misp.events import (
    event_file,
    hash_lines,
    item_event,
    item_id_of,
    manifest_entry,
    sightable,
)
from broker.misp.imports import parse_event, propose
from broker.services import Actor, Services

__all__ = ["routes"]

routes = web.RouteTableDef()
TAG = "misp"

_PAGE = 100
"""Items per audited listing page while streaming the manifest: the first byte
leaves after one page, whatever the feed's size."""

_SIGHTING = "0"
_FALSE_POSITIVE = "1"


async def _provider_names(svc: Services, item_ids: Iterable[str]) -> dict[str, str]:
    return await svc.members.provider_names(list(item_ids))


async def _pages(svc: Services, caller: Actor) -> Any:
    """The caller's inbox, oldest first, an audited page at a time."""
    cursor: str | None = None
    while True:
        page = await svc.items.inbox(caller, _PAGE, cursor, True)
        yield page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


@routes.get("/misp/feed/manifest.json")
@operation(
    "get",
    "/misp/feed/manifest.json",
    "The caller's MISP feed manifest: one entry per item it may open",
    tag=TAG,
)
async def manifest(request: web.Request) -> web.StreamResponse:
    caller = await actor(request)
    svc = services(request)
    pages = _pages(svc, caller)
    first: tuple[ItemSummary, ...] = await anext(pages)
    response = web.StreamResponse(headers={"Content-Type": "application/json; charset=utf-8"})
    await response.prepare(request)
    separator = b"{"
    batch = first
    while True:
        names = await _provider_names(svc, (s.item.facts.provider_id for s in batch))
        chunk = bytearray()
        for summary in batch:
            provider_id = summary.item.facts.provider_id
            entry = manifest_entry(summary.item, summary.title, names.get(provider_id, provider_id))
            for uuid, fields in entry.items():
                chunk += separator + json.dumps(uuid).encode() + b":" + _dumps(fields)
                separator = b","
        if chunk:
            await response.write(bytes(chunk))
        try:
            batch = await anext(pages)
        except StopAsyncIteration:
            break
    await response.write(b"}" if separator == b"," else b"{}")
    await response.write_eof()
    return response


@routes.get("/misp/feed/hashes.csv")
@operation(
    "get",
    "/misp/feed/hashes.csv",
    "MD5s of every attribute value of the caller's feed (MISP's correlation cache)",
    tag=TAG,
)
async def hashes(request: web.Request) -> web.StreamResponse:
    caller = await actor(request)
    svc = services(request)
    response = web.StreamResponse(headers={"Content-Type": "text/csv; charset=utf-8"})
    await response.prepare(request)
    async for batch in _pages(svc, caller):
        names = await _provider_names(svc, (s.item.facts.provider_id for s in batch))
        lines: list[str] = []
        for summary in batch:
            opened = await svc.items.read(caller, summary.item.id)
            event = await _event(opened, names)
            lines.extend(hash_lines(event))
        if lines:
            await response.write("".join(lines).encode())
    await response.write_eof()
    return response


@routes.get("/misp/feed/{uuid}.json")
@operation(
    "get",
    "/misp/feed/{uuid}.json",
    "One item as a MISP event (the same read as GET /v1/items/{id})",
    tag=TAG,
)
async def event(request: web.Request) -> web.Response:
    caller = await actor(request)
    svc = services(request)
    item_id = item_id_of(request.match_info["uuid"])
    if item_id is None:
        raise NotFound("not found", field="uuid")
    opened = await svc.items.read(caller, item_id)
    names = await _provider_names(svc, [opened.item.facts.provider_id])
    return web.Response(
        body=_dumps(event_file(await _event(opened, names))),
        content_type="application/json",
        charset="utf-8",
    )


async def _event(opened: OpenedItem, names: dict[str, str]) -> MISPEvent:
    provider_id = opened.item.facts.provider_id
    # misp-stix is CPU work: off the event loop.
    return await asyncio.to_thread(item_event, opened, names.get(provider_id, provider_id))


@routes.post("/misp/proposals")
@operation(
    "post",
    "/misp/proposals",
    "What a MISP event would become as an item (title, TLP, kind, scope), before sending it",
    tag=TAG,
    responses={
        200: "the proposed title, TLP, kind, confidence, scope and number of STIX objects",
        400: "the body is not JSON (`malformed_json`)",
        422: "not a MISP event, or a sharing group naming organisations that are not members",
    },
)
async def proposal(request: web.Request) -> web.Response:
    caller = await actor(request)
    data = await _json(request)
    if not isinstance(data, dict) or not isinstance(data.get("misp_event"), dict):
        raise InvalidInput("give the MISP event as misp_event", field="misp_event")
    event = parse_event(data["misp_event"])
    roster = await services(request).members.roster()
    proposed = await asyncio.to_thread(propose, event, caller.member_id, roster)
    return respond(
        {
            "title": proposed.title,
            "tlp": None if proposed.tlp is None else str(proposed.tlp),
            "kind": None if proposed.kind is None else str(proposed.kind),
            "confidence": None if proposed.confidence is None else str(proposed.confidence),
            "scope": proposed.scope.to_json(),
            "stix_objects": 0 if proposed.stix is None else len(proposed.stix["objects"]),
        }
    )


@routes.post("/misp/sightings")
@operation(
    "post",
    "/misp/sightings",
    "MISP sightings as quick answers: a sighting is `came`, a false positive `not_came`",
    tag=TAG,
    responses={
        200: "the answers given, and the sightings that matched nothing",
        400: "the body is not JSON (`malformed_json`)",
        422: "not a MISP sighting, or no sighting matched what the caller's member owes",
    },
)
async def sightings(request: web.Request) -> web.Response:
    caller = await actor(request)
    svc = services(request)
    wanted = [_verdict(s) for s in _parse_sightings(await _json(request))]
    items = await _sightable_items(svc, caller, await _answerable(svc, caller))
    answered: list[dict[str, Any]] = []
    problems: list[str] = []
    for index, (sighting, verdict) in enumerate(wanted):
        item_id = _match(items, sighting)
        if item_id is None:
            problems.append(
                f"sighting {index}: matches no attribute of an item you owe a quick answer on"
            )
            continue
        answer = await svc.feedback.answer(caller, item_id, verdict, _comment(sighting))
        answered.append({"item_id": item_id, "answer": verdict, "change": str(answer.change)})
    if problems and not answered:
        raise InvalidInput("; ".join(problems), field="sighting")
    return respond({"answers": answered, "unmatched": problems})


async def _json(request: web.Request) -> Any:
    try:
        return json.loads(await request.read() or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MalformedJson("the body is not valid JSON") from None


def _parse_sightings(data: Any) -> list[MISPSighting]:
    """MISP's sighting JSON: one sighting, `{"Sighting": ...}`, or a list of either."""
    items = data if isinstance(data, list) else [data]
    parsed: list[MISPSighting] = []
    for raw in items[:100]:
        if isinstance(raw, dict) and "Sighting" in raw:
            raw = raw["Sighting"]
        if not isinstance(raw, dict):
            raise InvalidInput("a sighting is a JSON object", field="sighting")
        sighting = MISPSighting()
        values = raw.get("values")
        if isinstance(values, list) and values and "value" not in raw:
            raw = {**raw, "value": values[0]}
        try:
            sighting.from_dict(**{k: v for k, v in raw.items() if k != "values"})
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise InvalidInput(f"not a MISP sighting: {exc}", field="sighting") from None
        if not any(getattr(sighting, name, None) for name in ("attribute_uuid", "uuid", "value")):
            raise InvalidInput(
                "a sighting names its attribute: give attribute_uuid, uuid or value",
                field="sighting",
            )
        parsed.append(sighting)
    if not parsed:
        raise InvalidInput("no sighting given", field="sighting")
    return parsed


def _verdict(sighting: MISPSighting) -> tuple[MISPSighting, str]:
    kind = str(getattr(sighting, "type", _SIGHTING) or _SIGHTING)
    if kind == _SIGHTING:
        return sighting, "came"
    if kind == _FALSE_POSITIVE:
        return sighting, "not_came"
    raise InvalidInput(
        "only sightings (type 0) and false positives (type 1) are answers; "
        "an expiration (type 2) has no council meaning",
        field="type",
    )


def _comment(sighting: MISPSighting) -> str | None:
    source = getattr(sighting, "source", None)
    return f"MISP sighting from {source}"[:500] if source else "MISP sighting"


async def _answerable(svc: Services, caller: Actor) -> list[OwedObligation]:
    """What a sighting may answer: open quick answers, and answered ones before their
    due time (an answer may change until then, SPEC §4)."""
    owed: list[OwedObligation] = []
    cursor: str | None = None
    now = svc.clock()
    while len(owed) < 1000:
        page = await svc.feedback.obligations(caller, 200, cursor, "all")
        owed.extend(
            entry
            for entry in page.items
            if entry.obligation.kind is ObligationKind.QUICK_ANSWER
            and (
                entry.obligation.status is ObligationStatus.OPEN
                or (
                    entry.obligation.status is ObligationStatus.ANSWERED
                    and entry.obligation.due_at > now
                )
            )
        )
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return owed


async def _sightable_items(
    svc: Services, caller: Actor, owed: list[OwedObligation]
) -> list[tuple[str, frozenset[str]]]:
    """Each item the caller owes a quick answer on, with the uuids and values of
    the attributes its event holds (each item opened once: an audited read)."""
    found: list[tuple[str, frozenset[str]]] = []
    for item_id in dict.fromkeys(entry.obligation.item_id for entry in owed):
        opened = await svc.items.read(caller, item_id)
        if opened.content is None:
            continue  # withdrawn
        names = {opened.item.facts.provider_id: opened.item.facts.provider_id}
        keys = {part for pair in sightable(await _event(opened, names)) for part in pair}
        found.append((item_id, frozenset(keys)))
    return found


def _match(items: list[tuple[str, frozenset[str]]], sighting: MISPSighting) -> str | None:
    """The item whose event holds the sighted attribute (by uuid, else by value)."""
    references = [
        str(getattr(sighting, name, "") or "") for name in ("attribute_uuid", "uuid", "value")
    ]
    for reference in filter(None, references):
        for item_id, keys in items:
            if reference in keys:
                return item_id
    return None


def _dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
