"""The contribution ledger and the free-rider flag (SPEC §4, charter annex member classes)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from feedback_factories import (
    COORDINATOR,
    HOUR,
    SECRETARIAT,
    T0,
    body,
    obligation,
    tier_one,
    tier_two,
)

from broker.domain.model import Body, ItemKind, MemberStatus
from broker.feedback import (
    ORIGINAL_KINDS,
    ContributionPolicy,
    FlagReason,
    LedgerRow,
    Obligation,
    ObligationKind,
    Submission,
    answer,
    cancel_for_withdrawal,
    close_for_departure,
    ledger,
    parse_period,
)

# The ISO week of T0: Monday 2026-11-16 to Monday 2026-11-23.
START, END = parse_period("2026-W47", T0)
NOW = END + HOUR  # the coordinator reviews the week after it ended
POLICY = ContributionPolicy(min_original_submissions_tier_one=1, min_on_time_ratio=0.5)
DAY = timedelta(days=1)
EXPERT = ObligationKind.EXPERT_FEEDBACK


def answered(
    ob_id: str,
    member: str,
    due: datetime,
    at: datetime,
    kind: ObligationKind = ObligationKind.QUICK_ANSWER,
) -> Obligation:
    """An obligation of `member` due at `due`, answered at `at`."""
    verdict = "confirm" if kind == EXPERT else "came"
    return answer(obligation(ob_id, member, kind=kind, due_at=due), verdict, "text", at)


def rows(
    members: list[Body],
    submissions: list[tuple[str, datetime, ItemKind]] | None = None,
    obligations: list[Obligation] | None = None,
    policy: ContributionPolicy = POLICY,
    now: datetime = NOW,
) -> dict[str, LedgerRow]:
    """The ledger for the week, keyed by member id."""
    result = ledger(
        members,
        submissions or [],
        obligations or [],
        START,
        END,
        now,
        policy,
    )
    return {row.member_id: row for row in result}


def test_counts_on_time_late_and_missing_by_due_time() -> None:
    """Obligations due in the period count as on time, late or missing; others elsewhere."""
    power = tier_two("power")
    obligations = [
        answered("o1", "power", T0, T0 - HOUR),  # on time
        answered("o2", "power", T0, T0 + HOUR),  # late
        obligation("o3", "power", due_at=T0),  # missing
        answered("o4", "power", START - HOUR, START - 2 * HOUR),  # due last week
        obligation("o5", "power", due_at=END),  # due next week (end is exclusive)
    ]
    row = rows([power], obligations=obligations)["power"]
    assert (row.answers_on_time, row.answers_late, row.answers_missing) == (1, 1, 1)
    assert row.obligations_total == 3
    assert row.period_start == START and row.period_end == END


def test_feedback_given_counts_answers_made_in_the_period() -> None:
    """feedback_given counts answers given within the period, whatever their due time."""
    vendor = tier_one("vendor-b")
    obligations = [
        answered("o1", "vendor-b", END + DAY, END - HOUR, kind=EXPERT),  # due next week
        answered("o2", "vendor-b", START + HOUR, START - HOUR, kind=EXPERT),  # given last week
        answered("o3", "vendor-b", T0, T0 - HOUR, kind=EXPERT),
    ]
    row = rows([vendor], [("vendor-b", T0, ItemKind.ANALYSIS)], obligations)["vendor-b"]
    assert row.feedback_given == 2
    assert row.answers_on_time == 2  # o2 and o3 fall due in the week


def test_cancelled_closed_and_pending_obligations_are_never_missing() -> None:
    """Cancelled, closed and not-yet-due open obligations count as neither answered nor missing."""
    power = tier_two("power")
    obligations = [
        cancel_for_withdrawal(obligation("o1", "power", due_at=T0)),
        close_for_departure(obligation("o2", "power", due_at=T0)),
        obligation("o3", "power", due_at=T0 + DAY),  # still open, due after now
    ]
    row = rows([power], obligations=obligations, now=T0 + HOUR)["power"]
    assert (row.answers_on_time, row.answers_late, row.answers_missing) == (0, 0, 0)
    assert row.obligations_total == 0 and not row.flagged and row.score == 1.0


def test_a_tier_one_free_rider_is_flagged() -> None:
    """A tier-one member that supplies nothing and misses its feedback is flagged with reasons."""
    rider = tier_one("rider")
    obligations = [obligation("o1", "rider", kind=EXPERT, due_at=T0)]
    row = rows([rider], obligations=obligations)["rider"]
    assert row.flagged
    assert row.reasons == (FlagReason.NO_ORIGINAL_SUBMISSIONS, FlagReason.LOW_ON_TIME_RATIO)
    assert row.score == 0.0


def test_tier_one_giving_feedback_but_no_original_information_is_flagged() -> None:
    """Feedback alone does not keep tier-one status: original information is required too."""
    taker = tier_one("taker")
    obligations = [answered("o1", "taker", T0, T0 - HOUR, kind=EXPERT)]
    row = rows([taker], obligations=obligations)["taker"]
    assert row.reasons == (FlagReason.NO_ORIGINAL_SUBMISSIONS,)
    assert row.score == 0.5


def test_a_contributing_tier_one_member_is_not_flagged() -> None:
    """A tier-one member that submits original information and answers on time is not flagged."""
    vendor = tier_one("vendor-a")
    submissions = [
        Submission("vendor-a", T0, ItemKind.ANALYSIS),
        ("vendor-a", T0 + HOUR, ItemKind.COUNTERMEASURE),
    ]
    obligations = [answered("o1", "vendor-a", T0, T0 - HOUR, kind=EXPERT)]
    row = rows([vendor], submissions, obligations)["vendor-a"]
    assert row.original_submissions == 2
    assert not row.flagged and row.reasons == () and row.score == 1.0


def test_only_original_kinds_inside_the_period_count_as_submissions() -> None:
    """Consultations, notices and submissions outside the period are not original submissions."""
    assert frozenset({ItemKind.CONSULTATION, ItemKind.NOTICE}).isdisjoint(ORIGINAL_KINDS)
    submissions = [
        ("vendor-a", T0, ItemKind.CONSULTATION),
        ("vendor-a", T0, ItemKind.NOTICE),
        ("vendor-a", START - HOUR, ItemKind.ANALYSIS),
        ("vendor-a", END, ItemKind.ANALYSIS),
        ("stranger", T0, ItemKind.ANALYSIS),
    ]
    row = rows([tier_one("vendor-a")], submissions)["vendor-a"]
    assert row.original_submissions == 0 and row.reasons == (FlagReason.NO_ORIGINAL_SUBMISSIONS,)


def test_fewer_submissions_than_required_have_their_own_reason() -> None:
    """Some but too few original submissions are flagged as few, and score partially."""
    policy = ContributionPolicy(min_original_submissions_tier_one=4, min_on_time_ratio=0.5)
    submissions = [("vendor-a", T0, ItemKind.ANALYSIS)]
    row = rows([tier_one("vendor-a")], submissions, policy=policy)["vendor-a"]
    assert row.reasons == (FlagReason.FEW_ORIGINAL_SUBMISSIONS,)
    assert row.score == pytest.approx((0.25 + 1.0) / 2)


def test_tier_two_is_assessed_on_answers_only() -> None:
    """A tier-two member needs no submissions; late answers lower its ratio and score."""
    policy = ContributionPolicy(min_on_time_ratio=0.75, late_credit=0.5)
    obligations = [
        answered("o1", "power", T0, T0 - HOUR),
        answered("o2", "power", T0, T0 + HOUR),
    ]
    row = rows([tier_two("power")], obligations=obligations, policy=policy)["power"]
    assert row.reasons == (FlagReason.LOW_ON_TIME_RATIO,)
    assert row.score == pytest.approx(0.75)


def test_too_many_missing_answers_are_flagged_when_the_policy_caps_them() -> None:
    """With a cap on missing answers, exceeding it is a reason of its own."""
    policy = ContributionPolicy(min_on_time_ratio=0.0, max_missing_answers=1)
    obligations = [obligation(f"o{n}", "power", due_at=T0) for n in range(2)]
    row = rows([tier_two("power")], obligations=obligations, policy=policy)["power"]
    assert row.reasons == (FlagReason.TOO_MANY_MISSING_ANSWERS,)
    capped_ok = [obligation("o1", "power", due_at=T0)]
    assert not rows([tier_two("power")], obligations=capped_ok, policy=policy)["power"].flagged


def test_only_task_force_bodies_have_rows_and_the_coordinator_is_never_flagged() -> None:
    """General members and the secretariat have no row; the coordinator has one, never flagged."""
    obligations = [obligation("o1", "jpcert", kind=EXPERT, due_at=T0)]
    result = rows([body("maker"), SECRETARIAT, COORDINATOR], obligations=obligations)
    assert list(result) == ["jpcert"]
    assert result["jpcert"].answers_missing == 1
    assert not result["jpcert"].flagged and result["jpcert"].reasons == ()
    assert result["jpcert"].score == 0.0


def test_members_no_longer_active_are_listed_but_not_flagged() -> None:
    """A restricted or withdrawn member's row shows its record without a flag."""
    gone = tier_one("gone", status=MemberStatus.WITHDRAWN)
    assert not rows([gone])["gone"].flagged


