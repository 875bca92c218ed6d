"""Task-force reach: which kinds of item each class of member receives.

Task Force Rules art. 5: nothing the task force shares in confidence goes to a
member that does not need it. SPEC rule 6 spells this out per member class.
"""

from __future__ import annotations

from broker.domain.model import Body, Confidence, ItemFacts, ItemKind, Tier
from broker.tlp._decision import Reason


def task_force_reach(item: ItemFacts, member: Body) -> tuple[Reason, ...]:
    """Why `member`'s class keeps it from receiving `item`; empty when it may.

    Only for ordinary members that did not provide the item: the provider
    keeps access to its own (art. 17(1)), the coordinator reaches every post
    (art. 14(2)).
    """
    if item.kind is ItemKind.EARLY_WARNING and not member.early_warning:
        # charter art. 15: every member gets early warnings unless it opted out,
        # whatever its task-force class.
        return (Reason.EARLY_WARNING_OPTED_OUT,)
    if member.tier is Tier.TIER_ONE:
        return ()  # the tier-one group exchanges everything in scope (TF Rules art. 6)
    if item.kind is ItemKind.ANALYSIS:
        # TF Rules art. 5, SPEC rule 6: raw analysis stays in the tier-one group;
        # what others need travels as a derived countermeasure.
        if member.tier is Tier.TIER_TWO:
            return (Reason.TIER_TWO_NO_ANALYSIS,)
        return (Reason.ANALYSIS_STAYS_IN_TIER_ONE,)
    if item.kind is ItemKind.CONSULTATION:
        # charter art. 16(3), SPEC §4: consultations go to the coordinator and tier one.
        return (Reason.CONSULTATION_STAYS_IN_TIER_ONE,)
    if (
        item.kind is ItemKind.COUNTERMEASURE
        and member.tier is Tier.NONE
        and item.confidence is not Confidence.HIGH
    ):
        # charter annex: general members get confirmed countermeasures only;
        # early low-confidence ones are for tier two, who owe quick answers.
        return (Reason.GENERAL_NEEDS_HIGH_CONFIDENCE,)
    return ()
