"""The contribution ledger against a plain reference model, on generated cases.

SPEC §4: per member and period, a contribution ledger of original submissions,
feedback given, answers on time / late / missing; members below the thresholds
the task force sets are flagged for status review. The model reads the
details off the docstrings of `broker.feedback._ledger` (`ledger`,
`LedgerRow`, `ContributionPolicy`, `ORIGINAL_KINDS`): who has a row, the
half-open period, an obligation belonging to the period its deadline falls in,
on time / late judged by the first answer, missing judged at `now`, cancelled
and closed obligations counting nowhere, the score, and the flag reasons in
the order `FlagReason` lists them.

The model works from the generated *facts* (who answered when, what became of
each obligation), not from `Obligation` fields, and shares no code with the
package.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from feedback_factories import T0
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.domain.model import Body, BodyKind, ItemKind, MemberStatus, Tier
from broker.feedback import (
    ContributionPolicy,
    FlagReason,
    LedgerRow,
    Obligation,
    ObligationKind,
    ObligationStatus,
    Submission,
    ledger,
)

HOUR = timedelta(hours=1)
TOKYO = timezone(timedelta(hours=9))
BASE = T0.replace(hour=0)  # tick 0; every generated time is a whole number of hours after it

# A body: (id, kind, tier, status). An obligation: (id, member, kind, due tick, fate) where the
# fate is "open", "cancelled", "closed", or ("answered", first answer tick, change tick|None).
BodyFacts = tuple[str, BodyKind, Tier, MemberStatus]
Fate = str | tuple[str, int, int | None]
ObligationFacts = tuple[str, str, ObligationKind, int, Fate]
SubmissionFacts = tuple[str, int, ItemKind]
PolicyFacts = tuple[int, float, int | None, float]
Case = tuple[
    list[BodyFacts], list[SubmissionFacts], list[ObligationFacts], tuple[int, int], int, PolicyFacts
]

# ---------------------------------------------------------------- reference model


def answer_times(fate: Fate, due: int) -> tuple[int, int] | None:
    """(first answer, latest answer) ticks of an answered obligation, else None.

    A change counts only where it could happen: after the first answer, before due.
    """
    if isinstance(fate, str):
        return None
    _, first, change = fate
    if change is not None and first <= change < due:
        return first, change
    return first, first


def reference_rows(case: Case) -> list[dict[str, Any]]:
    """The ledger as plain dicts, computed straight from the generated facts."""
    bodies, submissions, obligations, (start, end), now, policy = case
    min_subs, min_ratio, max_missing, late_credit = policy
    rows: list[dict[str, Any]] = []
    for member_id, kind, tier, status in sorted(bodies, key=lambda facts: facts[0]):
        # Task-force members (tier one or two, whatever their status) and the coordinator.
        task_force = kind == BodyKind.MEMBER and tier in (Tier.TIER_ONE, Tier.TIER_TWO)
        if not (kind == BodyKind.COORDINATOR or task_force):
            continue
        originals = 0
        for who, tick, item_kind in submissions:
            if who != member_id:
                continue
            if item_kind in (ItemKind.CONSULTATION, ItemKind.NOTICE):
                continue  # questions and administrative notices are not original information
            if start <= tick < end:
                originals += 1
        given_ = on_time = late = missing = 0
        for _, who, _, due, fate in obligations:
            if who != member_id:
                continue
            times = answer_times(fate, due)
            if times is not None and start <= times[1] < end:
                given_ += 1
            if not (start <= due < end):
                continue
            if times is not None:
                if times[0] < due:
                    on_time += 1
                else:
                    late += 1
            elif fate == "open" and now >= due:
                missing += 1
        total = on_time + late + missing
        answer_part = 1.0 if total == 0 else (on_time + late_credit * late) / total
        tier_one_member = kind == BodyKind.MEMBER and tier == Tier.TIER_ONE
        if tier_one_member:
            supply_part = 1.0 if min_subs == 0 else min(1.0, originals / min_subs)
            score = (supply_part + answer_part) / 2
        else:
            score = answer_part
        reasons: list[FlagReason] = []
        if kind == BodyKind.MEMBER and status == MemberStatus.ACTIVE:
            if tier_one_member and originals < min_subs:
                if originals == 0:
                    reasons.append(FlagReason.NO_ORIGINAL_SUBMISSIONS)
                else:
                    reasons.append(FlagReason.FEW_ORIGINAL_SUBMISSIONS)
            if total > 0 and on_time / total < min_ratio:
                reasons.append(FlagReason.LOW_ON_TIME_RATIO)
            if max_missing is not None and missing > max_missing:
                reasons.append(FlagReason.TOO_MANY_MISSING_ANSWERS)
        rows.append(
            {
                "member_id": member_id,
                "period": (at(start).isoformat(), at(end).isoformat()),
                "counts": (originals, given_, on_time, late, missing, total),
                "score": score,
                "flagged": bool(reasons),
                "reasons": tuple(reasons),
            }
        )
    return rows


def at(tick: int, zone: timezone = UTC) -> datetime:
    """The instant `tick` hours after BASE, given in `zone`."""
    return (BASE + tick * HOUR).astimezone(zone)


# ---------------------------------------------------------------- the real ledger's inputs


def real_obligation(facts: ObligationFacts, zone: timezone) -> Obligation:
    """The stored obligation the facts describe, in the state the state machine would leave it."""
    ob_id, member_id, kind, due, fate = facts
    times = answer_times(fate, due)
    if times is None:
        status = ObligationStatus(fate)  # type: ignore[arg-type]
        return Obligation(ob_id, member_id, "item-1", kind, at(due, zone), status=status)
    first, latest = times
    return Obligation(
        ob_id,
        member_id,
        "item-1",
        kind,
        at(due, zone),
        status=ObligationStatus.ANSWERED,
        verdict="confirm" if kind == ObligationKind.EXPERT_FEEDBACK else "came",  # type: ignore[arg-type]
        comment="text",
        answered_at=at(latest, zone),
        late=first >= due,
        changes=int(latest != first),
    )


def real_rows(case: Case, zone: timezone, named: bool) -> list[LedgerRow]:
    """The real ledger for the case, every time given in `zone`."""
    bodies, submissions, obligations, (start, end), now, policy = case
    members = [
        Body(id=member_id, kind=kind, tier=tier, status=status)
        for member_id, kind, tier, status in bodies
    ]
    build = Submission if named else (lambda *fields: fields)
    return ledger(
        members,
        [build(who, at(tick, zone), item_kind) for who, tick, item_kind in submissions],
        [real_obligation(facts, zone) for facts in obligations],
        at(start, zone),
        at(end, zone),
        at(now, zone),
        ContributionPolicy(*policy),
    )


def as_dict(row: LedgerRow) -> dict[str, Any]:
    """A real row in the model's terms (times as ISO strings, so UTC shows)."""
    return {
        "member_id": row.member_id,
        "period": (row.period_start.isoformat(), row.period_end.isoformat()),
        "counts": (
            row.original_submissions,
            row.feedback_given,
            row.answers_on_time,
            row.answers_late,
            row.answers_missing,
            row.obligations_total,
        ),
        "score": row.score,
        "flagged": row.flagged,
        "reasons": row.reasons,
    }


