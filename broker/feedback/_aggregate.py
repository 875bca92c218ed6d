"""Aggregate answers: what the tier-one group sees of the feedback on an item.

SPEC §4: individual answers go to the provider and the coordinator only;
tier-two answers are never shown to other tier-two members. What others in
the tier-one group see is counts — overall and by member category
(charter art. 17(2)) — which is what this module computes. Who may see which
view is decided elsewhere.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from broker.domain.model import Body, Category
from broker.feedback._obligations import ObligationKind, Verdict
from broker.feedback._state import Obligation, ObligationStatus
from broker.feedback._time import require_aware

__all__ = [
    "AnswerSummary",
    "ExpertFeedbackCounts",
    "QuickAnswerCounts",
    "aggregate_answers",
    "without_small_cells",
]

# Counter keys besides the verdicts themselves (which are strings too).
_LATE, _MISSING, _PENDING = "late", "missing", "pending"


@dataclass(frozen=True, slots=True)
class QuickAnswerCounts:
    """Tier-two quick answers, counted.

    `late` counts the answers among came / not_came / unknown that came at or
    after the due time; `missing` the open ones past due; `pending` the open
    ones not yet due. Cancelled and closed obligations are not counted.
    """

    came: int = 0
    not_came: int = 0
    unknown: int = 0
    late: int = 0
    missing: int = 0
    pending: int = 0

    @property
    def answered(self) -> int:
        """Answers given, late ones included."""
        return self.came + self.not_came + self.unknown

    @property
    def counted(self) -> int:
        """The obligations counted: answered, missing or pending."""
        return self.answered + self.missing + self.pending


@dataclass(frozen=True, slots=True)
class ExpertFeedbackCounts:
    """Tier-one expert feedback, counted; the other fields as in `QuickAnswerCounts`."""

    confirm: int = 0
    refute: int = 0
    additional_info: int = 0
    late: int = 0
    missing: int = 0
    pending: int = 0

    @property
    def answered(self) -> int:
        """Feedback given, late feedback included."""
        return self.confirm + self.refute + self.additional_info

    @property
    def counted(self) -> int:
        """The obligations counted: answered, missing or pending."""
        return self.answered + self.missing + self.pending


@dataclass(frozen=True, slots=True)
class AnswerSummary:
    """Counts of the answers on an item, overall and by member category (art. 17(2)).

    The by-category mappings name only categories with at least one counted
    obligation, in `Category` order.
    """

    quick_answers: QuickAnswerCounts = QuickAnswerCounts()
    quick_answers_by_category: Mapping[Category, QuickAnswerCounts] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    expert_feedback: ExpertFeedbackCounts = ExpertFeedbackCounts()
    expert_feedback_by_category: Mapping[Category, ExpertFeedbackCounts] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )


def _quick(counts: Counter[str]) -> QuickAnswerCounts:
    """Freeze a counter of quick answers."""
    return QuickAnswerCounts(
        came=counts[Verdict.CAME],
        not_came=counts[Verdict.NOT_CAME],
        unknown=counts[Verdict.UNKNOWN],
        late=counts[_LATE],
        missing=counts[_MISSING],
        pending=counts[_PENDING],
    )


def _expert(counts: Counter[str]) -> ExpertFeedbackCounts:
    """Freeze a counter of expert feedback."""
    return ExpertFeedbackCounts(
        confirm=counts[Verdict.CONFIRM],
        refute=counts[Verdict.REFUTE],
        additional_info=counts[Verdict.ADDITIONAL_INFO],
        late=counts[_LATE],
        missing=counts[_MISSING],
        pending=counts[_PENDING],
    )


def _keys(ob: Obligation, now: datetime) -> list[str]:
    """The counter keys one obligation adds to: its verdict (and late), missing, or pending."""
    if ob.verdict is not None:
        return [ob.verdict, _LATE] if ob.late else [ob.verdict]
    if ob.status != ObligationStatus.OPEN:
        return []  # cancelled (withdrawn item) or closed (member left): nobody owes it
    return [_MISSING] if now >= ob.due_at else [_PENDING]


def aggregate_answers(
    obligations: Iterable[Obligation], bodies: Mapping[str, Body], now: datetime
) -> AnswerSummary:
    """Count the answers among `obligations` (typically one item's) as of `now`.

    `bodies` maps every owing member's id to its `Body`, for its category;
    `ValueError` if one is missing (the split by category would otherwise be
    wrong without notice) or `now` is naive.
    """
    at = require_aware(now, "now")
    totals: dict[ObligationKind, Counter[str]] = {kind: Counter() for kind in ObligationKind}
    by_category: dict[ObligationKind, dict[Category, Counter[str]]] = {
        kind: {} for kind in ObligationKind
    }
    for ob in obligations:
        body = bodies.get(ob.member_id)
        if body is None:
            raise ValueError(f"no body given for member {ob.member_id} of obligation {ob.id}")
        keys = _keys(ob, at)
        if not keys:
            continue
        totals[ob.kind].update(keys)
        by_category[ob.kind].setdefault(body.category, Counter()).update(keys)

    def ordered(kind: ObligationKind) -> list[tuple[Category, Counter[str]]]:
        """Non-empty categories of `kind`, in `Category` order."""
        found = by_category[kind]
        return [(category, found[category]) for category in Category if category in found]

    quick = ObligationKind.QUICK_ANSWER
    expert = ObligationKind.EXPERT_FEEDBACK
    return AnswerSummary(
        quick_answers=_quick(totals[quick]),
        quick_answers_by_category=MappingProxyType({c: _quick(n) for c, n in ordered(quick)}),
        expert_feedback=_expert(totals[expert]),
        expert_feedback_by_category=MappingProxyType({c: _expert(n) for c, n in ordered(expert)}),
    )


def without_small_cells(summary: AnswerSummary, minimum: int) -> AnswerSummary:
    """`summary` with every category cell of fewer than `minimum` counted members left out.

    The totals stay: they are what the reader may know. A cell of one member is
    that member's answer (SPEC §4: tier-two answers are never shown to another
    tier-two member), so small cells are dropped, not rounded.
    """
    return AnswerSummary(
        quick_answers=summary.quick_answers,
        quick_answers_by_category=MappingProxyType(
            {c: n for c, n in summary.quick_answers_by_category.items() if n.counted >= minimum}
        ),
        expert_feedback=summary.expert_feedback,
        expert_feedback_by_category=MappingProxyType(
            {c: n for c, n in summary.expert_feedback_by_category.items() if n.counted >= minimum}
        ),
    )
