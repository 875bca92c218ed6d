"""The broker's JSON shapes as typed pydantic models.

Response models allow extra fields (``extra="allow"``) and type open-ended
values (status, action, TLP level, ...) as plain strings: a broker that adds a
field or a value must not break a client already deployed at a member. Extra
fields stay reachable as attributes and in ``model_dump()``.

Request models (:class:`ItemDraft`) are strict instead: the member's own typo
should fail here, before it leaves the machine. ``secret`` has no default,
because the charter requires it stated on every submission (art. 18(1),(2)).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool

__all__ = [
    "AuditEvent",
    "Checkpoint",
    "Confidence",
    "ConsentRequest",
    "Consultation",
    "Effective",
    "FeedbackRequest",
    "Handler",
    "Handling",
    "Item",
    "ItemDraft",
    "ItemKind",
    "ItemSummary",
    "Member",
    "Obligation",
    "Page",
    "PendingConsent",
    "Provenance",
    "Report",
    "Resolution",
    "RosterEntry",
    "Scope",
    "ScopeResult",
    "SubmitResult",
    "TlpLevel",
    "User",
    "Victim",
    "Webhook",
]

ItemKind = Literal["analysis", "countermeasure", "early_warning", "consultation", "notice"]
"""What an item is (SPEC §2)."""

TlpLevel = Literal["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"]
"""FIRST TLP 2.0 labels, least to most restrictive."""

Confidence = Literal["unconfirmed", "low", "high"]
"""How sure the provider is (確度)."""


class _ServerModel(BaseModel):
    """Base of every response model: unknown fields from a newer broker are kept, not refused."""

    model_config = ConfigDict(extra="allow")


class Member(_ServerModel):
    """A body in the council: a member organisation, the coordinator or the secretariat.

    ``kind`` is ``member``, ``coordinator`` or ``secretariat``; ``tier`` is
    ``none``, ``tier_one`` or ``tier_two``; ``status`` is ``applicant``,
    ``active``, ``restricted``, ``withdrawn`` or ``expelled``.
    """

    id: str
    name: str
    kind: str
    category: str
    tier: str
    status: str
    regulator: bool
    law_enforcement: bool
    foreign: bool
    mutual_aid: bool
    listed: bool
    refuses_secrets: bool
    early_warning: bool
    created_at: datetime


class RosterEntry(_ServerModel):
    """A listed, active member as the public roster shows it (art. 25)."""

    id: str
    name: str
    category: str | None = None


class User(_ServerModel):
    """A person who signs in for a body.

    ``role`` is ``member_user``, ``member_admin`` or ``committee`` (a seat on the
    steering committee, on the secretariat's body); ``chair`` marks the committee's
    chair (art. 11(5)).
    """

    id: str
    member_id: str
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None = None
    chair: bool = False
    expires_at: datetime | None = None
    last_used_at: datetime | None = None


class Handler(_ServerModel):
    """A user registered to handle secret information for a member (art. 6(6)), over a time span."""

    member_id: str
    user_id: str
    effective_from: datetime
    effective_until: datetime | None = None


class Scope(BaseModel):
    """Who an item may reach (共有範囲): groups and named members, minus exclusions.

    Groups: ``tier_one_group``, ``tier_two``, ``task_force``, ``all_members``,
    ``coordinator``. Attributes that can be excluded (art. 19(2)):
    ``law_enforcement``, ``regulator``, ``foreign``.
    """

    model_config = ConfigDict(extra="allow")

    groups: list[str] = Field(default_factory=list)
    members: list[str] = Field(default_factory=list)
    exclude_members: list[str] = Field(default_factory=list)
    exclude_attributes: list[str] = Field(default_factory=list)


class Victim(BaseModel):
    """Who was hit. The broker masks ``name`` (None) for all but the provider and coordinator."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    damage: bool


class FeedbackRequest(BaseModel):
    """When answers to an item are due: an ISO 8601 duration (``PT4H``) or a time."""

    model_config = ConfigDict(extra="forbid")

    due: str | timedelta | datetime


class ItemDraft(BaseModel):
    """A submission (``POST /v1/items``). ``secret`` must be stated: it has no default.

    Fields left as None are not sent, so the broker applies its own defaults.
    """

    model_config = ConfigDict(extra="forbid")

    kind: ItemKind
    title: str
    body: str | None = None
    stix: dict[str, Any] | None = None
    tlp: TlpLevel
    secret: StrictBool  # charter art. 18(1),(2): stated explicitly, never inferred
    confidence: Confidence | None = None
    scope: Scope | None = None
    derived_from: list[str] = Field(default_factory=list)
    victim: Victim | None = None
    feedback: FeedbackRequest | None = None

    def to_json(self) -> dict[str, Any]:
        """The request body: JSON-ready, with unset optional fields left out."""
        return self.model_dump(mode="json", exclude_none=True)


class PendingConsent(_ServerModel):
    """A consent a derived item waits for before it reaches its full scope (art. 17(3))."""

    source_item_id: str
    provider_id: str


class SubmitResult(_ServerModel):
    """What a submission did: how many members it reached and why others were dropped."""

    id: str
    version: int
    recipients: int
    dropped: dict[str, int] = Field(default_factory=dict)
    pending_consents: list[PendingConsent] = Field(default_factory=list)


class ScopeResult(_ServerModel):
    """A new scope version of an item: its reach after the change."""

    id: str
    version: int
    scope: Scope | None = None
    recipients: int | None = None
    dropped: dict[str, int] = Field(default_factory=dict)
    pending_consents: list[PendingConsent] = Field(default_factory=list)


class Provenance(_ServerModel):
    """One item an item was derived from, directly or further back."""

    id: str
    visible: bool = True
    """False: the reader may not open this source; nothing else about it is given."""
    kind: str | None = None
    provider_id: str | None = None
    tlp: str | None = None


class Handling(_ServerModel):
    """What this reader may do with an item under TLP 2.0 and the charter."""

    tlp: str
    may_reshare: bool
    audience: Any = None
    notes: list[str] = Field(default_factory=list)


class Effective(_ServerModel):
    """The TLP and secrecy that bind an item once its sources' ceilings are applied (art. 17(3))."""

    tlp: str
    secret: bool


class Item(_ServerModel):
    """An item as one reader may see it: decrypted, with its handling and provenance.

    ``body`` and ``stix`` are None once the provider has withdrawn the item;
    ``victim.name`` is None unless the reader is the provider or the coordinator.
    """

    id: str
    version: int
    kind: str
    title: str | None = None  # None once the provider has withdrawn the item
    body: str | None = None
    stix: dict[str, Any] | None = None
    tlp: str
    secret: bool
    confidence: str | None = None
    scope: Scope | None = None
    provider_id: str
    status: str | None = None
    created_at: datetime
    derived_from: list[str] = Field(default_factory=list)
    provenance: list[Provenance] = Field(default_factory=list)
    victim: Victim | None = None
    handling: Handling | None = None
    effective: Effective | None = None
    feedback_due: datetime | None = None


class ItemSummary(_ServerModel):
    """An inbox line: enough to decide whether to open the item."""

    id: str
    kind: str
    title: str
    tlp: str
    secret: bool
    confidence: str | None = None
    provider_id: str
    created_at: datetime
    version: int


class AuditEvent(_ServerModel):
    """One event of the tamper-evident audit log (SPEC §5)."""

    seq: int
    id: str
    at: datetime
    actor_user_id: str | None = None
    actor_member_id: str | None = None
    action: str
    item_id: str | None = None
    subject_member_id: str | None = None
    outcome: str
    reason: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class Checkpoint(_ServerModel):
    """A signed checkpoint of the audit chain: its size, head hash and signature."""

    size: int
    head: str
    signature: str
    key_id: str
    at: datetime


class Obligation(_ServerModel):
    """Something the caller's member owes: an answer or expert feedback on an item, by a time."""

    item_id: str
    due: datetime | None = None
    kind: str | None = None
    title: str | None = None
    status: str | None = None


class Consultation(_ServerModel):
    """A private consultation (art. 16(3)).

    The consulting member is hidden unless it chose to reveal itself.
    """

    id: str
    title: str | None = None
    body: str | None = None
    reveal_identity: bool | None = None
    replies: list[dict[str, Any]] = Field(default_factory=list)
    created_at: datetime | None = None


class Report(_ServerModel):
    """A violation report to the secretariat (art. 29), as its reporter or the
    secretariat sees it.

    ``kind`` is ``leak``, ``scope_breach``, ``misuse`` or ``other``; ``status`` is
    ``received``, ``investigating`` or ``closed``; ``note`` is the secretariat's latest.
    """

    id: str
    kind: str
    status: str
    text: str
    item_id: str | None = None
    member_id: str | None = None
    note: str | None = None
    reporter: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime


class Resolution(_ServerModel):
    """A decision of the steering committee or the general assembly (SPEC §6).

    ``body`` is ``committee`` or ``assembly``; ``status`` is ``open``, ``passed``,
    ``failed``, ``no_quorum`` or ``refused``; ``tally`` counts ``yes``, ``no``,
    ``abstain``, ``recused``, ``seats`` and ``entitled``. ``votes`` and
    ``recusals`` are shown to the committee, the secretariat and the coordinator
    only (art. 27).
    """

    id: str
    kind: str
    title: str
    status: str
    body: str | None = None
    subject_member_id: str | None = None
    tally: dict[str, Any] = Field(default_factory=dict)
    decided_at: datetime | None = None
    effective_at: datetime | None = None
    votes: list[dict[str, Any]] | None = None
    recusals: list[Any] | None = None


class Webhook(_ServerModel):
    """A member's webhook with its delivery state (``secret`` only in the registration answer)."""

    id: str
    member_id: str | None = None
    url: str
    active: bool = True
    failing_attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    dead_letters: list[dict[str, Any]] = Field(default_factory=list)
    created_at: datetime | None = None
    secret: str | None = None


class ConsentRequest(_ServerModel):
    """A derived item waiting for the caller's consent to reach its full scope (art. 17(3))."""

    derived_item_id: str
    requested_by: str
    requested_at: datetime | None = None
    source_item_ids: list[str] = Field(default_factory=list)
    requested: dict[str, Any] = Field(default_factory=dict)


T = TypeVar("T")


class Page(_ServerModel, Generic[T]):
    """One page of a cursor-paginated list; ``next_cursor`` is None on the last page."""

    items: list[T]
    next_cursor: str | None = None