def test_rows_are_sorted_by_member_and_ignore_strangers() -> None:
    """Rows come sorted by member id; obligations of unlisted members are ignored."""
    obligations = [obligation("o1", "stranger", due_at=T0)]
    result = ledger([tier_two("b"), tier_two("a")], [], obligations, START, END, NOW, POLICY)
    assert [row.member_id for row in result] == ["a", "b"]
    assert all(row.obligations_total == 0 for row in result)


def test_bad_periods_and_times_are_refused() -> None:
    """An empty or reversed period and naive times are ValueErrors."""
    with pytest.raises(ValueError, match="before period_end"):
        ledger([], [], [], END, START, NOW, POLICY)
    with pytest.raises(ValueError, match="timezone-aware"):
        ledger([], [], [], START, END, NOW.replace(tzinfo=None), POLICY)
    with pytest.raises(ValueError, match="submission time"):
        ledger(
            [tier_one("a")],
            [("a", T0.replace(tzinfo=None), ItemKind.ANALYSIS)],
            [],
            START,
            END,
            NOW,
            POLICY,
        )


@pytest.mark.parametrize(
    "fields",
    [
        {"min_original_submissions_tier_one": -1},
        {"min_on_time_ratio": 1.5},
        {"min_on_time_ratio": -0.1},
        {"max_missing_answers": -1},
        {"late_credit": 2.0},
    ],
)
def test_impossible_policies_are_refused(fields: dict[str, float]) -> None:
    """A policy with a negative count or a ratio outside 0..1 is a ValueError."""
    with pytest.raises(ValueError):
        ContributionPolicy(**fields)  # type: ignore[arg-type]


def test_a_zero_submission_minimum_asks_nothing_of_tier_one() -> None:
    """With no minimum, a tier-one member without submissions is not flagged for it."""
    policy = ContributionPolicy(min_original_submissions_tier_one=0)
    row = rows([tier_one("a")], policy=policy)["a"]
    assert not row.flagged and row.score == 1.0
