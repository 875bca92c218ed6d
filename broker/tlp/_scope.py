"""Whether a body falls inside a share scope (共有範囲, charter art. 17(1))."""

from __future__ import annotations

from broker.domain.model import Body, BodyKind, Group, Scope, Tier
from broker.tlp._decision import Decision, Reason


def in_scope(scope: Scope, body: Body, provider_id: str) -> Decision:
    """Whether `scope`, chosen by the body `provider_id`, addresses `body`.

    Groups and named members add, excluded members and attributes subtract.
    The provider and the coordinator are always inside; the secretariat never
    is, except as the provider of its own notices. A denial lists every
    failing reason: `secretariat_no_content`, then the exclusions, then
    `out_of_scope` when nothing in the scope addresses the body at all.
    """
    if body.id == provider_id:
        return Decision.allow()  # charter art. 17(1): the provider keeps access
    if body.kind is BodyKind.COORDINATOR:
        return Decision.allow()  # charter art. 14(2): the coordinator reaches every post
    reasons: list[Reason] = []
    if body.kind is BodyKind.SECRETARIAT:
        # charter art. 14(3): the secretariat reads contents only through break-glass,
        # so no scope can hand it an item, not even by naming it.
        reasons.append(Reason.SECRETARIAT_NO_CONTENT)
    if body.id in scope.exclude_members:
        reasons.append(Reason.EXCLUDED_MEMBER)  # charter art. 19(2): excluded by name
    if any(body.has_attribute(attribute) for attribute in scope.exclude_attributes):
        reasons.append(Reason.EXCLUDED_ATTRIBUTE)  # charter art. 19(2): excluded wholesale
    if not _addressed(scope, body):
        reasons.append(Reason.OUT_OF_SCOPE)
    return Decision.from_reasons(reasons)


def _addressed(scope: Scope, body: Body) -> bool:
    """Whether a named member or a group of `scope` takes in `body` (exclusions aside)."""
    if body.id in scope.members:
        return True
    if body.kind is not BodyKind.MEMBER:
        return False  # groups are made of members; the coordinator is handled before
    return any(body.tier in _GROUP_TIERS[group] for group in scope.groups)


# SPEC §2: which tiers of member each group takes in. The coordinator, part of the
# tier-one group and of the task force (art. 24(2)), is always inside anyway.
_GROUP_TIERS: dict[Group, frozenset[Tier]] = {
    Group.TIER_ONE_GROUP: frozenset({Tier.TIER_ONE}),
    Group.TIER_TWO: frozenset({Tier.TIER_TWO}),
    Group.TASK_FORCE: frozenset({Tier.TIER_ONE, Tier.TIER_TWO}),
    Group.ALL_MEMBERS: frozenset(Tier),
    Group.COORDINATOR: frozenset(),
}
