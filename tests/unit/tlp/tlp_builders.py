"""Small builders for the policy tests: a body, an item, a reader, with plain defaults.

Defaults describe the ordinary case (an active general member; a live GREEN,
non-secret, high-confidence countermeasure for all members from `vendor`), so
that each test states only what it is about.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable
from typing import Any, TypeVar

from hypothesis import strategies as st

from broker.domain.model import (
    Body,
    BodyKind,
    Confidence,
    ExcludableAttribute,
    Group,
    ItemFacts,
    ItemKind,
    ItemStatus,
    MemberStatus,
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


# ---------------------------------------------------------------- for property tests
# Whole bodies, items and readers drawn at once for the hypothesis tests of the
# consultation, feedback-view and stream policies, and a plain reference of who may
# open an item, read off SPEC §3 and sharing no code with `broker.tlp`.

T = TypeVar("T")

COORDINATOR_ID = COORDINATOR.id
SECRETARIAT_ID = SECRETARIAT.id


def subsets(pool: Iterable[T], max_size: int) -> list[frozenset[T]]:
    """Every subset of `pool` with at most `max_size` elements."""
    members = tuple(pool)
    return [
        frozenset(chosen)
        for size in range(max_size + 1)
        for chosen in itertools.combinations(members, size)
    ]


def kind_of(body_id: str) -> BodyKind:
    """The kind of body an id stands for: `jpcert` coordinates, `nisc` is the secretariat."""
    return {COORDINATOR_ID: BodyKind.COORDINATOR, SECRETARIAT_ID: BodyKind.SECRETARIAT}.get(
        body_id, BodyKind.MEMBER
    )


# Mostly active, so that the rules after SPEC rule 7 are reached often.
_STATUSES = [MemberStatus.ACTIVE] * 8 + list(MemberStatus)
# regulator, law_enforcement, foreign, refuses_secrets, early_warning, has_handler; the
# last three mostly as an ordinary member has them, so that secrets are often delivered.
_MOSTLY_NOT = (False, False, False, True)
_MOSTLY = (True, True, True, False)
_FLAGS = list(
    itertools.product((False, True), (False, True), (False, True), _MOSTLY_NOT, _MOSTLY, _MOSTLY)
)


def _drawn_body(body_id: str, tier: Tier, status: MemberStatus, flags: tuple[bool, ...]) -> Body:
    regulator, law_enforcement, foreign, refuses_secrets, early_warning, has_handler = flags
    return Body(
        body_id,
        kind=kind_of(body_id),
        tier=tier,
        status=status,
        regulator=regulator,
        law_enforcement=law_enforcement,
        foreign=foreign,
        refuses_secrets=refuses_secrets,
        early_warning=early_warning,
        has_handler=has_handler,
    )


def bodies_drawn_from(ids: tuple[str, ...]) -> st.SearchStrategy[Body]:
    """A body with one of `ids`; its kind follows the id, everything else is free."""
    return st.builds(
        _drawn_body,
        st.sampled_from(ids),
        st.sampled_from(Tier),
        st.sampled_from(_STATUSES),
        st.sampled_from(_FLAGS),
    )


def readers_drawn_from(ids: tuple[str, ...]) -> st.SearchStrategy[Reader]:
    """A user, a registered handler or not, of a body drawn from `ids`."""
    return st.builds(Reader, st.just("user-1"), bodies_drawn_from(ids), is_handler=st.booleans())


def scopes_drawn_from(names: tuple[str, ...]) -> st.SearchStrategy[Scope]:
    """A scope of up to two groups, naming up to two and excluding up to one of `names`.

    Drawn in one step (generation dominates the run time), and without
    exclusions half of the time, so that scopes often let the reader in.
    """
    every = [
        Scope(groups, members, excluded, attributes)
        for groups, members, excluded, attributes in itertools.product(
            subsets(Group, 2), subsets(names, 2), subsets(names, 1), subsets(ExcludableAttribute, 1)
        )
    ]
    open_ = [audience for audience in every if not audience.exclude_members]
    open_ = [audience for audience in open_ if not audience.exclude_attributes]
    return st.one_of(st.sampled_from(every), st.sampled_from(open_))


# kind, confidence, tlp, secret (one time in three) and status (live five times in six)
# of an item, in one draw.
_ITEM_TRAITS = list(
    itertools.product(
        ItemKind,
        Confidence,
        Tlp,
        (False, False, True),
        [ItemStatus.ACTIVE] * 5 + [ItemStatus.WITHDRAWN],
    )
)


def items_drawn_from(names: tuple[str, ...]) -> st.SearchStrategy[ItemFacts]:
    """An item provided by one of `names`, with up to two unconsented source ceilings."""
    audiences = scopes_drawn_from(names)
    ceilings = st.builds(
        lambda provider, audience, tlp_and_secret: SourceConstraint(
            "source-1", provider, audience, *tlp_and_secret
        ),
        st.sampled_from(names),
        audiences,
        st.sampled_from(list(itertools.product(Tlp, (False, True)))),
    )

    def build(
        provider_id: str,
        audience: Scope,
        traits: tuple[ItemKind, Confidence, Tlp, bool, ItemStatus],
        constraints: list[SourceConstraint],
    ) -> ItemFacts:
        kind, confidence, tlp, secret, status = traits
        return ItemFacts(
            "item-1",
            provider_id,
            kind,
            confidence,
            tlp,
            secret,
            audience,
            constraints=tuple(constraints),
            status=status,
        )

    return st.builds(
        build,
        st.sampled_from(names),
        audiences,
        st.sampled_from(_ITEM_TRAITS),
        st.one_of(st.just([]), st.lists(ceilings, max_size=2)),
    )


def ref_may_open(user: Reader, facts: ItemFacts) -> bool:
    """Reference: whether `user` may open `facts` now, straight from SPEC §2-3.

    A live item; never the secretariat (art. 14(3)); an active body (rule 7);
    inside the scope and every unconsented ceiling, where the provider and the
    coordinator always are (art. 17(1), 17(3), 14(2)); secrets only to bodies
    that take them (or provided them) and have a handler, and secret or RED items only to handlers
    (art. 18(3)-(5), TLP 2.0); and the task-force reach of SPEC rule 6.
    """
    body = user.body
    if facts.status != ItemStatus.ACTIVE:
        return False
    if body.kind == BodyKind.SECRETARIAT or body.status != MemberStatus.ACTIVE:
        return False

    def inside(audience: Scope, provider_id: str) -> bool:
        if body.id == provider_id or body.kind == BodyKind.COORDINATOR:
            return True
        if body.id in audience.exclude_members:
            return False
        if ExcludableAttribute.LAW_ENFORCEMENT in audience.exclude_attributes and (
            body.law_enforcement
        ):
            return False
        if ExcludableAttribute.REGULATOR in audience.exclude_attributes and body.regulator:
            return False
        if ExcludableAttribute.FOREIGN in audience.exclude_attributes and body.foreign:
            return False
        if body.id in audience.members:
            return True
        groups = audience.groups
        if Group.ALL_MEMBERS in groups:
            return True
        if body.tier == Tier.TIER_ONE:
            return Group.TIER_ONE_GROUP in groups or Group.TASK_FORCE in groups
        if body.tier == Tier.TIER_TWO:
            return Group.TIER_TWO in groups or Group.TASK_FORCE in groups
        return False

    if not inside(facts.scope, facts.provider_id):
        return False
    if not all(inside(c.scope, c.provider_id) for c in facts.constraints):
        return False
    secret = facts.secret or any(c.secret for c in facts.constraints)
    red = facts.tlp == Tlp.RED or any(c.tlp == Tlp.RED for c in facts.constraints)
    # SPEC §2: refusing secrets is about receiving others'; the provider keeps its own.
    refuses = body.refuses_secrets and body.id != facts.provider_id
    if secret and (refuses or not body.has_handler):
        return False
    if (secret or red) and not user.is_handler:
        return False
    if body.kind == BodyKind.MEMBER and body.id != facts.provider_id:
        if facts.kind == ItemKind.EARLY_WARNING and not body.early_warning:
            return False
        if body.tier != Tier.TIER_ONE:
            if facts.kind in (ItemKind.ANALYSIS, ItemKind.CONSULTATION):
                return False
            if (
                facts.kind == ItemKind.COUNTERMEASURE
                and body.tier == Tier.NONE
                and facts.confidence != Confidence.HIGH
            ):
                return False
    return True


# A small council for property tests: the coordinator, the secretariat and two
# members drawn at random, and a third name that is no body at all.
BODY_IDS = (COORDINATOR_ID, SECRETARIAT_ID, "m0", "m1")
NAMES = (*BODY_IDS, "m2")
ITEMS = items_drawn_from(NAMES)


def opened(facts: ItemFacts) -> ItemFacts:
    """`facts` for every member, without ceilings: so that readers often may open it."""
    return dataclasses.replace(facts, scope=Scope(groups=frozenset(Group)), constraints=())


# Half the items as drawn, half opened up, and half the readers users of members, so
# that every answer is common.
ITEMS_OFTEN_OPEN = st.one_of(ITEMS, ITEMS.map(opened))
READERS = st.one_of(readers_drawn_from(BODY_IDS), readers_drawn_from(("m0", "m1")))
