"""A posted envelope becomes one council item, through the submissions service.

docs/taxii.md "Mapping between envelopes and items": one envelope, one item
(one routing decision, one set of obligations, one audit event, encrypted
like any item). All or nothing: if any object fails, no item is created and
every object is reported with its reason. The item's TLP is the strictest
TLP marking among the objects; an unmarked envelope is refused. Re-posting
the same objects (same ids and `modified`), by any user of the same member,
is a success that creates nothing new: the envelope is submitted under a key
made of its collection and its objects' ids and versions, looked up among the
member's items, so the submissions service answers the first item again.
The status resource of an envelope that became an item is written in the
item's own transaction: one durable commit per envelope.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from broker import tlp
from broker.domain import Actor, Confidence, Group, Scope
from broker.domain.items import SubmitResult
from broker.errors import BrokerError
from broker.services import Services
from broker.services.submissions import SubmitDraft
from broker.taxii.stix import PostedObject, envelope_tlp, parse_posted

__all__ = ["outcome", "parse_off_loop", "post_envelope"]

# Parsing with stix2 costs about a millisecond an object: a large envelope is
# parsed in a worker thread so that other requests keep being served.
_INLINE_OBJECTS = 20


async def parse_off_loop(objects: Sequence[Any], *, items: bool = True) -> list[PostedObject]:
    """`parse_posted`, in a worker thread for envelopes of more than a few objects."""
    if len(objects) <= _INLINE_OBJECTS:
        return parse_posted(objects, items=items)
    return await asyncio.to_thread(partial(parse_posted, objects, items=items))


def outcome(
    posted: Sequence[PostedObject],
    failures: Mapping[int, str],
    messages: Mapping[int, str] | None = None,
) -> dict[str, Any]:
    """The counts and lists of a TAXII status resource (§4.3.1)."""
    messages = messages or {}
    successes = [
        {
            "id": p.id,
            "version": p.version,
            **({"message": messages[p.index]} if p.index in messages else {}),
        }
        for p in posted
        if p.index not in failures
    ]
    failed = [
        {"id": p.id, "version": p.version, "message": failures[p.index]}
        for p in posted
        if p.index in failures
    ]
    result: dict[str, Any] = {
        "total_count": len(posted),
        "success_count": len(successes),
        "failure_count": len(failed),
        "pending_count": 0,
    }
    if successes:
        result["successes"] = successes
    if failed:
        result["failures"] = failed
    return result


def _all_fail(posted: Sequence[PostedObject], reason: str) -> dict[str, Any]:
    own = {p.index: p.failure for p in posted if p.failure is not None}
    return outcome(posted, {p.index: own.get(p.index) or reason for p in posted})


def _agreed(values: list[Any], name: str) -> Any:
    """The one value the objects give `name`, None if none does; ValueError on two."""
    distinct = []
    for value in values:
        if value is not None and value not in distinct:
            distinct.append(value)
    if len(distinct) > 1:
        raise ValueError(
            f"the objects of one envelope disagree on {name}: one envelope is one item, "
            "post objects with different values in separate envelopes"
        )
    return distinct[0] if distinct else None


def _title(content: Sequence[PostedObject]) -> str:
    named = next((p.data["name"] for p in content if p.data and p.data.get("name")), None)
    kinds = ", ".join(dict.fromkeys(p.type for p in content))
    title = f"{named} ({kinds})" if named else f"STIX {kinds}"
    return str(title)[:300]


async def _sources(services: Services, caller: Actor, named: Sequence[str]) -> tuple[str, ...]:
    """`derived_from` as item ids (docs/taxii.md): a STIX id stands for every item
    holding that object which the caller may read; an item id stays as it is.

    A STIX id that names no such item is passed on unchanged, so the submission
    refuses it exactly as it refuses an unknown item id: the same answer for
    absent and hidden, and an audited denial.
    """
    resolved: list[str] = []
    for name in named:
        holding = (
            await services.items.readable_items_holding(caller, [name]) if "--" in name else []
        )
        resolved.extend(holding or [name])
    return tuple(dict.fromkeys(resolved))


async def post_envelope(
    services: Services,
    caller: Actor,
    spec: tlp.CollectionSpec,
    objects: Sequence[Any],
    head: Mapping[str, Any],
) -> dict[str, Any]:
    """Submit the envelope as one item of `spec`'s kind; the stored status
    resource, `head` (status, request time) with the counts."""

    async def without_item(counts: dict[str, Any]) -> dict[str, Any]:
        return await services.taxii.save(caller, {**head, **counts})

    posted = await parse_off_loop(objects)
    if any(p.failure is not None for p in posted):
        return await without_item(
            _all_fail(posted, "another object of this envelope failed: nothing was added")
        )
    content = [p for p in posted if not p.definition]
    if not content:
        # Marking- and extension-definitions alone are welcome and make no item.
        return await without_item(outcome(posted, {}))
    data = [p.data for p in posted if p.data is not None]
    label = envelope_tlp(data)
    if label is None:
        return await without_item(
            _all_fail(
                posted,
                "no object carries a TLP marking: council information is always marked; "
                "add object_marking_refs with a TLP 2.0 marking-definition id",
            )
        )
    council = [p.council for p in content if p.council is not None]
    try:
        scope = _agreed([c.scope for c in council], "scope")
        confidence = _agreed([c.confidence for c in council], "confidence")
        derived = _agreed([c.derived_from for c in council], "derived_from")
        due = _agreed([c.feedback_due for c in council], "feedback_due")
    except ValueError as exc:
        return await without_item(_all_fail(posted, str(exc)))
    assert spec.post_kind is not None  # may_write_collection admits no other
    default_scope = Scope(groups=frozenset(Group(g) for g in spec.post_groups))
    confidence = confidence or spec.post_confidence or Confidence.UNCONFIRMED
    if scope is not None and not await services.taxii.narrows(
        caller, spec.post_kind, confidence, scope, default_scope
    ):
        return await without_item(
            _all_fail(
                posted,
                f"the scope reaches beyond the collection's ({', '.join(spec.post_groups)}): "
                "an object's scope may narrow the collection's, never widen it",
            )
        )
    derived = await _sources(services, caller, derived or ())
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": data}
    identity = sorted(f"{p.id}|{p.version}" for p in posted)
    key = "taxii-" + hashlib.sha256("\n".join([spec.id, *identity]).encode()).hexdigest()

    def as_sent() -> dict[str, Any]:
        # What the re-post key identifies: the collection and the objects themselves.
        return {"collection": spec.id, "objects": data}

    def counts(result: SubmitResult) -> dict[str, Any]:
        return {**head, **outcome(posted, {}, {p.index: f"item {result.id}" for p in content})}

    receipt = services.taxii.receipt(caller, counts)

    draft = SubmitDraft(
        kind=spec.post_kind,
        title=_title(content),
        body=None,
        stix=bundle,
        tlp=label,
        secret=any(c.secret for c in council),
        confidence=confidence,
        scope=scope or default_scope,
        derived_from=derived or (),
        victim=None,
        feedback_due=due,
        as_sent=as_sent,
        receipt=receipt,
        key_per_member=True,
    )
    try:
        result = await services.submissions.submit(caller, draft, key)
    except BrokerError as error:
        if error.status == 409:
            reason = (
                "an object with this id and version was already added with other content: "
                "STIX versions are immutable, give the changed object a new modified"
            )
        else:
            reason = f"the item was refused: {error.message}"
        return await without_item(_all_fail(posted, reason))
    return receipt.body(result)
