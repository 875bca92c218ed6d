"""What the task force's feedback use cases return (SPEC §4, docs/api.md "Task force").

The obligation itself is `broker.feedback.Obligation`; these wrap it with
what a use case adds for its reader — the item's title in a listing, whether
it is overdue now, who answered — and the ledger with its period and policy.
The API's views turn them into JSON (`broker.api.views.obligations`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from broker.crypto import Envelope
from broker.domain.model import Body, Category, Confidence, ItemKind, ItemStatus, Tier
from broker.feedback import AnswerSummary, ContributionPolicy, LedgerRow, Obligation
from broker.tlp import FeedbackView

__all__ = [
    "Answer",
    "AnswerChange",
    "FeedbackItem",
    "ItemFeedback",
    "Ledger",
    "LedgerEntry",
    "MemberAnswer",
    "ObligationPage",
    "OwedObligation",
    "SealedObligation",
    "SweepReport",
]


@dataclass(frozen=True, slots=True)
class SealedObligation:
    """A stored obligation with its comment still sealed (None: no comment, or erased).

    Comments are content, sealed at rest like items (SPEC §2); only the
    feedback service, which holds the keys, opens them.
    """

    obligation: Obligation
    comment: Envelope | None = None


@dataclass(frozen=True, slots=True)
class OwedObligation:
    """One entry of `GET /v1/obligations`: what the member owes, on which item.

    `title` is None when the item was withdrawn (its content is destroyed) or
    could not be opened. A listing shows what is owed, not what was said: the
    obligation carries no comment.
    """

    obligation: Obligation
    title: str | None
    overdue: bool


@dataclass(frozen=True, slots=True)
class ObligationPage:
    """A page of what a member owes, earliest due first, and where the next starts."""

    items: tuple[OwedObligation, ...]
    next_cursor: str | None


class AnswerChange(StrEnum):
    """What an accepted answer did: a first answer, a change, or a retry of the same."""

    FIRST = "first"
    CHANGED = "changed"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class Answer:
    """An obligation with its answer, for the member that owes it (or the privileged).

    `change` is set on the result of answering, None when the answer is shown.
    """

    obligation: Obligation
    overdue: bool
    change: AnswerChange | None = None


@dataclass(frozen=True, slots=True)
class MemberAnswer:
    """One member's answer in the individual view (the provider and the coordinator)."""

    answer: Answer
    member_name: str | None
    category: Category
    tier: Tier


@dataclass(frozen=True, slots=True)
class FeedbackItem:
    """The item the answers are on, as far as the feedback view shows it."""

    kind: ItemKind
    confidence: Confidence
    status: ItemStatus
    feedback_due: datetime | None


@dataclass(frozen=True, slots=True)
class ItemFeedback:
    """The answers on an item as one reader may see them (SPEC §4).

    `individual`: the counts and every answer; `aggregate`: the counts and
    one's own answer; `counts`: the counts without category cells small enough
    to name a member (a tier-two provider); `own`: one's own answer only. What a
    view does not show
    is None.
    """

    item_id: str
    view: FeedbackView
    item: FeedbackItem
    summary: AnswerSummary | None
    answers: tuple[MemberAnswer, ...] | None
    own: Answer | None


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One member's ledger row with the body it describes and its name."""

    row: LedgerRow
    body: Body
    name: str | None


@dataclass(frozen=True, slots=True)
class Ledger:
    """The contribution ledger for one period under the task force's thresholds."""

    period: str
    start: datetime
    end: datetime
    policy: ContributionPolicy
    entries: tuple[LedgerEntry, ...]


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What one sweeper pass did: reminders sent and obligations marked overdue."""

    reminded: int = 0
    overdue: int = 0
