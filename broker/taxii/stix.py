"""STIX 2.1 in and out of the council, through the OASIS `stix2` library.

Out: the council's own objects (its identity, the council extension-definition
with its JSON schema, the TLP 2.0 marking-definitions) and each item as STIX,
built as `stix2` objects: a bundle item's objects with the reader's council
extension and the item's TLP 2.0 marking, a text-only item as a `note` whose
id is derived from the item id (UUIDv5). In: every posted object parsed and
validated by `stix2`, the council extension's properties read and checked
(docs/taxii.md "The council extension").
"""

from __future__ import annotations

import functools
import json
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stix2
import stix2.v21.sdo
from pydantic import ValidationError

from broker import tlp
from broker.api.models import ScopeIn
from broker.domain import Confidence, Scope, Tlp
from broker.domain.items import OpenedItem
from broker.domain.stix_ids import EXTENSION_ID, NAMESPACE, note_id_for
from broker.domain.timestamps import rfc3339

__all__ = [
    "DEFINITIONS_ADDED",
    "EXTENSION_ID",
    "IDENTITY_ID",
    "TLP_2_0_IDS",
    "CouncilProperties",
    "PostedObject",
    "StixCache",
    "cache_pattern_validation",
    "council_objects",
    "note_id_for",
    "parse_posted",
    "version_of",
]

_NAMESPACE = NAMESPACE  # of the ids the council derives (its identity, notes)

IDENTITY_ID = f"identity--{uuid.uuid5(_NAMESPACE, 'council')}"
"""The council's own identity: what every note's `object_refs` names."""

# The TLP 2.0 marking definitions (FIRST TLP SIG / OASIS cti-stix-common-objects).
TLP_2_0_IDS: Mapping[Tlp, str] = {
    Tlp.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    Tlp.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    Tlp.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    Tlp.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    Tlp.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
_TLP_2_0_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
_TLP_2_0_CREATED = "2022-10-01T00:00:00.000Z"

DEFINITIONS_ADDED = datetime(2022, 10, 1, tzinfo=UTC)
"""The `date_added` of the council's own objects: before any item, so they come first."""

_COUNCIL_CREATED = "2022-10-01T00:00:00.000Z"

_DEFINITION_TYPES = frozenset({"marking-definition", "extension-definition"})

# The JSON schema of the council extension's properties (docs/taxii.md).
_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "council broker property extension",
    "type": "object",
    "properties": {
        "extension_type": {"const": "property-extension"},
        "secret": {
            "type": "boolean",
            "description": "Charter art. 18(1): required on every object a member adds",
        },
        "confidence": {"enum": ["unconfirmed", "low", "high"]},
        "scope": {
            "type": "object",
            "properties": {
                "groups": {
                    "type": "array",
                    "items": {
                        "enum": [
                            "tier_one_group",
                            "tier_two",
                            "task_force",
                            "all_members",
                            "coordinator",
                        ]
                    },
                },
                "members": {"type": "array", "items": {"type": "string"}},
                "exclude_members": {"type": "array", "items": {"type": "string"}},
                "exclude_attributes": {
                    "type": "array",
                    "items": {"enum": ["law_enforcement", "regulator", "foreign"]},
                },
            },
            "additionalProperties": False,
        },
        "derived_from": {"type": "array", "items": {"type": "string"}},
        "feedback_due": {"type": "string", "description": "an ISO 8601 duration"},
        "verdict": {"enum": ["came", "not_came", "unknown"]},
        "kind": {"type": "string", "readOnly": True},
        "item_id": {"type": "string", "readOnly": True},
        "handling": {"type": "object", "readOnly": True},
        "victim": {"type": "object", "readOnly": True},
    },
    "required": ["extension_type"],
}


_PATTERN_CACHE = 8192


def cache_pattern_validation() -> None:
    """Validate each distinct STIX pattern once per process (idempotent).

    `stix2` checks an indicator's pattern with a full ANTLR parse every time
    an indicator is built: about four fifths of the cost of parsing one.
    Platforms post and the broker serves the same patterns over and over, and
    the answer depends on the pattern and its version only, so it is
    memoised (a bounded LRU) in the module that asks for it.
    """
    validator = stix2.v21.sdo.run_validator
    if getattr(validator, "cache_info", None) is not None:
        return

    @functools.lru_cache(maxsize=_PATTERN_CACHE)
    def cached(pattern: str, version: str = "2.1") -> tuple[Any, ...]:
        return tuple(validator(pattern, version))

    stix2.v21.sdo.run_validator = cached


def version_of(obj: Mapping[str, Any]) -> str:
    """An object's TAXII version: `modified`, else `created` (TAXII 2.1 §3.4.1)."""
    return str(obj.get("modified") or obj.get("created") or _COUNCIL_CREATED)


def _json(obj: Any) -> dict[str, Any]:
    """A built `stix2` object as JSON, in the library's own serialisation."""
    data: dict[str, Any] = json.loads(obj.serialize())
    return data


