"""Who may submit which item, and who may change, withdraw or consent to one."""

from __future__ import annotations

from collections.abc import Mapping

from broker.domain.model import (
    Body,
    BodyKind,
    Group,
    ItemFacts,
    ItemKind,
    ItemStatus,
    MemberStatus,
    Reader,
    Scope,
    Tier,
)
from broker.tlp._decision import Decision, Reason

# SPEC §2: the only groups an analysis scope may name.
_TIER_ONE_GROUPS = frozenset({Group.TIER_ONE_GROUP, Group.COORDINATOR})


def may_submit(reader: Reader, item: ItemFacts, bodies: Mapping[str, Body]) -> Decision:
    """Whether `reader` may submit `item` for its body.

    `bodies` maps body ids to bodies, to check whom an analysis scope names.
    The item must be the reader's body's own, the body active, the kind one
    this body may submit, an analysis scope inside the tier-one group, and a
    secret item submitted by a registered handler.
    """
    body = reader.body
    reasons: list[Reason] = []
    if item.provider_id != body.id:
        reasons.append(Reason.NOT_PROVIDER)  # a user submits for its own body only
    if body.status is not MemberStatus.ACTIVE:
        reasons.append(Reason.INACTIVE_MEMBER)  # charter art. 7, 8(2)
    if not _kind_allowed(item.kind, body):
        reasons.append(Reason.KIND_NOT_ALLOWED)
    if item.kind is ItemKind.ANALYSIS and not _inside_tier_one_group(item.scope, bodies):
        # SPEC §2, rule 6: a scope that would send analysis further is refused;
        # others get a derived countermeasure instead.
        reasons.append(Reason.ANALYSIS_STAYS_IN_TIER_ONE)
    if item.effective_secret and not reader.is_handler:
        reasons.append(Reason.SUBMITTER_NOT_HANDLER)  # charter art. 18(3), 18(4)
    return Decision.from_reasons(reasons)


def may_change_scope(reader: Reader, item: ItemFacts) -> Decision:
    """Whether `reader` may narrow or widen `item`'s scope.

    Charter art. 17(1), SPEC rule 1: the scope is the provider's alone; not
    even the coordinator or the secretariat may change it.
    """
    return _provider_action(reader, item)


def may_withdraw(reader: Reader, item: ItemFacts) -> Decision:
    """Whether `reader` may withdraw `item`: only its provider, while it is live."""
    return _provider_action(reader, item)


def may_consent(reader: Reader, source: ItemFacts) -> Decision:
    """Whether `reader` may consent to a derived item reaching beyond `source`'s scope.

    Charter art. 17(3): only the provider of the source can lift its ceiling.
    """
    return Decision.from_reasons(_provider_reasons(reader, source))


def _provider_action(reader: Reader, item: ItemFacts) -> Decision:
    """Provider-only action on a live item."""
    reasons = _provider_reasons(reader, item)
    if item.status is not ItemStatus.ACTIVE:
        reasons.append(Reason.WITHDRAWN)  # a withdrawn item is gone for good
    return Decision.from_reasons(reasons)


def _provider_reasons(reader: Reader, item: ItemFacts) -> list[Reason]:
    """Why `reader` may not act as `item`'s provider."""
    reasons: list[Reason] = []
    if reader.body.id != item.provider_id:
        reasons.append(Reason.NOT_PROVIDER)  # charter art. 17(1)
    if reader.body.status is not MemberStatus.ACTIVE:
        reasons.append(Reason.INACTIVE_MEMBER)  # charter art. 7, 8(2)
    return reasons


def _kind_allowed(kind: ItemKind, body: Body) -> bool:
    """Whether `body` may submit items of `kind` through the item path."""
    if body.kind is BodyKind.SECRETARIAT:
        # charter art. 16(2): the secretariat informs members; it holds no analysis.
        return kind is ItemKind.NOTICE
    if kind is ItemKind.CONSULTATION:
        return False  # charter art. 16(3): consultations have their own private path
    if kind is ItemKind.EARLY_WARNING:
        return body.kind is BodyKind.COORDINATOR  # charter art. 15: from JPCERT/CC
    if kind is ItemKind.ANALYSIS:
        # TF Rules art. 6: the tier-one group exchanges unconfirmed analysis.
        return body.kind is BodyKind.COORDINATOR or body.tier is Tier.TIER_ONE
    return True


def _inside_tier_one_group(scope: Scope, bodies: Mapping[str, Body]) -> bool:
    """Whether `scope` addresses no one outside the tier-one group (unknown ids are outside)."""
    if not scope.groups <= _TIER_ONE_GROUPS:
        return False
    return all(_in_tier_one_group(bodies.get(member_id)) for member_id in scope.members)


def _in_tier_one_group(body: Body | None) -> bool:
    """Whether `body` is a tier-one member or the coordinator (TF Rules art. 6(2))."""
    if body is None:
        return False
    if body.kind is BodyKind.COORDINATOR:
        return True
    return body.kind is BodyKind.MEMBER and body.tier is Tier.TIER_ONE
