"""Council items as MISP events, for the feed a member's MISP pulls (docs/misp.md).

An item becomes one MISP event (pymisp's `MISPEvent`, the MISP project's own
model): its STIX content converted by `misp-stix` (the MISP project's own
converter), its TLP as a `tlp:` tag, the council's kind, confidence and secret
flag as `council:` tags, distribution 0 ("your organisation only"): the
council's scope travels with the data, and a receiving MISP must not share it
wider (charter art. 17(1), 19(1)).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import stix2
from misp_stix_converter import ExternalSTIX2toMISPParser, InternalSTIX2toMISPParser
from pymisp import MISPAttribute, MISPEvent, MISPObject, MISPOrganisation

from broker.domain import Confidence, ItemKind, Tlp
from broker.domain.items import OpenedItem, StoredItem

__all__ = [
    "BODY_COMMENT",
    "COUNCIL_TAG",
    "VICTIM_COMMENT",
    "event_file",
    "event_uuid",
    "hash_lines",
    "item_event",
    "item_id_of",
    "kind_of",
    "manifest_entry",
    "sightable",
    "tlp_tag",
]

COUNCIL_TAG = "council"
"""The namespace of the council's machine tags (`council:kind="analysis"`)."""

BODY_COMMENT = "council item body"
"""The comment on the `text` attribute that carries an item's text body."""

VICTIM_COMMENT = "council victim"
"""The comment on the `text` attribute that carries an item's (masked) victim."""

DISTRIBUTION_ORGANISATION_ONLY = 0
"""MISP's "your organisation only": a receiving MISP keeps the event to itself."""

INHERIT_EVENT = 5
"""MISP's "inherit event": attributes and objects follow the event's distribution."""

_ANALYSIS = {Confidence.UNCONFIRMED: 0, Confidence.LOW: 1, Confidence.HIGH: 2}
"""MISP's analysis level (initial, ongoing, completed) for the council's confidence."""

_THREAT_LEVEL_UNDEFINED = 4


def tlp_tag(tlp: Tlp) -> str:
    """The MISP tag of a TLP 2.0 label (`tlp:amber+strict`)."""
    return f"tlp:{tlp.value.lower()}"


def _council_tag(predicate: str, value: str) -> str:
    return f'{COUNCIL_TAG}:{predicate}="{value}"'


def event_uuid(item_id: str) -> str:
    """The event's uuid: the item's ULID packed into an RFC 9562 version-8 UUID.

    A ULID is 128 bits whose top six are zero until the year 2109, so its other
    122 bits fit beside the version and variant bits a UUID needs (MISP refuses
    an event uuid that is not a valid UUID). Reversible (`item_id_of`), so
    `/misp/feed/{uuid}.json` needs no lookup table; stable, so a MISP that pulls
    again updates the same event.
    """
    value = 0
    for char in item_id.upper():
        value = value * 32 + _CROCKFORD.index(char)
    if value >> 122:
        raise ValueError(f"not a ULID of this era: {item_id!r}")
    packed = (
        (value >> 74) << 80
        | 0x8 << 76
        | ((value >> 62) & 0xFFF) << 64
        | 0b10 << 62
        | (value & ((1 << 62) - 1))
    )
    return str(uuid.UUID(int=packed))


def item_id_of(event_id: str) -> str | None:
    """The item id an event uuid stands for, or None if it is not one of ours."""
    try:
        packed = uuid.UUID(event_id)
    except ValueError:
        return None
    if packed.version != 8 or packed.variant != uuid.RFC_4122:
        return None
    bits = packed.int
    value = (bits >> 80) << 74 | ((bits >> 64) & 0xFFF) << 62 | (bits & ((1 << 62) - 1))
    digits = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        digits.append(_CROCKFORD[digit])
    return "".join(reversed(digits))


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _tags(stored: StoredItem) -> list[str]:
    facts = stored.facts
    # What the reader must honour: the TLP and secrecy the item travels under,
    # its sources' unconsented ceilings included (art. 17(3), 18).
    return [
        tlp_tag(facts.effective_tlp),
        _council_tag("kind", str(facts.kind)),
        _council_tag("confidence", str(facts.confidence)),
        _council_tag("secret", "true" if facts.effective_secret else "false"),
    ]


def _skeleton(stored: StoredItem, title: str, provider_name: str) -> MISPEvent:
    """The event without its content: what the manifest lists."""
    facts = stored.facts
    event = MISPEvent()
    event.uuid = event_uuid(facts.id)
    event.info = title
    event.date = stored.created_at.date()
    event.timestamp = stored.created_at
    event.publish_timestamp = stored.created_at
    event.published = True
    event.analysis = _ANALYSIS[facts.confidence]
    event.threat_level_id = _THREAT_LEVEL_UNDEFINED
    event.distribution = DISTRIBUTION_ORGANISATION_ONLY
    creator = MISPOrganisation()
    creator.from_dict(name=provider_name, uuid=event_uuid(facts.provider_id))
    event.Orgc = creator
    for name in _tags(stored):
        event.add_tag(name)
    return event


