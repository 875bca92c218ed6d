"""An obligation's life against a plain reference model, on generated operation sequences.

The model below is written from the rules of SPEC §4 ("obligations have
deadlines", "the provider always gets feedback", expert feedback `confirm` /
`refute` / `additional_info` with text, quick answers `came` / `not_came` /
`unknown` optionally with a comment) and the docstrings of
`broker.feedback._state`: before `due_at` an answer is on time and may change
(each change counted); from `due_at` on a first answer is late and a given
answer is locked; re-sending the recorded answer is a no-op at any time;
withdrawal cancels and departure closes only open obligations, after which
nothing is owed; overdue means open from `due_at` on. It shares no code with
the package: verdicts, comments and times are checked by hand.

Time only moves forward in a sequence, as it does for a real obligation.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from feedback_factories import T0
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.feedback import (
    AnswerLocked,
    InvalidVerdict,
    Obligation,
    ObligationClosed,
    Verdict,
    answer,
    cancel_for_withdrawal,
    close_for_departure,
    is_overdue,
)

MINUTE = timedelta(minutes=1)
TOKYO = timezone(timedelta(hours=9))

# ---------------------------------------------------------------- reference model

# SPEC §4: which verdicts each obligation kind takes (spelled out, not imported).
FITTING = {
    "expert_feedback": ("confirm", "refute", "additional_info"),
    "quick_answer": ("came", "not_came", "unknown"),
}


class Model:
    """A naive obligation: plain fields, plain strings, the rules as if/else."""

    def __init__(self, ob_id: str, kind: str, due_at: datetime, **marks: datetime | None) -> None:
        """An open, unanswered obligation of `kind` due at `due_at` (kept in UTC)."""
        self.id = ob_id
        self.kind = kind
        self.due_at = due_at.astimezone(UTC)
        self.status = "open"
        self.verdict: str | None = None
        self.comment: str | None = None
        self.answered_at: datetime | None = None
        self.late = False
        self.changes = 0
        self.reminded_at = marks.get("reminded_at")
        self.overdue_marked_at = marks.get("overdue_marked_at")

    def answer(self, verdict: str, comment: str | None, now: datetime) -> type[Exception] | None:
        """Apply an answer; the error class it must raise (state untouched), or None."""
        if self.status in ("cancelled", "closed"):
            return ObligationClosed
        if verdict not in FITTING[self.kind]:
            return InvalidVerdict
        text = "" if comment is None else comment.strip()
        if verdict == "additional_info" and text == "":
            return InvalidVerdict
        new_comment = text if text != "" else None
        now = now.astimezone(UTC)
        if self.status == "open":
            self.status = "answered"
            self.verdict, self.comment, self.answered_at = verdict, new_comment, now
            self.late = now >= self.due_at
            return None
        if verdict == self.verdict and new_comment == self.comment:
            return None  # a retry
        if now >= self.due_at:
            return AnswerLocked
        self.verdict, self.comment, self.answered_at = verdict, new_comment, now
        self.changes += 1
        return None

    def cancel(self) -> None:
        """The provider withdrew the item."""
        if self.status == "open":
            self.status = "cancelled"

    def close(self) -> None:
        """The member left or was restricted."""
        if self.status == "open":
            self.status = "closed"

    def overdue(self, now: datetime) -> bool:
        """Still owed and due."""
        return self.status == "open" and now >= self.due_at

    def fields(self) -> dict[str, Any]:
        """The state as comparable plain values (times as ISO strings, so UTC shows)."""
        return {
            "status": self.status,
            "verdict": self.verdict,
            "comment": self.comment,
            "answered_at": iso(self.answered_at),
            "late": self.late,
            "changes": self.changes,
            "due_at": iso(self.due_at),
            "reminded_at": iso(self.reminded_at),
            "overdue_marked_at": iso(self.overdue_marked_at),
            "id": self.id,
            "kind": self.kind,
        }


def iso(value: datetime | None) -> str | None:
    """`value` as ISO 8601 with its offset, or None."""
    return None if value is None else value.isoformat()


def real_fields(ob: Obligation) -> dict[str, Any]:
    """The real obligation's state in the model's terms."""
    return {
        "status": str(ob.status),
        "verdict": None if ob.verdict is None else str(ob.verdict),
        "comment": ob.comment,
        "answered_at": iso(ob.answered_at),
        "late": ob.late,
        "changes": ob.changes,
        "due_at": iso(ob.due_at),
        "reminded_at": iso(ob.reminded_at),
        "overdue_marked_at": iso(ob.overdue_marked_at),
        "id": ob.id,
        "kind": str(ob.kind),
    }


# ---------------------------------------------------------------- generated cases

# Verdicts as plain strings and as the enum, fitting either kind, or none at all.
VERDICTS = [*FITTING["expert_feedback"], *FITTING["quick_answer"], "maybe", "CAME", ""]
VERDICTS += [Verdict.CONFIRM, Verdict.CAME]
# Blank ones (ASCII and the ideographic space), padded ones, distinct ones.
COMMENTS = [None, "", "  ", "\t\n", "\u3000", "seen", " seen ", "seen\u3000", "other"]

# One operation, drawn whole (one draw each keeps an example well under a millisecond):
# (name, verdict, comment) — the last two matter to "answer" only.
ACTIONS = [("answer", verdict, comment) for verdict in VERDICTS for comment in COMMENTS]
ACTIONS += [(name, "", None) for name in ("cancel", "close", "wait") for _ in range(8)]
# How the clock moves before it (minutes), and the zone `now` is given in.
TICKS = [(step, zone) for step in (0, 0, 1, 2, 7) for zone in (UTC, TOKYO)]
OPERATIONS = st.tuples(st.sampled_from(ACTIONS), st.sampled_from(TICKS))


# An obligation: its kind, due time (minutes after T0, zone), how long before it the
# reminder and the overdue mark were recorded if at all, where the clock starts (minutes
# from due).
STARTS = st.tuples(
    st.sampled_from(sorted(FITTING)),
    st.integers(0, 600),
    st.sampled_from([UTC, TOKYO]),
    st.none() | st.integers(0, 90),
    st.none() | st.integers(0, 90),
    st.integers(-8, 1),
)


def build(
    start: tuple[str, int, timezone, int | None, int | None, int],
) -> tuple[Obligation, Model, datetime]:
    """The real obligation, its model, and the clock's first reading."""
    kind, due_minute, zone, reminded, marked = start[:5]
    due = (T0 + due_minute * MINUTE).astimezone(zone)
    marks = {
        "reminded_at": None if reminded is None else due - reminded * MINUTE,
        "overdue_marked_at": None if marked is None else due - marked * MINUTE,
    }
    real = Obligation("ob-1", "m-1", "item-1", kind, due, **marks)  # type: ignore[arg-type]
    utc_marks = {name: None if at is None else at.astimezone(UTC) for name, at in marks.items()}
    return real, Model("ob-1", kind, due, **utc_marks), due + start[5] * MINUTE


