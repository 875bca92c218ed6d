"""Aggregate counts for the tier-one group, overall and by member category (art. 17(2))."""

from __future__ import annotations

import pytest
from feedback_factories import HOUR, T0, obligation, tier_one, tier_two

from broker.domain.model import Body, Category
from broker.feedback import (
    AnswerSummary,
    ExpertFeedbackCounts,
    ObligationKind,
    QuickAnswerCounts,
    aggregate_answers,
    answer,
    cancel_for_withdrawal,
    close_for_departure,
    without_small_cells,
)

DUE = T0 + 4 * HOUR
CI = Category.CRITICAL_INFRASTRUCTURE
LOCAL = Category.LOCAL_GOVERNMENT
BODIES: dict[str, Body] = {
    "power": tier_two("power", category=CI),
    "rail": tier_two("rail", category=CI),
    "hospital": tier_two("hospital", category=CI),
    "city": tier_two("city", category=LOCAL),
    "town": tier_two("town", category=LOCAL),
    "left": tier_two("left", category=Category.ACADEMIA),
    "vendor-b": tier_one("vendor-b", category=Category.CYBER_BUSINESS),
    "vendor-c": tier_one("vendor-c", category=Category.CYBER_BUSINESS),
    "vendor-d": tier_one("vendor-d", category=Category.CYBER_BUSINESS),
}


def test_quick_answers_are_counted_overall_and_by_category() -> None:
    """Quick answers count by verdict, late, missing and pending, overall and per category."""
    obligations = [
        answer(obligation("o1", "power", due_at=DUE), "came", None, T0),
        answer(obligation("o2", "rail", due_at=DUE), "came", "x", T0),
        answer(obligation("o3", "city", due_at=DUE), "not_came", None, T0),
        answer(obligation("o4", "hospital", due_at=DUE), "unknown", None, DUE + HOUR),  # late
        obligation("o5", "town", due_at=DUE),  # missing at now
        obligation("o6", "town", due_at=DUE + 5 * HOUR),  # pending at now
        close_for_departure(obligation("o7", "left", due_at=DUE)),  # not counted
        cancel_for_withdrawal(obligation("o8", "city", due_at=DUE)),  # not counted
    ]
    summary = aggregate_answers(obligations, BODIES, DUE + 2 * HOUR)
    assert summary.quick_answers == QuickAnswerCounts(
        came=2, not_came=1, unknown=1, late=1, missing=1, pending=1
    )
    assert summary.quick_answers.answered == 4
    assert dict(summary.quick_answers_by_category) == {
        CI: QuickAnswerCounts(came=2, unknown=1, late=1),
        LOCAL: QuickAnswerCounts(not_came=1, missing=1, pending=1),
    }
    assert summary.expert_feedback == ExpertFeedbackCounts()
    assert dict(summary.expert_feedback_by_category) == {}


def test_expert_feedback_is_counted_by_verdict() -> None:
    """Expert feedback counts confirm, refute and additional_info, overall and per category."""
    expert = ObligationKind.EXPERT_FEEDBACK
    obligations = [
        answer(obligation("e1", "vendor-b", kind=expert, due_at=DUE), "confirm", "same", T0),
        answer(
            obligation("e2", "vendor-c", kind=expert, due_at=DUE), "additional_info", "IoCs", T0
        ),
        obligation("e3", "vendor-d", kind=expert, due_at=DUE),
    ]
    summary = aggregate_answers(obligations, BODIES, T0 + HOUR)
    expected = ExpertFeedbackCounts(confirm=1, additional_info=1, pending=1)
    assert summary.expert_feedback == expected
    assert summary.expert_feedback.answered == 2
    assert dict(summary.expert_feedback_by_category) == {Category.CYBER_BUSINESS: expected}
    assert summary.quick_answers == QuickAnswerCounts()


def test_categories_follow_the_category_order() -> None:
    """Categories appear in the order Category declares them, whatever the input order."""
    obligations = [
        obligation("o1", "left", due_at=DUE),
        obligation("o2", "city", due_at=DUE),
        obligation("o3", "power", due_at=DUE),
    ]
    summary = aggregate_answers(obligations, BODIES, T0)
    assert list(summary.quick_answers_by_category) == [LOCAL, CI, Category.ACADEMIA]


def test_nothing_to_count_gives_an_empty_summary() -> None:
    """No obligations give zero counts and no categories."""
    assert aggregate_answers([], BODIES, T0) == AnswerSummary()
    assert hash(AnswerSummary()) == hash(aggregate_answers([], BODIES, T0))


def test_an_unknown_member_is_refused() -> None:
    """An obligation whose member has no Body is a ValueError, not a silent miscount."""
    with pytest.raises(ValueError, match="no body given for member ghost"):
        aggregate_answers([obligation("o1", "ghost")], BODIES, T0)


def test_a_naive_now_is_refused() -> None:
    """A naive now is a ValueError."""
    with pytest.raises(ValueError, match="timezone-aware"):
        aggregate_answers([], BODIES, T0.replace(tzinfo=None))


def test_small_category_cells_are_left_out_for_a_tier_two_provider() -> None:
    """SPEC §4: tier-two answers are never shown to another tier-two member; a cell of
    fewer than three counted members would name them, so it is dropped while the
    totals stay whole."""
    obligations = [
        answer(obligation("o1", "power", due_at=DUE), "came", None, T0),
        answer(obligation("o2", "rail", due_at=DUE), "came", None, T0),
        obligation("o3", "hospital", due_at=DUE + 5 * HOUR),  # pending: still counted
        answer(obligation("o4", "city", due_at=DUE), "not_came", None, T0),
    ]
    full = aggregate_answers(obligations, BODIES, DUE)
    shown = without_small_cells(full, 3)
    assert shown.quick_answers == full.quick_answers
    assert dict(shown.quick_answers_by_category) == {CI: QuickAnswerCounts(came=2, pending=1)}
    assert LOCAL in full.quick_answers_by_category