def manifest_entry(stored: StoredItem, title: str, provider_name: str) -> dict[str, Any]:
    """The item's entry in `manifest.json`, keyed by event uuid: what pymisp's
    `MISPEvent.manifest` gives for `item_event`, without converting the content
    (the manifest lists every item; only the event files carry contents)."""
    facts = stored.facts
    return {
        event_uuid(facts.id): {
            "Orgc": {"name": provider_name, "uuid": event_uuid(facts.provider_id)},
            "Tag": [{"name": name} for name in _tags(stored)],
            "info": title,
            "date": stored.created_at.date().isoformat(),
            "analysis": _ANALYSIS[facts.confidence],
            "threat_level_id": _THREAT_LEVEL_UNDEFINED,
            "timestamp": int(stored.created_at.timestamp()),
        }
    }


def item_event(opened: OpenedItem, provider_name: str) -> MISPEvent:
    """An opened item as a MISP event: only what `opened` holds, which is what
    this reader may see (the victim already masked, `broker.services.items`)."""
    stored = opened.item
    content = opened.content
    title = content.title if content is not None else f"withdrawn item {stored.id}"
    event = _skeleton(stored, title, provider_name)
    if content is not None:
        if content.stix is not None:
            _add_stix(event, content.stix)
        if content.body:
            event.add_attribute(
                "text", content.body, comment=BODY_COMMENT, distribution=INHERIT_EVENT
            )
        if content.victim is not None:
            event.add_attribute(
                "text",
                _victim_text(content.victim),
                comment=VICTIM_COMMENT,
                distribution=INHERIT_EVENT,
                to_ids=False,
            )
    return event


def event_file(event: MISPEvent) -> dict[str, Any]:
    """The event file of MISP's feed format: `{"Event": {...}}`, distribution kept."""
    feed: dict[str, Any] = event.to_feed(with_distribution=True)
    return feed


def _victim_text(victim: dict[str, Any]) -> str:
    name = victim.get("name")
    damage = "damage" if victim.get("damage") else "no damage"
    return f"{name}; {damage}" if name else damage


def _add_stix(event: MISPEvent, bundle: dict[str, Any]) -> None:
    """The bundle's objects as the event's attributes and objects (misp-stix).

    A bundle that came from MISP (its objects labelled `misp:...`) goes through
    the converter's internal parser, which restores MISP's own attribute types;
    any other through the external one.
    """
    parsed = stix2.parse(bundle, allow_custom=True)
    parser: ExternalSTIX2toMISPParser | InternalSTIX2toMISPParser = (
        InternalSTIX2toMISPParser() if _from_misp(bundle) else ExternalSTIX2toMISPParser()
    )
    parser.load_stix_bundle(parsed)
    parser.parse_stix_bundle()
    converted: MISPEvent = parser.misp_event
    for attribute in converted.attributes:
        attribute.distribution = INHERIT_EVENT
        attribute.tags = []
        event.add_attribute(**attribute.to_dict())
    for misp_object in converted.objects:
        misp_object.distribution = INHERIT_EVENT
        for attribute in misp_object.attributes:
            attribute.distribution = INHERIT_EVENT
        event.add_object(misp_object)


def _from_misp(bundle: dict[str, Any]) -> bool:
    for obj in bundle.get("objects", ()):
        labels = obj.get("labels", ()) if isinstance(obj, dict) else ()
        if any(isinstance(label, str) and label.startswith("misp:") for label in labels):
            return True
    return False


def _attributes(event: MISPEvent) -> Iterator[MISPAttribute]:
    yield from event.attributes
    for misp_object in event.objects:
        assert isinstance(misp_object, MISPObject)
        yield from misp_object.attributes


def sightable(event: MISPEvent) -> Iterator[tuple[str, str]]:
    """The (uuid, value) of every attribute a MISP sighting may name."""
    for attribute in _attributes(event):
        if getattr(attribute, "comment", None) in (BODY_COMMENT, VICTIM_COMMENT):
            continue
        yield str(attribute.uuid), str(attribute.value)


def hash_lines(event: MISPEvent) -> Iterator[str]:
    """The event's lines of `hashes.csv`: MD5s of each attribute value (MISP's feed
    format, for a MISP's correlation cache), never the value itself."""
    for attribute in _attributes(event):
        if getattr(attribute, "comment", None) in (BODY_COMMENT, VICTIM_COMMENT):
            continue
        for digest in attribute.hash_values("md5"):
            yield f"{digest},{event.uuid}\n"


def kind_of(name: str) -> ItemKind | None:
    """An item kind named by a `council:kind` tag value, or None."""
    try:
        return ItemKind(name)
    except ValueError:
        return None