@settings(deadline=None, database=None)
@given(STARTS, st.lists(OPERATIONS, max_size=10))
def test_answer_cancel_close_and_overdue_follow_the_reference_model(
    start: tuple[str, int, timezone, int | None, int | None, int],
    operations: list[tuple[tuple[str, str, str | None], tuple[int, timezone]]],
) -> None:
    """After every operation the real obligation (or the error raised) equals the model's."""
    ob, model, now = build(start)
    assert real_fields(ob) == model.fields()
    for (name, verdict, comment), (step, zone) in operations:
        now = (now + step * MINUTE).astimezone(zone)
        if name == "answer":
            expected_error = model.answer(verdict, comment, now)
            try:
                ob = answer(ob, verdict, comment, now)
            except Exception as error:  # the model says which, if any
                assert type(error) is expected_error, f"answer({verdict!r}, {comment!r}, {now})"
            else:
                assert expected_error is None, f"answer({verdict!r}, {comment!r}, {now}) passed"
        elif name == "cancel":
            model.cancel()
            ob = cancel_for_withdrawal(ob)
        elif name == "close":
            model.close()
            ob = close_for_departure(ob)
        # "wait": only the clock moved
        assert real_fields(ob) == model.fields(), f"after {name} at {now}"
        assert is_overdue(ob, now) == model.overdue(now), f"is_overdue after {name} at {now}"