def council_objects(title: str) -> tuple[dict[str, Any], ...]:
    """The objects every collection serves first: the extension-definition (with
    its schema), the council's identity, and the five TLP 2.0 marking-definitions."""
    extension = stix2.ExtensionDefinition(
        id=EXTENSION_ID,
        created_by_ref=IDENTITY_ID,
        created=_COUNCIL_CREATED,
        modified=_COUNCIL_CREATED,
        name="council broker",
        description="What a council item is and what its reader may do with it",
        schema=json.dumps(_SCHEMA, sort_keys=True),
        version="1.0.0",
        extension_types=["property-extension"],
    )
    identity = stix2.Identity(
        id=IDENTITY_ID,
        created=_COUNCIL_CREATED,
        modified=_COUNCIL_CREATED,
        name=title,
        identity_class="organization",
    )
    markings = [
        stix2.MarkingDefinition(
            id=marking_id,
            created=_TLP_2_0_CREATED,
            name=f"TLP:{label.value}",
            extensions={
                _TLP_2_0_EXTENSION: {
                    "extension_type": "property-extension",
                    "tlp_2_0": label.value.lower(),
                }
            },
            allow_custom=True,
        )
        for label, marking_id in TLP_2_0_IDS.items()
    ]
    return tuple(_json(o) for o in (extension, identity, *markings))


def council_block(opened: OpenedItem) -> dict[str, Any]:
    """The council extension's properties as this reader sees the item."""
    facts = opened.item.facts
    block: dict[str, Any] = {
        "extension_type": "property-extension",
        "secret": facts.effective_secret,
        "confidence": str(facts.confidence),
        "kind": str(facts.kind),
        "item_id": facts.id,
        "derived_from": list(facts.derived_from),
    }
    if opened.scope is not None:  # the provider and the coordinator only (art. 17(1))
        block["scope"] = opened.scope.to_json()
    handling = opened.handling
    if handling is not None:
        block["handling"] = {
            "tlp": handling.tlp,
            "may_reshare": handling.may_reshare,
            "audience": handling.audience,
            "notes": list(handling.notes),
        }
    content = opened.content
    if content is not None and content.victim is not None:
        block["victim"] = dict(content.victim)  # already masked for this reader
    return block


def _item_objects(opened: OpenedItem) -> list[dict[str, Any]]:
    """The item's STIX objects for this reader, built and validated by `stix2`."""
    facts = opened.item.facts
    content = opened.content
    block = council_block(opened)
    marking = TLP_2_0_IDS[facts.effective_tlp]
    stix = content.stix if content is not None else None
    objects = stix.get("objects") if isinstance(stix, Mapping) else None
    if not objects:
        created = _stix_time(opened.item.created_at)
        note = stix2.Note(
            id=note_id_for(facts.id),
            created=created,
            modified=created,
            abstract=content.title if content is not None else None,
            content=(content.body or content.title) if content is not None else "",
            object_refs=[IDENTITY_ID],
            object_marking_refs=[marking],
            extensions={EXTENSION_ID: block},
            allow_custom=True,
        )
        return [_json(note)]
    out: list[dict[str, Any]] = []
    for raw in objects:
        if not isinstance(raw, Mapping):
            continue
        kind = raw.get("type")
        if raw.get("id") == EXTENSION_ID or raw.get("id") in tlp.TLP_MARKING_DEFINITIONS:
            continue  # served once, first in every collection
        obj = dict(raw)
        if kind not in _DEFINITION_TYPES:
            # TLP 2.0: the item's label travels with every object (TLP 1.0 ids and
            # weaker labels replaced by the item's effective one).
            refs = [
                r
                for r in obj.get("object_marking_refs", [])
                if r not in tlp.TLP_MARKING_DEFINITIONS
            ]
            obj["object_marking_refs"] = [marking, *refs]
            extensions = dict(obj.get("extensions") or {})
            extensions[EXTENSION_ID] = block
            obj["extensions"] = extensions
        out.append(_json(stix2.parse(obj, allow_custom=True, version="2.1")))
    return out


def _stix_time(moment: datetime) -> str:
    # STIX 2.1 §3.2: millisecond precision is what every consumer reads.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


class StixCache:
    """Built objects per item, scope version and reader view (an LRU).

    Building and validating with `stix2` costs about a millisecond an object;
    a collection is read far more often than it changes, and readers of the
    same standing see the same extension block, so each combination is built
    once.
    """

    def __init__(self, size: int = 20_000) -> None:
        self._size = size
        self._built: OrderedDict[tuple[str, int, str], list[dict[str, Any]]] = OrderedDict()

    def objects(self, opened: OpenedItem) -> list[dict[str, Any]]:
        """The item's STIX objects for this reader."""
        key = (
            opened.item.id,
            opened.item.scope_version,
            json.dumps(council_block(opened), sort_keys=True),
        )
        built = self._built.get(key)
        if built is not None:
            self._built.move_to_end(key)
            return built
        built = _item_objects(opened)
        self._built[key] = built
        if len(self._built) > self._size:
            self._built.popitem(last=False)
        return built


