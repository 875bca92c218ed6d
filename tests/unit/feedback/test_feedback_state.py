"""An obligation's life: answers, changes, the lock after due, cancellation and closure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta, timezone
from typing import Any

import pytest
from feedback_factories import HOUR, T0, obligation

from broker.feedback import (
    AnswerLocked,
    FeedbackError,
    InvalidVerdict,
    Obligation,
    ObligationClosed,
    ObligationKind,
    ObligationSpec,
    ObligationStatus,
    Verdict,
    answer,
    cancel_for_withdrawal,
    close_for_departure,
    is_overdue,
)

DUE = T0 + 4 * HOUR
EXPERT = ObligationKind.EXPERT_FEEDBACK


def test_from_spec_opens_an_obligation() -> None:
    """An obligation built from a spec is open, unanswered and unmarked."""
    spec = ObligationSpec("power", "item-1", ObligationKind.QUICK_ANSWER, DUE)
    ob = Obligation.from_spec("ob-7", spec)
    assert (ob.id, ob.member_id, ob.item_id, ob.kind, ob.due_at) == (
        "ob-7",
        "power",
        "item-1",
        ObligationKind.QUICK_ANSWER,
        DUE,
    )
    assert ob.is_open and ob.status == ObligationStatus.OPEN
    assert (ob.verdict, ob.comment, ob.answered_at, ob.late, ob.changes) == (
        None,
        None,
        None,
        False,
        0,
    )


def test_an_answer_before_due_is_on_time() -> None:
    """Answering before the due time records verdict, comment and time, not late."""
    ob = answer(obligation(), "came", "  seen on two hosts ", T0 + HOUR)
    assert ob.status == ObligationStatus.ANSWERED
    assert ob.verdict == Verdict.CAME
    assert ob.comment == "seen on two hosts"
    assert ob.answered_at == T0 + HOUR
    assert not ob.late and ob.changes == 0


def test_a_quick_answer_comment_is_optional() -> None:
    """A quick answer without a comment (or a blank one) stores no comment."""
    assert answer(obligation(), Verdict.UNKNOWN, None, T0).comment is None
    assert answer(obligation(), Verdict.UNKNOWN, "   ", T0).comment is None


@pytest.mark.parametrize("late_by", [timedelta(0), timedelta(hours=30)])
def test_a_first_answer_at_or_after_due_is_accepted_as_late(late_by: timedelta) -> None:
    """A first answer at or after the due time is accepted and marked late."""
    ob = answer(obligation(), "not_came", None, DUE + late_by)
    assert ob.status == ObligationStatus.ANSWERED and ob.late


def test_an_answer_can_change_before_due_and_changes_are_counted() -> None:
    """Before the due time an answer may change; each change is counted."""
    ob = answer(obligation(), "unknown", None, T0)
    ob = answer(ob, "came", "found it after all", T0 + HOUR)
    ob = answer(ob, "not_came", "false positive", T0 + 2 * HOUR)
    assert ob.verdict == Verdict.NOT_CAME and ob.comment == "false positive"
    assert ob.answered_at == T0 + 2 * HOUR
    assert ob.changes == 2 and not ob.late


def test_a_given_answer_is_locked_from_due_on() -> None:
    """Changing an answer at or after the due time raises AnswerLocked."""
    ob = answer(obligation(), "came", None, T0)
    with pytest.raises(AnswerLocked):
        answer(ob, "not_came", None, DUE)


def test_a_late_answer_cannot_change() -> None:
    """A late first answer is locked at once: the provider may act on it."""
    ob = answer(obligation(), "came", None, DUE + HOUR)
    with pytest.raises(AnswerLocked, match="can no longer change"):
        answer(ob, "unknown", None, DUE + 2 * HOUR)


def test_resending_the_same_answer_is_a_no_op_even_after_due() -> None:
    """Re-sending the recorded answer returns it unchanged, without counting or locking."""
    ob = answer(obligation(), "came", "seen", T0)
    assert answer(ob, "came", " seen ", T0 + HOUR) is ob
    assert answer(ob, Verdict.CAME, "seen", DUE + HOUR) is ob


def test_a_verdict_of_the_other_kind_is_refused_naming_the_allowed_ones() -> None:
    """A tier-one verdict on a quick answer is an InvalidVerdict listing the allowed verdicts."""
    with pytest.raises(InvalidVerdict, match="allowed: came, not_came, unknown"):
        answer(obligation(), "confirm", "yes", T0)
    with pytest.raises(ValueError, match="allowed: confirm, refute, additional_info"):
        answer(obligation(kind=EXPERT), "came", None, T0)


def test_an_unknown_verdict_is_refused() -> None:
    """A verdict that is no verdict at all is an InvalidVerdict."""
    with pytest.raises(InvalidVerdict):
        answer(obligation(), "maybe", None, T0)


def test_expert_feedback_takes_text() -> None:
    """Expert feedback records its verdict and text."""
    ob = answer(obligation(kind=EXPERT), "confirm", "same sample at two customers", T0)
    assert ob.verdict == Verdict.CONFIRM and ob.comment == "same sample at two customers"


@pytest.mark.parametrize("comment", [None, "", "  \n"])
def test_additional_info_needs_a_comment(comment: str | None) -> None:
    """additional_info without a non-empty comment is an InvalidVerdict."""
    with pytest.raises(InvalidVerdict, match="non-empty comment"):
        answer(obligation(kind=EXPERT), "additional_info", comment, T0)


@pytest.mark.parametrize("lift", [cancel_for_withdrawal, close_for_departure])
def test_cancelled_or_closed_obligations_take_no_answer(
    lift: Callable[[Obligation], Obligation],
) -> None:
    """Answering a cancelled or closed obligation raises ObligationClosed."""
    lifted = lift(obligation())
    with pytest.raises(ObligationClosed):
        answer(lifted, "came", None, T0)


def test_errors_share_a_base() -> None:
    """Every deliberate error of the package is a FeedbackError."""
    for error in (AnswerLocked, InvalidVerdict, ObligationClosed):
        assert issubclass(error, FeedbackError)


def test_withdrawal_cancels_open_obligations_only() -> None:
    """Withdrawal cancels an open obligation and leaves an answered one as it is."""
    assert cancel_for_withdrawal(obligation()).status == ObligationStatus.CANCELLED
    answered = answer(obligation(), "came", None, T0)
    assert cancel_for_withdrawal(answered) is answered


def test_departure_closes_open_obligations_only() -> None:
    """A member's departure closes its open obligations and keeps given answers."""
    assert close_for_departure(obligation()).status == ObligationStatus.CLOSED
    answered = answer(obligation(), "came", None, T0)
    assert close_for_departure(answered) is answered
    cancelled = cancel_for_withdrawal(obligation())
    assert close_for_departure(cancelled) is cancelled


