"""Items as the use cases answer them: stored, opened, listed, re-scoped,
consented to and withdrawn (docs/api.md "Items"). Times stay `datetime`; the edge
formats them (`broker.api.views.items`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from broker.domain.model import ItemFacts, ItemKind, Scope, Tlp
from broker.tlp import Handling

__all__ = [
    "ConsentRequest",
    "InboxPage",
    "ItemContent",
    "ItemSummary",
    "OpenedItem",
    "PendingConsent",
    "Provenance",
    "Receipt",
    "ScopeChangeResult",
    "StoredItem",
    "SubmitResult",
    "VersionChange",
    "Withdrawal",
]


class VersionChange(StrEnum):
    """Why a scope version was made (the scope-version history, art. 17)."""

    SUBMITTED = "submitted"
    WIDENED = "widened"
    NARROWED = "narrowed"
    CONSENT = "consent"
    CEILING = "ceiling"
    """A source's scope changed, and with it the ceiling it puts on this item (rule 2)."""


@dataclass(frozen=True, slots=True)
class StoredItem:
    """An item as stored: its routing facts at the current scope version, its times,
    its audience and its sealed content (the envelope parts are None once withdrawn:
    crypto-shredding)."""

    facts: ItemFacts
    scope_version: int
    created_at: datetime
    feedback_due: datetime | None
    withdrawn_at: datetime | None
    audience_id: str
    nonce: bytes | None
    ciphertext: bytes | None
    wrapped_key: bytes | None
    kek_version: int | None

    @property
    def id(self) -> str:
        """The item id."""
        return self.facts.id


@dataclass(frozen=True, slots=True)
class ItemContent:
    """An item's sealed content: what only its readers see."""

    title: str
    body: str | None
    stix: dict[str, Any] | None
    victim: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Provenance:
    """One source of a derived item; only `id` when the reader may not see it."""

    id: str
    visible: bool
    kind: ItemKind | None = None
    provider_id: str | None = None
    tlp: Tlp | None = None


@dataclass(frozen=True, slots=True)
class OpenedItem:
    """An item as one reader sees it (docs/api.md `GET /v1/items/{id}`).

    `scope` is None unless the reader is the provider or the coordinator
    (art. 17(1)); `content` and `handling` are None when only the metadata is
    shown (a withdrawn item); the victim in `content` is already masked for
    this reader (charter annex).
    """

    item: StoredItem
    scope: Scope | None
    provenance: tuple[Provenance, ...]
    content: ItemContent | None
    handling: Handling | None


@dataclass(frozen=True, slots=True)
class ItemSummary:
    """One inbox entry: the metadata and the title."""

    item: StoredItem
    title: str


@dataclass(frozen=True, slots=True)
class InboxPage:
    """A page of the inbox and where the next one starts."""

    items: tuple[ItemSummary, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class PendingConsent:
    """A source provider whose consent a derived item waits for, per source (art. 17(3))."""

    source_item_id: str
    provider_id: str


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """What a submission answers, and answers again to a retried Idempotency-Key."""

    id: str
    version: int
    recipients: int
    dropped: Mapping[str, int]
    pending_consents: tuple[PendingConsent, ...]


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the caller is told of a submission, stored in the submission's own
    transaction: one durable commit for both, not one after the other.

    A TAXII status resource (TAXII 2.1 §4.3) is the one kind: `body` makes it
    from the result stored (a fresh submission's, or the first one's for a
    retried key). Receipts older than `prune_before` are deleted with it.
    """

    id: str
    user_id: str
    created_at: datetime
    body: Callable[[SubmitResult], dict[str, Any]]
    prune_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class ScopeChangeResult:
    """A new scope version, made by a scope change or by a consent."""

    id: str
    version: int
    change: VersionChange
    recipients: int
    dropped: Mapping[str, int]
    pending_consents: tuple[PendingConsent, ...]


@dataclass(frozen=True, slots=True)
class ConsentRequest:
    """A derived item waiting for the caller's member's consent, with what it asks for."""

    item: StoredItem
    requested_at: datetime
    source_item_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """A withdrawn item: its content is destroyed, its metadata and audit remain."""

    id: str
    withdrawn_at: datetime
