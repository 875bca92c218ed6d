"""The contribution ledger and the free-rider rule (SPEC §4).

Per member and period: original submissions, feedback given, answers on time
/ late / missing. The task force sets the thresholds (`ContributionPolicy`);
members below them are flagged for status review. Charter annex (member
classes): "第一類構成員となった後、求められる貢献をしない者は、その地位を維持できない"
— the same for tier two — "ただ乗り" (free riding) is what the ledger exposes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from broker.domain.model import Body, BodyKind, ItemKind, MemberStatus, Tier
from broker.feedback._state import Obligation, ObligationStatus
from broker.feedback._time import require_aware

__all__ = [
    "ORIGINAL_KINDS",
    "ContributionPolicy",
    "FlagReason",
    "LedgerRow",
    "Submission",
    "ledger",
]

ORIGINAL_KINDS: frozenset[ItemKind] = frozenset(
    {ItemKind.ANALYSIS, ItemKind.COUNTERMEASURE, ItemKind.EARLY_WARNING}
)
"""Item kinds that count as supplying information. Consultations are questions
(art. 16(3)) and notices are administrative: neither is original information."""


class Submission(NamedTuple):
    """An item a member submitted, as the ledger needs it.

    The caller passes only *original* submissions — information the member
    collected or analysed itself, not derived from another member's items
    (charter annex: "自組織で収集・分析したオリジナル情報").
    """

    member_id: str
    at: datetime
    kind: ItemKind


class FlagReason(StrEnum):
    """Why a member is flagged for status review."""

    NO_ORIGINAL_SUBMISSIONS = "no_original_submissions"
    FEW_ORIGINAL_SUBMISSIONS = "few_original_submissions"
    LOW_ON_TIME_RATIO = "low_on_time_ratio"
    TOO_MANY_MISSING_ANSWERS = "too_many_missing_answers"


@dataclass(frozen=True, slots=True)
class ContributionPolicy:
    """The thresholds the task force sets (charter art. 24(5): it runs itself).

    - `min_original_submissions_tier_one`: original items a tier-one member
      supplies per period (SPEC §1: "must supply original information of its own").
    - `min_on_time_ratio`: answers on time over answers due (on time + late +
      missing), for tier one and tier two alike; not applied when none fell due.
    - `max_missing_answers`: missing answers tolerated per period; `None`
      leaves it to the ratio.
    - `late_credit`: how much a late answer counts towards `LedgerRow.score`
      (0 = like a missing one, 1 = like one on time).

    The defaults are placeholders until the task force decides.
    """

    min_original_submissions_tier_one: int = 1
    min_on_time_ratio: float = 0.8
    max_missing_answers: int | None = None
    late_credit: float = 0.5

    def __post_init__(self) -> None:
        """Refuse thresholds that cannot be met or make no sense."""
        if self.min_original_submissions_tier_one < 0:
            raise ValueError("min_original_submissions_tier_one cannot be negative")
        if not 0.0 <= self.min_on_time_ratio <= 1.0:
            raise ValueError("min_on_time_ratio must lie between 0 and 1")
        if self.max_missing_answers is not None and self.max_missing_answers < 0:
            raise ValueError("max_missing_answers cannot be negative")
        if not 0.0 <= self.late_credit <= 1.0:
            raise ValueError("late_credit must lie between 0 and 1")


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One member's contribution in `[period_start, period_end)`.

    - `original_submissions`: original items submitted in the period.
    - `feedback_given`: obligations the member answered in the period (by
      the time of its latest answer), of either kind.
    - `answers_on_time` / `answers_late` / `answers_missing`: the member's
      obligations that fall due in the period (by `due_at`), answered before
      it, answered from it on, or still open at `now` though due. Open ones
      not yet due, and cancelled or closed ones, are none of these.
    - `obligations_total`: on time + late + missing.
    - `score`: 0..1; for tier one the mean of the submission and answer
      parts, for tier two and the coordinator the answer part alone.
    - `flagged`: the member is below a threshold; `reasons` say which.
    """

    member_id: str
    period_start: datetime
    period_end: datetime
    original_submissions: int
    feedback_given: int
    answers_on_time: int
    answers_late: int
    answers_missing: int
    obligations_total: int
    score: float
    flagged: bool
    reasons: tuple[FlagReason, ...]


def _assessed(body: Body) -> bool:
    """Whether `body` has a row: task-force members and the coordinator (charter art. 24(2))."""
    if body.kind == BodyKind.COORDINATOR:
        return True
    return body.kind == BodyKind.MEMBER and body.tier in (Tier.TIER_ONE, Tier.TIER_TWO)


