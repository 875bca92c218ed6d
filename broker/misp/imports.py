"""A MISP event submitted as a council item (`POST /v1/items` with `misp_event`).

The event is parsed with pymisp's `MISPEvent` and its attributes and objects
converted to STIX 2.1 by `misp-stix`. What it says of itself is taken only
where the request is silent, and never to widen anything:

| MISP | council |
|---|---|
| `info` | `title` |
| `tlp:*` tags (the strictest) | `tlp`; a stated `tlp` weaker than a tag is refused |
| `council:kind`, `council:confidence` tags | `kind`, `confidence` |
| distribution 0 (organisation only) | scope: the provider alone |
| distribution 1, 2, 3 (community and wider) | scope: `all_members` |
| distribution 4 (sharing group) | scope: the group's listed members (art. 25) |
| attributes and objects | the item's STIX bundle |

`secret` is never taken from the event: it must be stated (art. 18(1)).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from misp_stix_converter import MISPtoSTIX21Parser
from pymisp import MISPEvent, PyMISPError

from broker.domain import Confidence, Group, ItemKind, Scope, Tlp
from broker.domain.members import RosterEntry
from broker.errors import InvalidInput
from broker.misp.events import BODY_COMMENT, COUNCIL_TAG, VICTIM_COMMENT

__all__ = ["ItemFields", "MispProposal", "parse_event", "propose", "resolve", "scope_within"]

_FIELD = "misp_event"
_E = TypeVar("_E", ItemKind, Confidence)

_TLP_TAGS = {
    "tlp:clear": Tlp.CLEAR,
    "tlp:white": Tlp.CLEAR,  # TLP 1.0's WHITE is TLP 2.0's CLEAR
    "tlp:green": Tlp.GREEN,
    "tlp:amber": Tlp.AMBER,
    "tlp:amber+strict": Tlp.AMBER_STRICT,
    "tlp:red": Tlp.RED,
}

_COMMUNITY_DISTRIBUTIONS = frozenset({1, 2, 3})
_SHARING_GROUP = 4


@dataclass(frozen=True, slots=True)
class MispProposal:
    """What a MISP event proposes for the item, before the request's own fields."""

    title: str
    tlp: Tlp | None
    kind: ItemKind | None
    confidence: Confidence | None
    scope: Scope
    stix: dict[str, Any] | None
    body: str | None


def parse_event(data: Mapping[str, Any]) -> MISPEvent:
    """The event JSON (`{"Event": {...}}` or the bare event) as a `MISPEvent`, or a 422."""
    event = MISPEvent()
    try:
        event.from_dict(**dict(data))
    except (PyMISPError, TypeError, ValueError, KeyError, AttributeError) as exc:
        raise InvalidInput(f"misp_event is not a MISP event: {exc}", field=_FIELD) from None
    if not getattr(event, "info", None):
        raise InvalidInput("misp_event has no info: MISP requires one", field=_FIELD)
    return event


def propose(event: MISPEvent, provider_id: str, roster: Iterable[RosterEntry]) -> MispProposal:
    """The title, TLP, kind, confidence, scope and STIX content the event proposes."""
    tags = [str(tag.name) for tag in event.tags]
    return MispProposal(
        title=str(event.info)[:300],
        tlp=_strictest_tlp(tags),
        kind=_council_value(tags, "kind", ItemKind),
        confidence=_council_value(tags, "confidence", Confidence),
        scope=_scope(event, provider_id, roster),
        stix=_stix(event),
        body=_body(event),
    )


def _strictest_tlp(tags: Iterable[str]) -> Tlp | None:
    found = [_TLP_TAGS[name.strip().lower()] for name in tags if name.strip().lower() in _TLP_TAGS]
    return Tlp.strictest(found) if found else None


def _council_value(tags: Iterable[str], predicate: str, enum: type[_E]) -> _E | None:
    prefix = f"{COUNCIL_TAG}:{predicate}="
    for name in tags:
        if name.startswith(prefix):
            try:
                return enum(name[len(prefix) :].strip('"'))
            except ValueError:
                raise InvalidInput(
                    f"misp_event tag {name!r}: not a council {predicate}", field=_FIELD
                ) from None
    return None


def _scope(event: MISPEvent, provider_id: str, roster: Iterable[RosterEntry]) -> Scope:
    distribution = _int(getattr(event, "distribution", 0))
    if distribution in _COMMUNITY_DISTRIBUTIONS:
        return Scope(groups=frozenset({Group.ALL_MEMBERS}))
    if distribution == _SHARING_GROUP:
        return Scope(members=frozenset({provider_id, *_sharing_group_members(event, roster)}))
    # Organisation only, and anything else: the narrowest reading.
    return Scope(members=frozenset({provider_id}))


