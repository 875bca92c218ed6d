"""The TAXII collections against a plain model: over TAXII a user gets exactly the
items it may open natively, no more and no fewer (docs/taxii.md)."""

from __future__ import annotations

import dataclasses
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_tlp_reference_model import NAMES, TRAITS, ref_may_read, subsets
from tlp_builders import COORDINATOR, SECRETARIAT, item, member, reader, tier_one, tier_two

from broker.domain.model import (
    Body,
    BodyKind,
    Confidence,
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
from broker.tlp import (
    COLLECTIONS,
    CollectionAlias,
    CollectionSpec,
    collection_by_id,
    may_use_collection,
    may_write_collection,
    selects,
)

# ---------------------------------------------------------------- reference model


def ref_uses(body: Body, alias: CollectionAlias) -> bool:
    """docs/taxii.md "Collections", read literally."""
    if body.status is not MemberStatus.ACTIVE or body.kind is BodyKind.SECRETARIAT:
        return False
    coordinator = body.kind is BodyKind.COORDINATOR
    tier_one_group = coordinator or body.tier is Tier.TIER_ONE
    task_force = tier_one_group or body.tier is Tier.TIER_TWO
    return {
        CollectionAlias.TIER_ONE_ANALYSIS: tier_one_group,
        CollectionAlias.EARLY_COUNTERMEASURES: task_force,
        CollectionAlias.FEEDBACK: task_force,
        CollectionAlias.COUNTERMEASURES: True,
        CollectionAlias.INBOX: True,
        CollectionAlias.EARLY_WARNINGS: coordinator or body.early_warning,
    }[alias]


def ref_holds(alias: CollectionAlias, facts: ItemFacts) -> bool:
    """What each collection holds, by kind and confidence."""
    early = facts.confidence in (Confidence.UNCONFIRMED, Confidence.LOW)
    return {
        CollectionAlias.TIER_ONE_ANALYSIS: facts.kind is ItemKind.ANALYSIS,
        CollectionAlias.EARLY_COUNTERMEASURES: facts.kind is ItemKind.COUNTERMEASURE and early,
        CollectionAlias.COUNTERMEASURES: facts.kind is ItemKind.COUNTERMEASURE
        and facts.confidence is Confidence.HIGH,
        CollectionAlias.EARLY_WARNINGS: facts.kind is ItemKind.EARLY_WARNING,
        CollectionAlias.INBOX: facts.kind is not ItemKind.CONSULTATION,
        CollectionAlias.FEEDBACK: False,
    }[alias]


def over_taxii(user: Reader, council: list[ItemFacts]) -> set[str]:
    """Every item any collection gives `user`: the selection under test."""
    return {
        facts.id
        for spec in COLLECTIONS
        if may_use_collection(user, spec)
        for facts in council
        if selects(user, spec, facts)
    }


# Cheap examples (10,000 of them in CI): items and readers are drawn by index
# from pools built once, which cover every kind, confidence, label, status,
# tier, flag and body kind, with scopes and ceilings over the reference pool's
# names; drawing an index costs a fraction of building an object each time.
_SCOPES = [
    Scope(groups=g, members=m, exclude_members=x)
    for g in subsets(tuple(Group), 2)
    for m in subsets(NAMES[:4], 1)
    for x in subsets(NAMES[2:5], 1)
]


def _item_pool(size: int) -> list[ItemFacts]:
    rng = random.Random(20261203)
    pool = []
    for _ in range(size):
        constraints = tuple(
            SourceConstraint(
                source_id=f"s{n}",
                provider_id=rng.choice(NAMES),
                scope=rng.choice(_SCOPES),
                tlp=rng.choice(list(Tlp)),
                secret=rng.random() < 0.3,
            )
            for n in range(rng.choice((0, 0, 0, 1, 2)))
        )
        pool.append(
            ItemFacts(
                id="",
                provider_id=rng.choice(NAMES),
                kind=rng.choice(list(ItemKind)),
                confidence=rng.choice(list(Confidence)),
                tlp=rng.choice(list(Tlp)),
                secret=rng.random() < 0.3,
                scope=rng.choice(_SCOPES),
                constraints=constraints,
                status=ItemStatus.WITHDRAWN if rng.random() < 0.15 else ItemStatus.ACTIVE,
            )
        )
    return pool


_ITEMS = _item_pool(5000)
_BODIES = [
    Body(
        body_id,
        kind=kind,
        tier=tier,
        status=status,
        regulator=flags[0],
        law_enforcement=flags[1],
        foreign=flags[2],
        refuses_secrets=flags[3],
        early_warning=flags[4],
        has_handler=flags[5],
    )
    for body_id, kind in (
        (COORDINATOR.id, BodyKind.COORDINATOR),
        (SECRETARIAT.id, BodyKind.SECRETARIAT),
        *((name, BodyKind.MEMBER) for name in NAMES[2:5]),
    )
    for tier, status, flags in TRAITS
]


@st.composite
def councils(draw: st.DrawFn) -> tuple[list[ItemFacts], Reader]:
    """Up to six items of every kind and standing, and a user of any body."""
    picks = draw(st.lists(st.integers(0, len(_ITEMS) - 1), max_size=6))
    council = [dataclasses.replace(_ITEMS[p], id=f"i{n}") for n, p in enumerate(picks)]
    body = _BODIES[draw(st.integers(0, len(_BODIES) - 1))]
    return council, Reader("u", body, is_handler=draw(st.booleans()))


@settings(  # examples: the dev or ci profile (tests/conftest.py)
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(councils())
def test_taxii_gives_exactly_what_may_be_opened_natively(
    case: tuple[list[ItemFacts], Reader],
) -> None:
    """A user's objects over TAXII are the items it may open (no consultation), each in
    the collections the plain model puts it in, and only those its role may use."""
    council, user = case
    body = user.body
    uses_any = body.status is MemberStatus.ACTIVE and body.kind is not BodyKind.SECRETARIAT
    native = {
        f.id for f in council if ref_may_read(user, f) and f.kind is not ItemKind.CONSULTATION
    }
    assert over_taxii(user, council) == (native if uses_any else set())
    for spec in COLLECTIONS:
        assert may_use_collection(user, spec) is ref_uses(body, spec.alias), spec.alias
        if may_write_collection(user, spec):
            assert may_use_collection(user, spec)
        for facts in council:
            expected = (
                ref_uses(body, spec.alias)
                and ref_holds(spec.alias, facts)
                and ref_may_read(user, facts)
            )
            assert selects(user, spec, facts) is expected, (spec.alias, facts)


def _spec(alias: CollectionAlias) -> CollectionSpec:
    return next(c for c in COLLECTIONS if c.alias is alias)


def test_fixed_ids_are_the_documented_ones() -> None:
    """The six ids never change: members configure their platforms once."""
    assert {c.alias.value: c.id for c in COLLECTIONS} == {
        "tier-one-analysis": "5d3c6f0e-8a2b-4c1e-9f47-1b2a3c4d5e01",
        "early-countermeasures": "5d3c6f0e-8a2b-4c1e-9f47-1b2a3c4d5e02",
        "countermeasures": "5d3c6f0e-8a2b-4c1e-9f47-1b2a3c4d5e03",
        "early-warnings": "5d3c6f0e-8a2b-4c1e-9f47-1b2a3c4d5e04",
        "inbox": "5d3c6f0e-8a2b-4c1e-9f47-1b2a3c4d5e05",
        "feedback": "5d3c6f0e-8a2b-4c1e-9f47-1b2a3c4d5e06",
    }
    assert collection_by_id("5d3c6f0e-8a2b-4c1e-9f47-1b2a3c4d5e07") is None


def test_who_may_write_where() -> None:
    """can_write: tier-one group for analysis and countermeasures, the coordinator for
    early warnings, the task force for feedback, nobody for the inbox."""
    vendor = reader(tier_one("v"))
    operator = reader(tier_two("p"))
    general = reader(member("g"))
    coordinator = reader(COORDINATOR)
    table = {
        CollectionAlias.TIER_ONE_ANALYSIS: (True, False, False, True),
        CollectionAlias.EARLY_COUNTERMEASURES: (True, False, False, True),
        CollectionAlias.COUNTERMEASURES: (True, False, False, True),
        CollectionAlias.EARLY_WARNINGS: (False, False, False, True),
        CollectionAlias.INBOX: (False, False, False, False),
        CollectionAlias.FEEDBACK: (True, True, False, True),
    }
    for alias, expected in table.items():
        got = tuple(
            may_write_collection(r, _spec(alias)) for r in (vendor, operator, general, coordinator)
        )
        assert got == expected, alias
    assert not any(may_use_collection(reader(SECRETARIAT), c) for c in COLLECTIONS)


def test_a_consultation_is_in_no_collection() -> None:
    """Art. 16(3): consultations never appear over TAXII, not even to their provider."""
    consultation = item(kind=ItemKind.CONSULTATION, provider_id="v")
    vendor = reader(tier_one("v"), handler=True)
    assert not any(selects(vendor, c, consultation) for c in COLLECTIONS)
