"""Who owes what on an item, by kind, confidence, tier and provider (SPEC §4)."""

from __future__ import annotations

import pytest
from feedback_factories import COORDINATOR, HOUR, SECRETARIAT, T0, body, tier_one, tier_two

from broker.domain.model import Confidence, ItemKind, MemberStatus
from broker.feedback import (
    ALLOWED_VERDICTS,
    ObligationKind,
    ObligationSpec,
    Verdict,
    creates_obligations,
    obligation_kind_for,
    obligations_for,
)

DUE = T0 + 4 * HOUR
VENDOR_A, VENDOR_B, VENDOR_C = tier_one("vendor-a"), tier_one("vendor-b"), tier_one("vendor-c")
POWER, RAIL = tier_two("power"), tier_two("rail")
MAKER = body("maker")  # a general member (tier none)
EVERYONE = [VENDOR_A, VENDOR_B, VENDOR_C, COORDINATOR, POWER, RAIL, MAKER, SECRETARIAT]


def owing(kind: ItemKind, confidence: Confidence, provider: str = "vendor-a") -> dict[str, str]:
    """Member id -> obligation kind for an item reaching EVERYONE."""
    specs = obligations_for("item-1", provider, kind, confidence, EVERYONE, DUE)
    return {spec.member_id: spec.kind for spec in specs}


def test_analysis_is_owed_expert_feedback_by_tier_one_and_coordinator() -> None:
    """Every other tier-one member and the coordinator owe expert feedback on an analysis."""
    assert owing(ItemKind.ANALYSIS, Confidence.UNCONFIRMED) == {
        "vendor-b": ObligationKind.EXPERT_FEEDBACK,
        "vendor-c": ObligationKind.EXPERT_FEEDBACK,
        "jpcert": ObligationKind.EXPERT_FEEDBACK,
    }


def test_the_coordinators_analysis_is_owed_by_all_of_tier_one() -> None:
    """An analysis from the coordinator is owed feedback by every tier-one member, not by itself."""
    assert set(owing(ItemKind.ANALYSIS, Confidence.LOW, provider="jpcert")) == {
        "vendor-a",
        "vendor-b",
        "vendor-c",
    }


@pytest.mark.parametrize("confidence", [Confidence.UNCONFIRMED, Confidence.LOW])
def test_early_countermeasures_are_owed_quick_answers_by_tier_two(confidence: Confidence) -> None:
    """An unconfirmed or low-confidence countermeasure is owed a quick answer by tier two only."""
    assert owing(ItemKind.COUNTERMEASURE, confidence) == {
        "power": ObligationKind.QUICK_ANSWER,
        "rail": ObligationKind.QUICK_ANSWER,
    }


@pytest.mark.parametrize(
    ("kind", "confidence"),
    [
        (ItemKind.COUNTERMEASURE, Confidence.HIGH),
        (ItemKind.NOTICE, Confidence.LOW),
        (ItemKind.EARLY_WARNING, Confidence.UNCONFIRMED),
        (ItemKind.CONSULTATION, Confidence.UNCONFIRMED),
    ],
)
def test_other_items_create_no_obligation(kind: ItemKind, confidence: Confidence) -> None:
    """High-confidence countermeasures, notices, early warnings and consultations oblige no one."""
    assert owing(kind, confidence) == {}


def test_the_provider_never_owes_on_its_own_item() -> None:
    """A tier-two provider of an early countermeasure owes no answer on it."""
    assert "power" not in owing(ItemKind.COUNTERMEASURE, Confidence.LOW, provider="power")


@pytest.mark.parametrize(
    "status", [MemberStatus.RESTRICTED, MemberStatus.WITHDRAWN, MemberStatus.EXPELLED]
)
def test_inactive_members_owe_nothing(status: MemberStatus) -> None:
    """A restricted, withdrawn or expelled member owes nothing even if listed as a recipient."""
    gone = tier_two("gone", status=status)
    specs = obligations_for("i", "vendor-a", ItemKind.COUNTERMEASURE, Confidence.LOW, [gone], DUE)
    assert specs == []


def test_general_members_and_the_secretariat_owe_nothing() -> None:
    """Bodies outside the task force owe nothing on any item."""
    for kind in ItemKind:
        for confidence in Confidence:
            assert obligation_kind_for(MAKER, "vendor-a", kind, confidence) is None
            assert obligation_kind_for(SECRETARIAT, "vendor-a", kind, confidence) is None


def test_tier_two_owes_nothing_on_analysis() -> None:
    """A tier-two member that somehow receives an analysis owes no expert feedback."""
    assert obligation_kind_for(POWER, "vendor-a", ItemKind.ANALYSIS, Confidence.LOW) is None


def test_specs_carry_item_and_due_and_a_recipient_listed_twice_owes_once() -> None:
    """Each spec names the item and due time, in recipient order, one per member."""
    specs = obligations_for(
        "item-9", "vendor-a", ItemKind.COUNTERMEASURE, Confidence.LOW, [RAIL, POWER, RAIL], DUE
    )
    assert specs == [
        ObligationSpec("rail", "item-9", ObligationKind.QUICK_ANSWER, DUE),
        ObligationSpec("power", "item-9", ObligationKind.QUICK_ANSWER, DUE),
    ]


def test_a_naive_due_time_is_refused() -> None:
    """Creating obligations with a naive due time is a ValueError."""
    with pytest.raises(ValueError, match="timezone-aware"):
        obligations_for(
            "i", "a", ItemKind.ANALYSIS, Confidence.LOW, [VENDOR_B], DUE.replace(tzinfo=None)
        )


def test_each_kind_has_its_own_verdicts() -> None:
    """Expert feedback takes confirm/refute/additional_info; quick answers came/not_came/unknown."""
    assert ALLOWED_VERDICTS[ObligationKind.EXPERT_FEEDBACK] == (
        Verdict.CONFIRM,
        Verdict.REFUTE,
        Verdict.ADDITIONAL_INFO,
    )
    assert ALLOWED_VERDICTS[ObligationKind.QUICK_ANSWER] == (
        Verdict.CAME,
        Verdict.NOT_CAME,
        Verdict.UNKNOWN,
    )


@pytest.mark.parametrize("kind", list(ItemKind))
@pytest.mark.parametrize("confidence", list(Confidence))
def test_creates_obligations_is_exactly_whether_anyone_owes(
    kind: ItemKind, confidence: Confidence
) -> None:
    """The item-level shortcut agrees with the per-recipient rule for every kind and confidence."""
    anyone_owes = any(
        obligation_kind_for(recipient, provider, kind, confidence) is not None
        for provider in ("vendor-a", "jpcert", "power")
        for recipient in EVERYONE
    )
    assert creates_obligations(kind, confidence) == anyone_owes
