"""How much of the feedback on an item a reader sees (SPEC §4).

Pure: no IO, no clock. SPEC §4, "the provider always gets feedback":
individual answers for the provider and the coordinator; aggregate counts for
the tier-one group; tier-two answers are never shown to other tier-two
members, so a tier-two member sees its own answer only. Everyone else —
general members, the secretariat, anyone who may not open the item — sees
nothing, and is told nothing exists.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from broker.domain.model import BodyKind, ItemFacts, ItemStatus, MemberStatus, Reader, Tier, Tlp
from broker.tlp._decision import Decision, Reason
from broker.tlp._reading import may_read

__all__ = ["MIN_CATEGORY_CELL", "FeedbackView", "feedback_view", "may_list_obligation"]

FeedbackView = Literal["individual", "aggregate", "counts", "own"]
"""`individual`: every answer with who gave it; `aggregate`: counts by member
category (art. 17(2)) plus one's own; `counts`: the counts, with no category
cell smaller than `MIN_CATEGORY_CELL`; `own`: one's own answer only."""

MIN_CATEGORY_CELL = 3
"""The fewest counted members a category cell of the `counts` view shows: a
cell of one or two members would name their answers (SPEC §4)."""


def feedback_view(reader: Reader, item: ItemFacts) -> FeedbackView | None:
    """What `reader` sees of the answers on `item`; None means nothing (a 404).

    The provider and the coordinator keep the view of a withdrawn item's
    answers they had just before it was withdrawn, as they keep its metadata;
    everybody else needs to be able to open the item now (art. 18(4): a user
    who may not open a secret item learns nothing about it, its feedback
    included; rule 7: a restricted member learns nothing at all).
    """
    body = reader.body
    privileged = body.id == item.provider_id or body.kind is BodyKind.COORDINATOR
    if item.status is ItemStatus.WITHDRAWN:
        if not privileged:
            return None
        item = dataclasses.replace(item, status=ItemStatus.ACTIVE)  # as of just before
    if not may_read(reader, item):
        return None
    if body.kind is BodyKind.COORDINATOR:
        return "individual"  # art. 14(2)
    if privileged:
        # SPEC §4: the provider sees each answer -- but tier-two answers are never
        # shown to another tier-two member (Task Force Rules art. 1(2)), so a
        # tier-two provider gets the counts, and no category cell so small that
        # it names the one or two members in it.
        return "counts" if body.tier is Tier.TIER_TWO else "individual"
    if body.kind is not BodyKind.MEMBER:
        return None
    if body.tier is Tier.TIER_ONE:
        return "aggregate"  # Task Force Rules art. 6: the tier-one group shares findings
    if body.tier is Tier.TIER_TWO:
        return "own"  # SPEC §4: never another tier-two member's answer
    return None


def may_list_obligation(reader: Reader, item: ItemFacts) -> Decision:
    """Whether an obligation on `item` shows in `reader`'s list of what its member owes.

    A live item: if the reader may open it (SPEC §3 rule 3: a user who may not
    open a secret item does not learn it exists). A withdrawn one (its
    obligations cancelled): the member received it, so only the per-user rule
    still applies (art. 18(4), TLP:RED: a handler) — and the body must be
    active: a restricted member learns nothing at all, its history of
    withdrawn items included (SPEC §3 rule 7, art. 8(2)).
    """
    if item.status is ItemStatus.ACTIVE:
        return may_read(reader, item)
    reasons: list[Reason] = []
    if reader.body.status is not MemberStatus.ACTIVE:
        reasons.append(Reason.INACTIVE_MEMBER)
    if (item.effective_secret or item.effective_tlp is Tlp.RED) and not reader.is_handler:
        reasons.append(Reason.NOT_HANDLER)
    return Decision.from_reasons(reasons)