# -- what members post ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CouncilProperties:
    """The council extension's properties on one posted object."""

    secret: bool
    confidence: Confidence | None
    scope: Scope | None
    derived_from: tuple[str, ...] | None
    feedback_due: str | None
    verdict: str | None


@dataclass(frozen=True, slots=True)
class PostedObject:
    """One posted object: parsed (`data`), or why it failed (`failure`).

    `definition` marks marking- and extension-definitions, which need no
    council properties (docs/taxii.md).
    """

    index: int
    id: str
    version: str
    type: str
    data: dict[str, Any] | None
    council: CouncilProperties | None
    definition: bool
    failure: str | None = None


_SECRET_REQUIRED = (
    "the council extension's `secret` is required on every object (charter art. 18(1)): "
    f'add "extensions": {{"{EXTENSION_ID}": '
    '{"extension_type": "property-extension", "secret": false}} (or true)'
)


def parse_posted(objects: Sequence[Any], *, items: bool = True) -> list[PostedObject]:
    """Every posted object parsed and validated by `stix2`, with its council properties.

    With `items` (an envelope that becomes an item) `secret` is required on
    every object but definitions; answers (the feedback collection) need no
    council properties, only those they use (`verdict`).
    """
    return [_parse_one(index, raw, items) for index, raw in enumerate(objects)]


def _parse_one(index: int, raw: Any, items: bool) -> PostedObject:
    if not isinstance(raw, Mapping):
        return PostedObject(index, "", "", "", None, None, False, "an object must be a JSON object")
    object_id = str(raw.get("id", ""))[:300]
    kind = str(raw.get("type", ""))[:100]
    version = version_of(raw)[:40]

    def failed(reason: str) -> PostedObject:
        return PostedObject(index, object_id, version, kind, None, None, False, reason)

    try:
        parsed = stix2.parse(dict(raw), allow_custom=True, version="2.1")
    except Exception as exc:  # stix2 raises many types; each is an invalid object
        return failed(f"not valid STIX 2.1: {_first_line(exc)}")
    if not hasattr(parsed, "serialize"):
        return failed("not a STIX 2.1 object")
    if raw.get("spec_version") != "2.1":
        return failed('spec_version must be "2.1"')
    data = _json(parsed)
    if kind in _DEFINITION_TYPES:
        return PostedObject(index, object_id, version, kind, data, None, True)
    extensions = raw.get("extensions")
    extension = extensions.get(EXTENSION_ID) if isinstance(extensions, Mapping) else None
    if not items:
        extension = {"secret": False, **(extension if isinstance(extension, Mapping) else {})}
    if not isinstance(extension, Mapping) or not isinstance(extension.get("secret"), bool):
        return failed(_SECRET_REQUIRED)
    try:
        council = _council(extension)
    except ValueError as exc:
        return failed(str(exc))
    return PostedObject(index, object_id, version, kind, data, council, False)


def _council(extension: Mapping[str, Any]) -> CouncilProperties:
    confidence = extension.get("confidence")
    if confidence is not None and confidence not in {c.value for c in Confidence}:
        raise ValueError("confidence is unconfirmed, low or high")
    scope_raw = extension.get("scope")
    scope: Scope | None = None
    if scope_raw is not None:
        try:
            scope = ScopeIn.model_validate(scope_raw).to_domain()
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"scope{'.' + where if where else ''}: {first['msg']}") from None
    derived = extension.get("derived_from")
    if derived is not None and (
        not isinstance(derived, list)
        or len(derived) > 100
        or not all(isinstance(d, str) and 0 < len(d) <= 300 for d in derived)
    ):
        raise ValueError("derived_from is a list of up to 100 item or STIX ids")
    due = extension.get("feedback_due")
    if due is not None and (not isinstance(due, str) or len(due) > 64):
        raise ValueError("feedback_due is an ISO 8601 duration, e.g. PT4H")
    verdict = extension.get("verdict")
    if verdict is not None and verdict not in ("came", "not_came", "unknown"):
        raise ValueError("verdict is came, not_came or unknown")
    return CouncilProperties(
        secret=bool(extension["secret"]),
        confidence=Confidence(confidence) if confidence is not None else None,
        scope=scope,
        derived_from=tuple(dict.fromkeys(derived)) if derived is not None else None,
        feedback_due=due,
        verdict=verdict,
    )


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def envelope_tlp(objects: Iterable[Mapping[str, Any]]) -> Tlp | None:
    """The strictest TLP marking among `objects` (TLP 1.0 ids mapped), None if unmarked."""
    markings = tlp.content_markings({"objects": list(objects)})
    if not markings:
        return None
    return Tlp.strictest([m.tlp for m in markings])


def item_times(opened: OpenedItem) -> str:
    """An item's TAXII `date_added`: when it was stored."""
    return rfc3339(opened.item.created_at)
