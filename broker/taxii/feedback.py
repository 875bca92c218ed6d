"""Feedback in STIX: the `feedback` collection (docs/taxii.md "Feedback in STIX").

A posted `sighting` whose `sighting_of_ref` names an object of an item the
caller's member owes a quick answer on is the answer `came` (or the council
extension's `verdict`: `not_came`, `unknown`); an `opinion` whose
`object_refs` name such objects is expert feedback (`agree`/`strongly-agree`
confirm, `disagree`/`strongly-disagree` refute, `neutral` additional
information, `explanation` the comment). Each is exactly a native answer
(`FeedbackService.answer`: the obligation closes, the ledger counts it, the
provider's stream hears of it, the audit records it). Answers are
independent: each object succeeds or fails on its own.

Listing it shows the feedback the caller may see, as `GET
/v1/items/{id}/feedback` shows it: its own answers, and every answer on the
items it provided (`broker.tlp.feedback_view`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import stix2

from broker import tlp
from broker.domain import Actor
from broker.domain.items import OpenedItem
from broker.domain.obligations import Answer
from broker.errors import BrokerError
from broker.feedback import Verdict
from broker.services import Services
from broker.taxii.posting import outcome, parse_off_loop
from broker.taxii.stix import EXTENSION_ID, IDENTITY_ID, StixCache, note_id_for

__all__ = ["feedback_objects", "post_answers"]

_OPINIONS = {
    "strongly-agree": Verdict.CONFIRM,
    "agree": Verdict.CONFIRM,
    "neutral": Verdict.ADDITIONAL_INFO,
    "disagree": Verdict.REFUTE,
    "strongly-disagree": Verdict.REFUTE,
}
_AS_OPINION = {
    Verdict.CONFIRM: "agree",
    Verdict.REFUTE: "disagree",
    Verdict.ADDITIONAL_INFO: "neutral",
}
_NAMESPACE = uuid.UUID("0ab61d92-cb3d-4acf-92de-5c2233c3325f")
_INBOX_ID = "5d3c6f0e-8a2b-4c1e-9f47-1b2a3c4d5e05"
_OWED_PAGES = 10  # pages of obligations searched for the objects an answer names


async def _owed_items(services: Services, caller: Actor) -> list[OpenedItem]:
    """The items the caller's member owes (or owed) feedback on that the caller may open."""
    limit = services.settings.max_page_size
    item_ids: list[str] = []
    cursor: str | None = None
    for _ in range(_OWED_PAGES):
        page = await services.feedback.obligations(caller, limit, cursor, "all")
        item_ids.extend(entry.obligation.item_id for entry in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    return await services.items.opened_many(caller, item_ids)


def _index(items: Sequence[OpenedItem], cache: StixCache) -> dict[str, str]:
    """Every STIX id (and item id) an answer may name, to its item id."""
    found: dict[str, str] = {}
    for item in items:
        found[item.item.id] = item.item.id
        found[note_id_for(item.item.id)] = item.item.id
        for obj in cache.objects(item):
            found.setdefault(str(obj.get("id")), item.item.id)
    return found


async def post_answers(
    services: Services, caller: Actor, objects: Sequence[Any], cache: StixCache
) -> dict[str, Any]:
    """Answer through the feedback service, one answer per sighting or opinion."""
    posted = await parse_off_loop(objects, items=False)
    failures: dict[int, str] = {p.index: p.failure for p in posted if p.failure is not None}
    messages: dict[int, str] = {}
    targets = _index(await _owed_items(services, caller), cache)
    for p in posted:
        if p.index in failures or p.definition or p.data is None:
            continue
        if p.type == "sighting":
            item_id = targets.get(str(p.data.get("sighting_of_ref")))
            verdict = (p.council.verdict if p.council else None) or Verdict.CAME.value
            comment = None
        elif p.type == "opinion":
            refs = [targets.get(str(r)) for r in p.data.get("object_refs", [])]
            named = {r for r in refs if r is not None}
            if len(named) > 1:
                failures[p.index] = "an opinion answers one item: name objects of one item only"
                continue
            item_id = next(iter(named), None)
            verdict = _OPINIONS[str(p.data.get("opinion"))].value
            comment = p.data.get("explanation")
        else:
            failures[p.index] = (
                "the feedback collection takes sightings (quick answers) and opinions "
                "(expert feedback)"
            )
            continue
        if item_id is None:
            failures[p.index] = (
                "it names no object of an item your member owes feedback on: "
                "see GET /v1/obligations"
            )
            continue
        try:
            answered = await services.feedback.answer(caller, item_id, verdict, comment)
        except BrokerError as error:
            failures[p.index] = error.message
            continue
        messages[p.index] = f"{answered.obligation.verdict} on item {item_id}"
    return outcome(posted, failures, messages)


def _answer_object(answer: Answer, target: str, member: str | None) -> dict[str, Any]:
    """One answer as a STIX sighting (quick answer) or opinion (expert feedback)."""
    ob = answer.obligation
    at = ob.answered_at
    assert at is not None and ob.verdict is not None
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    block: dict[str, Any] = {
        "extension_type": "property-extension",
        "item_id": ob.item_id,
        "verdict": ob.verdict.value,
        "late": ob.late,
    }
    if member is not None:
        block["member"] = member
    if ob.verdict in _AS_OPINION:
        built: Any = stix2.Opinion(
            id=f"opinion--{uuid.uuid5(_NAMESPACE, ob.id)}",
            created=stamp,
            modified=stamp,
            opinion=_AS_OPINION[ob.verdict],
            explanation=ob.comment,
            object_refs=[target],
            extensions={EXTENSION_ID: block},
            allow_custom=True,
        )
    else:
        built = stix2.Sighting(
            id=f"sighting--{uuid.uuid5(_NAMESPACE, ob.id)}",
            created=stamp,
            modified=stamp,
            sighting_of_ref=target,
            where_sighted_refs=[IDENTITY_ID],
            count=1 if ob.verdict is Verdict.CAME else 0,
            extensions={EXTENSION_ID: block},
            allow_custom=True,
        )
    data: dict[str, Any] = json.loads(built.serialize())
    return data


async def feedback_objects(
    services: Services, caller: Actor, cache: StixCache
) -> list[tuple[OpenedItem, datetime, dict[str, Any]]]:
    """The answers the caller may see, as STIX objects with their item and the time
    each was given, oldest first: its member's own answers, and every answer
    on the items it provided (each item's feedback read audited as natively)."""
    owed = await _owed_items(services, caller)
    provided = await _provided_items(services, caller)
    items = list({i.item.id: i for i in [*owed, *provided]}.values())
    out: list[tuple[OpenedItem, datetime, dict[str, Any]]] = []
    for item in items:
        try:
            seen = await services.feedback.feedback(caller, item.item.id)
        except BrokerError:
            continue  # no feedback view for this reader: nothing to show
        objects = cache.objects(item)
        target = str(objects[0]["id"]) if objects else note_id_for(item.item.id)
        answers: list[tuple[Answer, str | None]] = []
        if seen.answers is not None:
            answers = [(a.answer, a.member_name) for a in seen.answers]
        elif seen.own is not None:
            answers = [(seen.own, None)]
        for answer, member in answers:
            at = answer.obligation.answered_at
            if answer.obligation.verdict is not None and at is not None:
                out.append((item, at, _answer_object(answer, target, member)))
    out.sort(key=lambda entry: (entry[1], str(entry[2]["id"])))
    return out


async def _provided_items(services: Services, caller: Actor) -> list[OpenedItem]:
    """The task-force items the caller's member provided that ask for feedback."""
    inbox = tlp.collection_by_id(_INBOX_ID)
    assert inbox is not None
    found: list[OpenedItem] = []
    after: str | None = None
    while True:
        page, more = await services.items.collection_page(
            caller, inbox, added_after=None, after=after, count=500
        )
        found.extend(
            i
            for i in page
            if i.item.facts.provider_id == caller.member_id and i.item.feedback_due is not None
        )
        if more is None:
            return found
        after = more