# ---------------------------------------------------------------- generated cases

# Each strategy draws whole facts from a precomputed list: one draw per fact keeps an
# example near a millisecond, and the lists are small enough to hit every boundary.
IDS = ["a", "b", "c", "d"]  # members; "x" never is one
TICKS = range(10)  # the periods lie in 0..8, so some times fall after them
# Every kind of body, and active task-force members (the ones that can be flagged) often.
PROFILES = [(kind, tier, status) for kind in BodyKind for tier in Tier for status in MemberStatus]
PROFILES += 12 * [
    (BodyKind.MEMBER, tier, MemberStatus.ACTIVE) for tier in Tier if tier != Tier.NONE
]
# A profile for each id, or None: not among the members passed (given in reverse id order,
# so that sorting shows).
BODIES = st.tuples(*[st.sampled_from([*PROFILES, *5 * [None]]) for _ in IDS]).map(
    lambda profiles: [
        (member_id, *profile)
        for member_id, profile in reversed(list(zip(IDS, profiles, strict=True)))
        if profile is not None
    ]
)
SUBMISSIONS = st.lists(
    st.sampled_from(
        [(who, tick, kind) for who in [*IDS, "x"] for tick in TICKS for kind in ItemKind]
    ),
    max_size=8,
)
OWED = [(who, kind, due) for who in [*IDS, *IDS, "x"] for kind in ObligationKind for due in TICKS]
# Answers relative to due (the first from 3 h before to 2 h after, a change 1-2 h after it),
# made absolute in `numbered`: the due instant itself comes up often.
ANSWERS = [("answered", first, change) for first in range(-3, 3) for change in (None, 1, 2)]
FATES = st.sampled_from([*6 * ["open"], *3 * ["cancelled"], *3 * ["closed"], *ANSWERS])
OBLIGATIONS = st.lists(st.tuples(st.sampled_from(OWED), FATES), min_size=1, max_size=10)
PERIODS = st.sampled_from([(start, end) for start in range(8) for end in range(start + 1, 9)])
POLICIES = st.sampled_from(
    [
        (min_subs, ratio, max_missing, late_credit)
        for min_subs in range(4)
        for ratio in (0.0, 1 / 3, 0.5, 0.75, 0.8, 1.0)
        for max_missing in (None, 0, 1, 2)
        for late_credit in (0.0, 0.25, 0.5, 1.0)
    ]
)
CASES = st.tuples(BODIES, SUBMISSIONS, OBLIGATIONS, PERIODS, st.sampled_from(TICKS), POLICIES)


def numbered(
    drawn: tuple[
        list[BodyFacts],
        list[SubmissionFacts],
        list[tuple[tuple[str, ObligationKind, int], Fate]],
        tuple[int, int],
        int,
        PolicyFacts,
    ],
) -> Case:
    """The drawn case with an id for every obligation and answer times made absolute."""
    bodies, submissions, owed, period, now, policy = drawn
    obligations: list[ObligationFacts] = []
    for n, ((who, kind, due), fate) in enumerate(owed):
        if not isinstance(fate, str):
            _, first, change = fate
            fate = ("answered", due + first, None if change is None else due + first + change)
        obligations.append((f"ob-{n}", who, kind, due, fate))
    return bodies, submissions, obligations, period, now, policy


@settings(deadline=None, database=None)
@given(CASES.map(numbered), st.sampled_from([UTC, TOKYO]), st.booleans())
def test_ledger_rows_follow_the_reference_model(case: Case, zone: timezone, named: bool) -> None:
    """Every generated ledger equals the reference: rows, counts, score, flag and reasons."""
    expected = reference_rows(case)
    actual = [as_dict(row) for row in real_rows(case, zone, named)]
    assert [row["member_id"] for row in actual] == [row["member_id"] for row in expected]
    for real, model in zip(actual, expected, strict=True):
        assert {**real, "score": None} == {**model, "score": None}
        assert math.isclose(real["score"], model["score"], abs_tol=1e-12), real
