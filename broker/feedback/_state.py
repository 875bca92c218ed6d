"""An obligation's state and the transitions a member, a provider or a departure cause.

Every transition is a pure function from one frozen `Obligation` to the next;
the store persists the fields, so the state survives restarts as it is.

Deadline semantics, used throughout the package: `due_at` is the first
instant of lateness. Before it an answer is on time and may still change;
from it on an unanswered obligation is overdue and a first answer is late.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from broker.feedback._errors import AnswerLocked, InvalidVerdict, ObligationClosed
from broker.feedback._obligations import ALLOWED_VERDICTS, ObligationKind, ObligationSpec, Verdict
from broker.feedback._time import require_aware

__all__ = [
    "Obligation",
    "ObligationStatus",
    "answer",
    "cancel_for_withdrawal",
    "close_for_departure",
    "is_overdue",
]


class ObligationStatus(StrEnum):
    """Where an obligation stands."""

    OPEN = "open"  # owed, not answered
    ANSWERED = "answered"
    CANCELLED = "cancelled"  # the provider withdrew the item: nothing left to answer
    CLOSED = "closed"  # the member left or was restricted: no longer owed, never "missing"


_LIFTED = (ObligationStatus.CANCELLED, ObligationStatus.CLOSED)


@dataclass(frozen=True, slots=True)
class Obligation:
    """What one member owes on one item, and how it has been met.

    Built from a stored row, so it checks its own consistency: a verdict and
    `answered_at` exactly when answered, a verdict that fits the kind, aware
    datetimes (normalised to UTC). `ValueError` otherwise.
    """

    id: str
    member_id: str
    item_id: str
    kind: ObligationKind
    due_at: datetime
    status: ObligationStatus = ObligationStatus.OPEN
    verdict: Verdict | None = None
    comment: str | None = None
    answered_at: datetime | None = None
    late: bool = False  # the first answer came at or after due_at
    reminded_at: datetime | None = None  # persisted so a restarted sweeper does not remind twice
    overdue_marked_at: datetime | None = None  # likewise for the overdue mark
    changes: int = 0  # how many times an answer was changed before due_at

    def __post_init__(self) -> None:
        """Coerce stored strings to enums, normalise times to UTC, check consistency."""
        # The store hands back plain strings; the enums reject unknown values.
        object.__setattr__(self, "kind", ObligationKind(self.kind))
        object.__setattr__(self, "status", ObligationStatus(self.status))
        if self.verdict is not None:
            object.__setattr__(self, "verdict", Verdict(self.verdict))
        object.__setattr__(self, "due_at", require_aware(self.due_at, "due_at"))
        for name in ("answered_at", "reminded_at", "overdue_marked_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, require_aware(value, name))
        answered = self.status == ObligationStatus.ANSWERED
        if answered != (self.verdict is not None) or answered != (self.answered_at is not None):
            raise ValueError(
                f"obligation {self.id}: a verdict and answered_at are set exactly when answered"
            )
        if self.verdict is not None and self.verdict not in ALLOWED_VERDICTS[self.kind]:
            raise ValueError(
                f"obligation {self.id}: verdict {self.verdict} does not fit {self.kind}"
            )
        if self.changes < 0:
            raise ValueError(f"obligation {self.id}: changes cannot be negative")

    @classmethod
    def from_spec(cls, ob_id: str, spec: ObligationSpec) -> Obligation:
        """A new, open obligation with the store-assigned `ob_id`."""
        return cls(ob_id, spec.member_id, spec.item_id, spec.kind, spec.due_at)

    @property
    def is_open(self) -> bool:
        """Whether it is still owed (not answered, cancelled or closed)."""
        return self.status == ObligationStatus.OPEN


def _check_verdict(kind: ObligationKind, verdict: Verdict | str) -> Verdict:
    """`verdict` as a `Verdict` if it fits `kind`, else `InvalidVerdict` naming the allowed ones."""
    allowed = ALLOWED_VERDICTS[kind]
    if verdict not in allowed:
        names = ", ".join(allowed)
        raise InvalidVerdict(f"verdict {verdict!r} does not fit {kind}; allowed: {names}")
    return Verdict(verdict)


def _check_comment(verdict: Verdict, comment: str | None) -> str | None:
    """The comment stripped, `None` if blank; `InvalidVerdict` if `additional_info` has none."""
    text = comment.strip() if comment is not None else ""
    if verdict == Verdict.ADDITIONAL_INFO and not text:
        # SPEC §4: additional information is the text itself; a bare verdict says nothing.
        raise InvalidVerdict("verdict additional_info needs a non-empty comment")
    return text or None


def answer(
    ob: Obligation, verdict: Verdict | str, comment: str | None, now: datetime
) -> Obligation:
    """`ob` answered with `verdict` (and `comment`) at `now`.

    - A first answer is always accepted; given at or after `due_at` it is
      marked `late` (the provider still wants it: SPEC §4, "the provider
      always gets feedback").
    - Before `due_at` the answer may be changed, each change counted in
      `changes`.
    - From `due_at` on a given answer is locked (`AnswerLocked`): the provider
      may already have raised or lowered its confidence on it (SPEC §4).
    - Re-sending the very answer already recorded changes nothing and raises
      nothing, so that retries are safe at any time.

    `ObligationClosed` if the obligation was cancelled or closed;
    `InvalidVerdict` (a `ValueError`) if the verdict does not fit the kind or
    `additional_info` comes without a comment; `ValueError` for a naive `now`.
    """
    at = require_aware(now, "now")
    if ob.status in _LIFTED:
        raise ObligationClosed(f"obligation {ob.id} is {ob.status}: no answer is owed")
    chosen = _check_verdict(ob.kind, verdict)
    text = _check_comment(chosen, comment)
    if ob.status == ObligationStatus.ANSWERED:
        if (chosen, text) == (ob.verdict, ob.comment):
            return ob  # a retry of the same answer
        if at >= ob.due_at:
            raise AnswerLocked(
                f"obligation {ob.id} was answered and fell due at {ob.due_at.isoformat()}: "
                "the answer can no longer change"
            )
        return replace(ob, verdict=chosen, comment=text, answered_at=at, changes=ob.changes + 1)
    return replace(
        ob,
        status=ObligationStatus.ANSWERED,
        verdict=chosen,
        comment=text,
        answered_at=at,
        late=at >= ob.due_at,
    )


def cancel_for_withdrawal(ob: Obligation) -> Obligation:
    """`ob` cancelled because its provider withdrew the item; only an open one changes.

    An answer already given stays: it was feedback given, and the ledger
    credits it (SPEC §4, contribution ledger).
    """
    return replace(ob, status=ObligationStatus.CANCELLED) if ob.is_open else ob


def close_for_departure(ob: Obligation) -> Obligation:
    """`ob` closed because its member left or was restricted; only an open one changes.

    Closed obligations are never counted as missing: the member no longer
    receives anything (charter art. 7, 8), so it cannot be asked to answer.
    """
    return replace(ob, status=ObligationStatus.CLOSED) if ob.is_open else ob


def is_overdue(ob: Obligation, now: datetime) -> bool:
    """Whether `ob` is still owed at `now` and its due time has come."""
    return ob.is_open and require_aware(now, "now") >= ob.due_at
