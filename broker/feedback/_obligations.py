"""Who owes what on an item: the two obligations of the task force.

SPEC §4 and Task Force Rules art. 1: tier-one members (and the coordinator,
together "第一類構成員等") give *expert feedback* on each other's analysis;
tier-two members give a *quick answer* to each early countermeasure. The
charter annex (member classes) allows the quick answer to be terse:
"来ている / 来ていない / わからない" — `came` / `not_came` / `unknown`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from broker.domain.model import Body, BodyKind, Confidence, ItemKind, MemberStatus, Tier
from broker.feedback._time import require_aware

__all__ = [
    "ALLOWED_VERDICTS",
    "ObligationKind",
    "ObligationSpec",
    "Verdict",
    "obligation_kind_for",
    "obligations_for",
]


class ObligationKind(StrEnum):
    """What a recipient owes on an item (SPEC §4)."""

    EXPERT_FEEDBACK = "expert_feedback"  # tier one + coordinator, on another's analysis
    QUICK_ANSWER = "quick_answer"  # tier two, on an early (not high-confidence) countermeasure


class Verdict(StrEnum):
    """An answer to an obligation; which ones fit depends on its kind (`ALLOWED_VERDICTS`)."""

    CONFIRM = "confirm"
    REFUTE = "refute"
    ADDITIONAL_INFO = "additional_info"
    CAME = "came"  # seen in our environment
    NOT_CAME = "not_came"
    UNKNOWN = "unknown"


ALLOWED_VERDICTS: Mapping[ObligationKind, tuple[Verdict, ...]] = MappingProxyType(
    {
        ObligationKind.EXPERT_FEEDBACK: (
            Verdict.CONFIRM,
            Verdict.REFUTE,
            Verdict.ADDITIONAL_INFO,
        ),
        ObligationKind.QUICK_ANSWER: (Verdict.CAME, Verdict.NOT_CAME, Verdict.UNKNOWN),
    }
)
"""The verdicts each obligation kind accepts, in the order they are shown (docs/api.md)."""


@dataclass(frozen=True, slots=True)
class ObligationSpec:
    """One obligation to create when an item reaches its recipients: not yet stored, no id."""

    member_id: str
    item_id: str
    kind: ObligationKind
    due_at: datetime


def _in_tier_one_group(body: Body) -> bool:
    """Tier-one members and the coordinator (Task Force Rules art. 6(2): 第一類構成員等)."""
    return body.kind == BodyKind.COORDINATOR or (
        body.kind == BodyKind.MEMBER and body.tier == Tier.TIER_ONE
    )


def creates_obligations(kind: ItemKind, confidence: Confidence) -> bool:
    """Whether an item of `kind` and `confidence` can create any obligation at all.

    The item-level half of `obligation_kind_for`: when this is False, no
    recipient owes anything and the recipients need not be looked at.
    """
    return kind == ItemKind.ANALYSIS or (
        kind == ItemKind.COUNTERMEASURE and confidence != Confidence.HIGH
    )


def obligation_kind_for(
    recipient: Body, provider_id: str, kind: ItemKind, confidence: Confidence
) -> ObligationKind | None:
    """What `recipient` owes on an item of `kind` and `confidence` from `provider_id`, if anything.

    - `analysis`: tier-one members and the coordinator owe expert feedback.
    - `countermeasure` of `unconfirmed` or `low` confidence: tier-two members
      owe a quick answer.
    - Nothing else creates an obligation: high-confidence countermeasures go
      to everyone for use, notices and early warnings are one-way, and
      consultations are answered privately by choice (art. 16(3)).
    - The provider never owes on its own item; general members (tier none),
      the secretariat, and members that are not active owe nothing.
    """
    if recipient.id == provider_id:
        return None  # feedback is owed *to* the provider (SPEC §4)
    if recipient.status != MemberStatus.ACTIVE:
        return None  # charter art. 7, 8(2): they receive nothing, so owe nothing
    if kind == ItemKind.ANALYSIS:
        # Task Force Rules art. 1 item 1; charter annex (member classes):
        # "他の第一類に対する専門的な見地からのフィードバック"
        return ObligationKind.EXPERT_FEEDBACK if _in_tier_one_group(recipient) else None
    if kind == ItemKind.COUNTERMEASURE and confidence != Confidence.HIGH:
        # Task Force Rules art. 1 item 2: tier two answers what the tier-one group provides
        if recipient.kind == BodyKind.MEMBER and recipient.tier == Tier.TIER_TWO:
            return ObligationKind.QUICK_ANSWER
    return None


def obligations_for(
    item_id: str,
    provider_id: str,
    kind: ItemKind,
    confidence: Confidence,
    recipients: Iterable[Body],
    due_at: datetime,
) -> list[ObligationSpec]:
    """The obligations an item creates among `recipients`, one per owing member.

    `recipients` are the bodies the routing policy delivered the item to; a
    body listed twice owes once. The order of `recipients` is kept.
    `ValueError` if `due_at` is naive.
    """
    due = require_aware(due_at, "due_at")
    specs: list[ObligationSpec] = []
    if not creates_obligations(kind, confidence):
        return specs
    seen: set[str] = set()
    for body in recipients:
        if body.id in seen:
            continue
        seen.add(body.id)
        owed = obligation_kind_for(body, provider_id, kind, confidence)
        if owed is not None:
            specs.append(ObligationSpec(body.id, item_id, owed, due))
    return specs