def _sharing_group_members(event: MISPEvent, roster: Iterable[RosterEntry]) -> set[str]:
    by_name = {entry.name.casefold(): entry.id for entry in roster}
    group = getattr(event, "SharingGroup", None) or {}
    organisations = (group.get("SharingGroupOrg") if isinstance(group, Mapping) else None) or []
    found: set[str] = set()
    unknown: list[str] = []
    for entry in organisations:
        organisation = entry.get("Organisation", {}) if isinstance(entry, Mapping) else {}
        name = str(organisation.get("name", "")).strip()
        if name.casefold() in by_name:
            found.add(by_name[name.casefold()])
        elif name:
            unknown.append(name)
    if unknown:
        # Dropping them would narrow silently, keeping them is impossible: say so.
        raise InvalidInput(
            "misp_event's sharing group names organisations that are not listed members: "
            f"{', '.join(sorted(unknown))}; state the scope with member ids instead",
            field=_FIELD,
        )
    return found


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _stix(event: MISPEvent) -> dict[str, Any] | None:
    content = MISPEvent()
    content.from_dict(
        # The bundle's own id: the event's uuid need not be one STIX accepts.
        uuid=str(uuid.uuid4()),
        info=event.info,
        date=getattr(event, "date", None),
        Tag=[tag.to_dict() for tag in event.tags],
    )
    kept = 0
    for attribute in event.attributes:
        if getattr(attribute, "comment", None) in (BODY_COMMENT, VICTIM_COMMENT):
            continue
        content.add_attribute(**attribute.to_dict())
        kept += 1
    for misp_object in event.objects:
        content.add_object(misp_object)
        kept += 1
    if not kept:
        return None
    parser = MISPtoSTIX21Parser()
    parser.parse_misp_event(content.to_dict())
    bundle: dict[str, Any] = json.loads(parser.bundle.serialize())
    return bundle


def _body(event: MISPEvent) -> str | None:
    for attribute in event.attributes:
        if getattr(attribute, "comment", None) == BODY_COMMENT and attribute.type == "text":
            return str(attribute.value)
    return None


def scope_within(stated: Scope, proposed: Scope) -> bool:
    """Whether a stated scope stays inside what the event's distribution proposed.

    `all_members` admits any scope; a named list admits only those names (and
    exclusions, which only narrow). Never silently wider than the event says.
    """
    if Group.ALL_MEMBERS in proposed.groups:
        return True
    return not stated.groups and stated.members <= proposed.members


@dataclass(frozen=True, slots=True)
class ItemFields:
    """An item's own fields as a submission gives them: the request's, over a
    MISP event's where one is given (`resolve`)."""

    title: str
    tlp: Tlp
    kind: ItemKind
    confidence: Confidence
    scope: Scope
    stix: dict[str, Any] | None
    body: str | None


def resolve(
    proposal: MispProposal,
    *,
    title: str | None,
    tlp: Tlp | None,
    kind: ItemKind | None,
    confidence: Confidence | None,
    scope: Scope | None,
    body: str | None,
) -> ItemFields:
    """The request's own fields where stated, else the event's; every problem at once."""
    problems: list[str] = []
    chosen_tlp = tlp or proposal.tlp
    if chosen_tlp is None:
        problems.append("tlp: the MISP event has no tlp: tag; tag the event or state tlp")
    elif proposal.tlp is not None and chosen_tlp.rank < proposal.tlp.rank:
        problems.append(
            f"tlp: {chosen_tlp} is weaker than the event's tag tlp:{proposal.tlp.value.lower()}; "
            "an item's TLP is never weaker than a marking inside it"
        )
    chosen_kind = kind or proposal.kind
    if chosen_kind is None:
        problems.append('kind: state kind, or tag the event council:kind="..."')
    chosen_scope = scope or proposal.scope
    if scope is not None and not scope_within(scope, proposal.scope):
        problems.append(
            "scope: wider than the MISP event's distribution allows "
            f"({_describe(proposal.scope)}); narrow it or change the event's distribution"
        )
    if problems or chosen_tlp is None or chosen_kind is None:
        raise InvalidInput("; ".join(problems), field=_FIELD)
    return ItemFields(
        title=title or proposal.title,
        tlp=chosen_tlp,
        kind=chosen_kind,
        confidence=confidence or proposal.confidence or Confidence.UNCONFIRMED,
        scope=chosen_scope,
        stix=proposal.stix,
        body=body if body is not None else proposal.body,
    )


def _describe(scope: Scope) -> str:
    if Group.ALL_MEMBERS in scope.groups:
        return "all members"
    return "members " + ", ".join(sorted(scope.members))
