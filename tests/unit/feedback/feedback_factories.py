"""Builders shared by the feedback tests: bodies, obligations and fixed instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from broker.domain.model import Body, BodyKind, Category, MemberStatus, Tier
from broker.feedback import Obligation, ObligationKind

# Friday 18:00 UTC: the evening the worm of the motivating case surfaces.
T0 = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def body(
    body_id: str,
    tier: Tier = Tier.NONE,
    *,
    kind: BodyKind = BodyKind.MEMBER,
    category: Category = Category.OTHER,
    status: MemberStatus = MemberStatus.ACTIVE,
) -> Body:
    """A body with the fields the feedback rules look at."""
    return Body(id=body_id, kind=kind, category=category, tier=tier, status=status)


def tier_one(body_id: str, **kwargs: Any) -> Body:
    """An active tier-one member."""
    return body(body_id, Tier.TIER_ONE, **kwargs)


def tier_two(body_id: str, **kwargs: Any) -> Body:
    """An active tier-two member."""
    return body(body_id, Tier.TIER_TWO, **kwargs)


COORDINATOR = body("jpcert", kind=BodyKind.COORDINATOR)
SECRETARIAT = body("nisc", kind=BodyKind.SECRETARIAT)


def obligation(
    ob_id: str = "ob-1",
    member_id: str = "m-1",
    *,
    item_id: str = "item-1",
    kind: ObligationKind = ObligationKind.QUICK_ANSWER,
    due_at: datetime = T0 + 4 * HOUR,
    **fields: Any,
) -> Obligation:
    """An obligation, open unless `fields` say otherwise."""
    return Obligation(ob_id, member_id, item_id, kind, due_at, **fields)
