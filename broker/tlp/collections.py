"""The six TAXII collections: who may use each, who may write to it, what it holds.

docs/taxii.md "Collections". The ids are fixed, the same on every
installation, so a member configures its platform once. Using a collection is
a right of the caller's role; what a collection shows of an item is always
and only `may_read` (the same decision as `GET /v1/items/{id}`) narrowed by
the collection's kind and confidence: a collection never widens what a reader
may open, and no consultation ever appears (art. 16(3)).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from broker.domain.model import (
    BodyKind,
    Confidence,
    ItemFacts,
    ItemKind,
    MemberStatus,
    Reader,
    Tier,
)
from broker.tlp._reading import may_read

__all__ = [
    "COLLECTIONS",
    "CollectionAlias",
    "CollectionSpec",
    "collection_by_id",
    "in_collection",
    "may_use_collection",
    "may_write_collection",
    "selects",
]


class CollectionAlias(StrEnum):
    """The alias of each collection (docs/taxii.md)."""

    TIER_ONE_ANALYSIS = "tier-one-analysis"
    EARLY_COUNTERMEASURES = "early-countermeasures"
    COUNTERMEASURES = "countermeasures"
    EARLY_WARNINGS = "early-warnings"
    INBOX = "inbox"
    FEEDBACK = "feedback"


@dataclass(frozen=True, slots=True)
class CollectionSpec:
    """One collection: its fixed id, its title, and the items it holds.

    `kinds` and `confidences` select items (empty `kinds`: no items, the
    feedback collection holds answers); what a POSTed envelope becomes is
    `post_kind`, `post_confidence` and `post_groups` (None: nobody posts items).
    """

    alias: CollectionAlias
    id: str
    title: str
    description: str
    kinds: frozenset[ItemKind]
    confidences: frozenset[Confidence]
    post_kind: ItemKind | None = None
    post_confidence: Confidence | None = None
    post_groups: tuple[str, ...] = ()


_ALL_CONFIDENCES = frozenset(Confidence)

COLLECTIONS: tuple[CollectionSpec, ...] = (
    CollectionSpec(
        CollectionAlias.TIER_ONE_ANALYSIS,
        "5d3c6f0e-8a2b-4c1e-9f47-1b2a3c4d5e01",
        "Tier-one analysis",
        "Analyses shared within the tier-one group (Task Force Rules art. 3)",
        frozenset({ItemKind.ANALYSIS}),
        _ALL_CONFIDENCES,
        ItemKind.ANALYSIS,
        Confidence.UNCONFIRMED,
        ("tier_one_group",),
    ),
    CollectionSpec(
        CollectionAlias.EARLY_COUNTERMEASURES,
        "5d3c6f0e-8a2b-4c1e-9f47-1b2a3c4d5e02",
        "Early countermeasures",
        "Countermeasures of unconfirmed or low confidence, for the task force",
        frozenset({ItemKind.COUNTERMEASURE}),
        frozenset({Confidence.UNCONFIRMED, Confidence.LOW}),
        ItemKind.COUNTERMEASURE,
        Confidence.LOW,
        ("task_force",),
    ),
    CollectionSpec(
        CollectionAlias.COUNTERMEASURES,
        "5d3c6f0e-8a2b-4c1e-9f47-1b2a3c4d5e03",
        "Countermeasures",
        "Countermeasures of high confidence, for every member",
        frozenset({ItemKind.COUNTERMEASURE}),
        frozenset({Confidence.HIGH}),
        ItemKind.COUNTERMEASURE,
        Confidence.HIGH,
        ("all_members",),
    ),
    CollectionSpec(
        CollectionAlias.EARLY_WARNINGS,
        "5d3c6f0e-8a2b-4c1e-9f47-1b2a3c4d5e04",
        "Early warnings",
        "Early warnings from the coordinator (charter art. 15)",
        frozenset({ItemKind.EARLY_WARNING}),
        _ALL_CONFIDENCES,
        ItemKind.EARLY_WARNING,
        None,
        ("all_members",),
    ),
    CollectionSpec(
        CollectionAlias.INBOX,
        "5d3c6f0e-8a2b-4c1e-9f47-1b2a3c4d5e05",
        "Inbox",
        "Everything the caller may read, of every kind, its own items included",
        # Consultations never appear (art. 16(3)): only their addressees see them.
        frozenset(ItemKind) - {ItemKind.CONSULTATION},
        _ALL_CONFIDENCES,
    ),
    CollectionSpec(
        CollectionAlias.FEEDBACK,
        "5d3c6f0e-8a2b-4c1e-9f47-1b2a3c4d5e06",
        "Feedback",
        "Sightings (quick answers) and opinions (expert feedback) on task-force items",
        frozenset(),
        frozenset(),
    ),
)

_BY_ID = {c.id: c for c in COLLECTIONS}


def collection_by_id(collection_id: str) -> CollectionSpec | None:
    """The collection with this fixed id, or None."""
    return _BY_ID.get(collection_id)


def _tier_one_group(reader: Reader) -> bool:
    return reader.body.kind is BodyKind.COORDINATOR or reader.body.tier is Tier.TIER_ONE


def _task_force(reader: Reader) -> bool:
    return _tier_one_group(reader) or reader.body.tier is Tier.TIER_TWO


def may_use_collection(reader: Reader, collection: CollectionSpec) -> bool:
    """Whether `reader` sees `collection` at all (docs/taxii.md "Collections").

    Only active members and the coordinator use collections: the secretariat
    reads no contents (art. 14(3)), a restricted member shares nothing
    (art. 8(2)).
    """
    body = reader.body
    if body.status is not MemberStatus.ACTIVE or body.kind is BodyKind.SECRETARIAT:
        return False
    match collection.alias:
        case CollectionAlias.TIER_ONE_ANALYSIS:
            return _tier_one_group(reader)
        case CollectionAlias.EARLY_COUNTERMEASURES | CollectionAlias.FEEDBACK:
            return _task_force(reader)
        case CollectionAlias.EARLY_WARNINGS:
            # Charter art. 15: members that receive early warnings, and their author.
            return body.kind is BodyKind.COORDINATOR or body.early_warning
        case CollectionAlias.COUNTERMEASURES | CollectionAlias.INBOX:
            return True


def may_write_collection(reader: Reader, collection: CollectionSpec) -> bool:
    """Whether `reader` may POST envelopes to `collection` (its `can_write`).

    This is the collection's door only: every posted item is still a
    submission the policy checks in full (`may_submit`: ceilings, secrets from
    handlers only, scope), and a posted answer a native answer.
    """
    if not may_use_collection(reader, collection):
        return False
    match collection.alias:
        case CollectionAlias.TIER_ONE_ANALYSIS:
            return _tier_one_group(reader)
        case CollectionAlias.EARLY_COUNTERMEASURES | CollectionAlias.COUNTERMEASURES:
            return _tier_one_group(reader)
        case CollectionAlias.EARLY_WARNINGS:
            return reader.body.kind is BodyKind.COORDINATOR  # art. 15
        case CollectionAlias.FEEDBACK:
            return _task_force(reader)
        case CollectionAlias.INBOX:
            return False


def in_collection(collection: CollectionSpec, item: ItemFacts) -> bool:
    """Whether `item` belongs in `collection` by its kind and confidence."""
    return item.kind in collection.kinds and item.confidence in collection.confidences


def selects(reader: Reader, collection: CollectionSpec, item: ItemFacts) -> bool:
    """Whether `reader` gets `item`'s objects from `collection`: exactly `may_read`
    (the native read's decision), narrowed by the collection, for a collection
    the reader may use."""
    return (
        may_use_collection(reader, collection)
        and in_collection(collection, item)
        and bool(may_read(reader, item))
    )
