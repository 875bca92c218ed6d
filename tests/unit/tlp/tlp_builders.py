"""Small builders for the policy tests: a body, an item, a reader, with plain defaults.

Defaults describe the ordinary case (an active general member; a live GREEN,
non-secret, high-confidence countermeasure for all members from `vendor`), so
that each test states only what it is about.
"""

from __future__ import annotations

from typing import Any

from broker.domain.model import (
    Body,
    BodyKind,
    Confidence,
    ExcludableAttribute,
    Group,
    ItemFacts,
    ItemKind,
    Reader,
    Scope,
    SourceConstraint,
    Tier,
    Tlp,
)

COORDINATOR = Body("jpcert", kind=BodyKind.COORDINATOR, has_handler=True)
SECRETARIAT = Body("nisc", kind=BodyKind.SECRETARIAT, has_handler=True)


def member(body_id: str, **fields: Any) -> Body:
    """An active general member, with `fields` overriding the defaults."""
    return Body(body_id, **fields)


def tier_one(body_id: str, **fields: Any) -> Body:
    """An active tier-one member (with a handler)."""
    return Body(body_id, tier=Tier.TIER_ONE, has_handler=True, **fields)


def tier_two(body_id: str, **fields: Any) -> Body:
    """An active tier-two member."""
    return Body(body_id, tier=Tier.TIER_TWO, **fields)


def scope(
    *groups: Group,
    members: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    exclude_attributes: tuple[ExcludableAttribute, ...] = (),
) -> Scope:
    """A scope of `groups` plus named `members`, minus exclusions."""
    return Scope(
        groups=frozenset(groups),
        members=frozenset(members),
        exclude_members=frozenset(exclude),
        exclude_attributes=frozenset(exclude_attributes),
    )


def item(
    *,
    item_id: str = "item-1",
    provider_id: str = "vendor",
    kind: ItemKind = ItemKind.COUNTERMEASURE,
    confidence: Confidence = Confidence.HIGH,
    tlp: Tlp = Tlp.GREEN,
    secret: bool = False,
    item_scope: Scope | None = None,
    **fields: Any,
) -> ItemFacts:
    """A live item; by default a GREEN high-confidence countermeasure for all members."""
    return ItemFacts(
        id=item_id,
        provider_id=provider_id,
        kind=kind,
        confidence=confidence,
        tlp=tlp,
        secret=secret,
        scope=item_scope if item_scope is not None else scope(Group.ALL_MEMBERS),
        **fields,
    )


def ceiling(source: ItemFacts) -> SourceConstraint:
    """The ceiling `source` puts on an item derived from it."""
    return SourceConstraint(source.id, source.provider_id, source.scope, source.tlp, source.secret)


def reader(body: Body, *, handler: bool = False, user_id: str = "user-1") -> Reader:
    """A user of `body`, a registered handler or not."""
    return Reader(user_id=user_id, body=body, is_handler=handler)