def test_overdue_means_open_from_the_due_time_on() -> None:
    """An open obligation is overdue from its due time; answered or lifted ones never are."""
    ob = obligation()
    assert not is_overdue(ob, DUE - timedelta(microseconds=1))
    assert is_overdue(ob, DUE)
    assert not is_overdue(answer(ob, "came", None, T0), DUE + HOUR)
    assert not is_overdue(close_for_departure(ob), DUE + HOUR)


def test_a_naive_now_is_refused() -> None:
    """Answering or checking overdue with a naive now is a ValueError."""
    with pytest.raises(ValueError, match="timezone-aware"):
        answer(obligation(), "came", None, T0.replace(tzinfo=None))
    with pytest.raises(ValueError, match="timezone-aware"):
        is_overdue(obligation(), T0.replace(tzinfo=None))


def test_stored_strings_become_enums_and_times_utc() -> None:
    """An obligation rebuilt from plain stored values has enum fields and UTC times."""
    tokyo = timezone(timedelta(hours=9))
    ob = Obligation(
        "ob-1",
        "m",
        "i",
        "quick_answer",  # type: ignore[arg-type]
        DUE.astimezone(tokyo),
        status="answered",  # type: ignore[arg-type]
        verdict="came",  # type: ignore[arg-type]
        answered_at=T0.astimezone(tokyo),
        reminded_at=T0.astimezone(tokyo),
    )
    assert ob.kind is ObligationKind.QUICK_ANSWER
    assert ob.status is ObligationStatus.ANSWERED
    assert ob.verdict is Verdict.CAME
    assert ob.due_at.utcoffset() == timedelta(0) and ob.due_at == DUE
    assert ob.answered_at is not None and ob.answered_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": ObligationStatus.ANSWERED}, "exactly when answered"),
        ({"verdict": Verdict.CAME, "answered_at": T0}, "exactly when answered"),
        (
            {"status": ObligationStatus.ANSWERED, "verdict": Verdict.CAME},
            "exactly when answered",
        ),
        (
            {"status": ObligationStatus.ANSWERED, "verdict": Verdict.CONFIRM, "answered_at": T0},
            "does not fit",
        ),
        ({"changes": -1}, "negative"),
        ({"status": "lost"}, "lost"),
        ({"reminded_at": T0.replace(tzinfo=None)}, "reminded_at"),
    ],
)
def test_inconsistent_stored_obligations_are_refused(fields: dict[str, Any], message: str) -> None:
    """A stored obligation whose fields contradict each other is a ValueError."""
    with pytest.raises(ValueError, match=message):
        obligation(**fields)
