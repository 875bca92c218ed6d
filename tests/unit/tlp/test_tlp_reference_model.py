"""The policy against a plain reference model written from SPEC §2-3, on generated cases.

The reference below is deliberately naive: one early-return if/else chain per
question, read straight off the SPEC text, sharing no code with `broker.tlp`.
It answers with the first rule that fails, which must be the first reason the
policy gives.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import TypeVar

from hypothesis import HealthCheck, given, settings
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
from broker.tlp import may_read, receives, recipients_for

# ---------------------------------------------------------------- reference model


def ref_addressed(scope: Scope, body: Body) -> bool:
    """Named, or a member of a group the scope lists (SPEC §2)."""
    if body.id in scope.members:
        return True
    if body.kind != BodyKind.MEMBER:
        return False
    if Group.ALL_MEMBERS in scope.groups:
        return True
    if Group.TIER_ONE_GROUP in scope.groups and body.tier == Tier.TIER_ONE:
        return True
    if Group.TIER_TWO in scope.groups and body.tier == Tier.TIER_TWO:
        return True
    if Group.TASK_FORCE in scope.groups and body.tier != Tier.NONE:
        return True
    return False


def ref_excluded_member(scope: Scope, body: Body) -> bool:
    """Art. 19(2), by name."""
    return body.id in scope.exclude_members


def ref_excluded_attribute(scope: Scope, body: Body) -> bool:
    """Art. 19(2), by attribute."""
    if ExcludableAttribute.LAW_ENFORCEMENT in scope.exclude_attributes and body.law_enforcement:
        return True
    if ExcludableAttribute.REGULATOR in scope.exclude_attributes and body.regulator:
        return True
    if ExcludableAttribute.FOREIGN in scope.exclude_attributes and body.foreign:
        return True
    return False


def ref_inside(scope: Scope, body: Body, provider_id: str) -> bool:
    """The provider and the coordinator always; else addressed and not excluded."""
    if body.id == provider_id:
        return True
    if body.kind == BodyKind.COORDINATOR:
        return True
    if body.kind == BodyKind.SECRETARIAT:
        return False
    if ref_excluded_member(scope, body) or ref_excluded_attribute(scope, body):
        return False
    return ref_addressed(scope, body)


def ref_first_refusal(item: ItemFacts, body: Body) -> str | None:
    """The first rule of SPEC §3 that keeps `body` from receiving `item`, or None."""
    if item.status != ItemStatus.ACTIVE:
        return "withdrawn"
    if body.kind == BodyKind.SECRETARIAT:
        return "secretariat_no_content"
    if body.status != MemberStatus.ACTIVE:
        return "inactive_member"
    is_provider = body.id == item.provider_id
    is_coordinator = body.kind == BodyKind.COORDINATOR
    if not is_provider and not is_coordinator:
        if ref_excluded_member(item.scope, body):
            return "excluded_member"
        if ref_excluded_attribute(item.scope, body):
            return "excluded_attribute"
        if not ref_addressed(item.scope, body):
            return "out_of_scope"
    for c in item.constraints:
        if not ref_inside(c.scope, body, c.provider_id):
            return "outside_ceiling"
    secret = item.secret
    for c in item.constraints:
        if c.secret:
            secret = True
    # SPEC §2: refusing secrets is about receiving others'; the provider keeps its own.
    if secret and body.refuses_secrets and not is_provider:
        return "refuses_secrets"
    if secret and not body.has_handler:
        return "no_handler"
    if body.kind == BodyKind.MEMBER and not is_provider:
        if item.kind == ItemKind.EARLY_WARNING and not body.early_warning:
            return "early_warning_opted_out"
        if body.tier == Tier.TIER_ONE:
            return None
        if item.kind == ItemKind.ANALYSIS and body.tier == Tier.TIER_TWO:
            return "tier_two_no_analysis"
        if item.kind == ItemKind.ANALYSIS:
            return "analysis_stays_in_tier_one"
        if item.kind == ItemKind.CONSULTATION:
            return "consultation_stays_in_tier_one"
        if (
            item.kind == ItemKind.COUNTERMEASURE
            and body.tier == Tier.NONE
            and item.confidence != Confidence.HIGH
        ):
            return "general_needs_high_confidence"
    return None


def ref_may_read(user: Reader, item: ItemFacts) -> bool:
    """The body receives it; secrets and RED only for registered handlers; no secretariat."""
    if user.body.kind == BodyKind.SECRETARIAT:
        return False
    if ref_first_refusal(item, user.body) is not None:
        return False
    secret = item.secret or any(c.secret for c in item.constraints)
    red = item.tlp == Tlp.RED or any(c.tlp == Tlp.RED for c in item.constraints)
    if (secret or red) and not user.is_handler:
        return False
    return True


def ref_routing(item: ItemFacts, bodies: list[Body]) -> tuple[set[str], dict[str, int]]:
    """Recipients, and drops by first reason among the bodies the scope addressed."""
    recipients: set[str] = set()
    dropped: dict[str, int] = {}
    for body in bodies:
        refusal = ref_first_refusal(item, body)
        if refusal is None:
            recipients.add(body.id)
            continue
        addressed = (
            body.id == item.provider_id
            or body.kind == BodyKind.COORDINATOR
            or ref_addressed(item.scope, body)
        )
        if addressed:
            dropped[refusal] = dropped.get(refusal, 0) + 1
    return recipients, dropped


# ---------------------------------------------------------------- generated cases

MEMBER_IDS = ("m0", "m1", "m2", "m3", "m4")
BODY_IDS = ("jpcert", "nisc", *MEMBER_IDS)
NAMES = (*BODY_IDS, "ghost")  # scopes may name a body that does not exist

T = TypeVar("T")

# Generation dominates the run time, so each set and each body's flags is one draw
# from a precomputed list rather than many small draws: that keeps 10,000 cases fast.


def subsets(pool: tuple[T, ...], max_size: int) -> list[frozenset[T]]:
    """Every subset of `pool` with at most `max_size` elements."""
    return [
        frozenset(chosen)
        for size in range(max_size + 1)
        for chosen in itertools.combinations(pool, size)
    ]


scopes = st.builds(
    Scope,
    groups=st.sampled_from(subsets(tuple(Group), 3)),
    members=st.sampled_from(subsets(NAMES, 3)),
    exclude_members=st.sampled_from(subsets(NAMES, 2)),
    exclude_attributes=st.sampled_from(subsets(tuple(ExcludableAttribute), 3)),
)

# A body's traits, drawn at once: tier, status (mostly active, so that the rules
# after rule 7 are reached often) and the flags regulator, law_enforcement,
# foreign, refuses_secrets, early_warning, has_handler.
TRAITS = list(
    itertools.product(
        Tier,
        [MemberStatus.ACTIVE] * 4 + list(MemberStatus),
        itertools.product((False, True), repeat=6),
    )
)


def body_for(body_id: str) -> st.SearchStrategy[Body]:
    """A body of the given id; the kind follows the id, the rest is free."""
    kind = {"jpcert": BodyKind.COORDINATOR, "nisc": BodyKind.SECRETARIAT}.get(
        body_id, BodyKind.MEMBER
    )

    def build(traits: tuple[Tier, MemberStatus, tuple[bool, ...]]) -> Body:
        tier, status, flags = traits
        regulator, law_enforcement, foreign, refuses_secrets, early_warning, has_handler = flags
        return Body(
            body_id,
            kind=kind,
            tier=tier,
            status=status,
            regulator=regulator,
            law_enforcement=law_enforcement,
            foreign=foreign,
            refuses_secrets=refuses_secrets,
            early_warning=early_warning,
            has_handler=has_handler,
        )

    return st.sampled_from(TRAITS).map(build)


bodies_strategy = st.tuples(*(body_for(body_id) for body_id in BODY_IDS)).map(list)

constraints_strategy = st.builds(
    SourceConstraint,
    source_id=st.sampled_from(("s0", "s1")),
    provider_id=st.sampled_from(NAMES),
    scope=scopes,
    tlp=st.sampled_from(Tlp),
    secret=st.booleans(),
)

items = st.builds(
    ItemFacts,
    id=st.just("item"),
    provider_id=st.sampled_from(NAMES),
    kind=st.sampled_from(ItemKind),
    confidence=st.sampled_from(Confidence),
    tlp=st.sampled_from(Tlp),
    secret=st.booleans(),
    scope=scopes,
    constraints=st.lists(constraints_strategy, max_size=2).map(tuple),
    status=st.sampled_from([ItemStatus.ACTIVE] * 5 + [ItemStatus.WITHDRAWN]),
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[ItemFacts, list[Body], Reader]:
    """An item, every body of the pool, and a user of one of them."""
    item = draw(items)
    bodies = draw(bodies_strategy)
    user = Reader("u", draw(st.sampled_from(bodies)), is_handler=draw(st.booleans()))
    return item, bodies, user


@settings(  # examples: the dev or ci profile (tests/conftest.py)
    deadline=None,
    database=None,  # keep the run free of files outside the tests' own folders
    suppress_health_check=[HealthCheck.too_slow],
)
@given(cases())
def test_policy_agrees_with_the_reference_model(
    case: tuple[ItemFacts, list[Body], Reader],
) -> None:
    """receives, may_read and recipients_for agree with the naive SPEC model on every case."""
    item, bodies, user = case

    for body in bodies:
        decision = receives(item, body)
        expected = ref_first_refusal(item, body)
        assert decision.allowed is (expected is None), body
        assert (decision.reasons[0] if decision.reasons else None) == expected, body

    assert may_read(user, item).allowed is ref_may_read(user, item)

    routing = recipients_for(item, bodies)
    expected_recipients, expected_dropped = ref_routing(item, bodies)
    assert routing.recipients == expected_recipients
    assert dict(Counter(routing.dropped)) == expected_dropped