def _reasons(
    body: Body, submissions: int, on_time: int, due: int, missing: int, policy: ContributionPolicy
) -> tuple[FlagReason, ...]:
    """The thresholds `body` falls below; none for the coordinator or an inactive member."""
    if body.kind != BodyKind.MEMBER or body.status != MemberStatus.ACTIVE:
        # The coordinator runs the system and is not under review; an inactive
        # member already lost its status (art. 7, 8).
        return ()
    reasons: list[FlagReason] = []
    if body.tier == Tier.TIER_ONE and submissions < policy.min_original_submissions_tier_one:
        # SPEC §1: tier one "must supply original information of its own"
        reasons.append(
            FlagReason.NO_ORIGINAL_SUBMISSIONS
            if submissions == 0
            else FlagReason.FEW_ORIGINAL_SUBMISSIONS
        )
    if due and on_time / due < policy.min_on_time_ratio:
        reasons.append(FlagReason.LOW_ON_TIME_RATIO)
    if policy.max_missing_answers is not None and missing > policy.max_missing_answers:
        reasons.append(FlagReason.TOO_MANY_MISSING_ANSWERS)
    return tuple(reasons)


def _score(
    body: Body, submissions: int, on_time: int, late: int, due: int, policy: ContributionPolicy
) -> float:
    """How fully `body` met its duties, 0..1 (see `LedgerRow.score`)."""
    answers = (on_time + policy.late_credit * late) / due if due else 1.0
    if body.kind == BodyKind.MEMBER and body.tier == Tier.TIER_ONE:
        needed = policy.min_original_submissions_tier_one
        supplied = min(1.0, submissions / needed) if needed else 1.0
        return (supplied + answers) / 2
    return answers


def ledger(
    members: Iterable[Body],
    submissions: Iterable[tuple[str, datetime, ItemKind]],
    obligations: Iterable[Obligation],
    period_start: datetime,
    period_end: datetime,
    now: datetime,
    policy: ContributionPolicy,
) -> list[LedgerRow]:
    """The ledger rows for the task-force members (and the coordinator) among `members`.

    `submissions` are `(member_id, at, kind)` of original items (see
    `Submission`); only `ORIGINAL_KINDS` in the period count. Whether an open
    obligation is missing is judged at `now`. Rows come sorted by member id;
    data about members not among `members` is ignored. General members (tier
    none) and the secretariat have no duties here and no row. `ValueError`
    for naive datetimes or an empty period.
    """
    start = require_aware(period_start, "period_start")
    end = require_aware(period_end, "period_end")
    at = require_aware(now, "now")
    if start >= end:
        raise ValueError("period_start must come before period_end")
    bodies = {body.id: body for body in members if _assessed(body)}

    supplied: Counter[str] = Counter()
    for member_id, when, kind in submissions:
        when = require_aware(when, "submission time")
        if member_id in bodies and kind in ORIGINAL_KINDS and start <= when < end:
            supplied[member_id] += 1

    given: Counter[str] = Counter()
    on_time: Counter[str] = Counter()
    late: Counter[str] = Counter()
    missing: Counter[str] = Counter()
    for ob in obligations:
        if ob.member_id not in bodies:
            continue
        if ob.answered_at is not None and start <= ob.answered_at < end:
            given[ob.member_id] += 1
        if not start <= ob.due_at < end:
            continue  # an obligation belongs to the period its deadline falls in
        if ob.status == ObligationStatus.ANSWERED:
            (late if ob.late else on_time)[ob.member_id] += 1
        elif ob.is_open and at >= ob.due_at:
            missing[ob.member_id] += 1
        # cancelled and closed obligations, and open ones not yet due, count nowhere

    rows = []
    for member_id in sorted(bodies):
        body = bodies[member_id]
        due = on_time[member_id] + late[member_id] + missing[member_id]
        reasons = _reasons(
            body, supplied[member_id], on_time[member_id], due, missing[member_id], policy
        )
        rows.append(
            LedgerRow(
                member_id=member_id,
                period_start=start,
                period_end=end,
                original_submissions=supplied[member_id],
                feedback_given=given[member_id],
                answers_on_time=on_time[member_id],
                answers_late=late[member_id],
                answers_missing=missing[member_id],
                obligations_total=due,
                score=_score(
                    body, supplied[member_id], on_time[member_id], late[member_id], due, policy
                ),
                flagged=bool(reasons),
                reasons=reasons,
            )
        )
    return rows
