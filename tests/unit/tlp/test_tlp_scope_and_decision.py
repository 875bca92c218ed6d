"""The scope test (charter art. 17(1), 19(2)) and the Decision value on their own."""

from __future__ import annotations

import pytest
from tlp_builders import COORDINATOR, SECRETARIAT, member, scope, tier_one, tier_two

from broker.domain.model import BodyKind, ExcludableAttribute, Group, Scope
from broker.tlp import Decision, Reason, in_scope


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        (Group.TIER_ONE_GROUP, {"jpcert", "vendor"}),
        (Group.TIER_TWO, {"jpcert", "utility"}),
        (Group.TASK_FORCE, {"jpcert", "vendor", "utility"}),
        (Group.ALL_MEMBERS, {"jpcert", "vendor", "utility", "town"}),
        (Group.COORDINATOR, {"jpcert"}),
    ],
)
def test_each_group_takes_in_exactly_its_members(group: Group, expected: set[str]) -> None:
    """Each SPEC §2 group addresses exactly its class of member, plus the coordinator."""
    bodies = [COORDINATOR, SECRETARIAT, tier_one("vendor"), tier_two("utility"), member("town")]

    inside = {body.id for body in bodies if in_scope(scope(group), body, "provider")}

    assert inside == expected


def test_an_empty_scope_still_holds_the_provider_and_the_coordinator() -> None:
    """Art. 17(1) and 14(2): a scope naming no one still reaches the provider and coordinator."""
    assert in_scope(Scope(), member("town"), "town")
    assert in_scope(Scope(), COORDINATOR, "town")
    assert in_scope(Scope(), member("other"), "town").reasons == (Reason.OUT_OF_SCOPE,)


def test_the_provider_cannot_exclude_itself_nor_the_coordinator() -> None:
    """Exclusions never subtract the provider or the coordinator (SPEC §2)."""
    excluding = scope(exclude=("town", "jpcert"))

    assert in_scope(excluding, member("town", regulator=True), "town")
    assert in_scope(excluding, COORDINATOR, "town")


def test_a_named_member_is_inside_whatever_its_class() -> None:
    """Naming a member adds it regardless of groups."""
    assert in_scope(scope(Group.TIER_ONE_GROUP, members=("town",)), member("town"), "vendor")


def test_a_denial_lists_the_exclusions_before_out_of_scope() -> None:
    """A body both unaddressed and excluded is denied for every reason, exclusions first."""
    narrow = scope(
        Group.TIER_ONE_GROUP,
        exclude=("police",),
        exclude_attributes=(ExcludableAttribute.LAW_ENFORCEMENT,),
    )

    assert in_scope(narrow, member("police", law_enforcement=True), "vendor").reasons == (
        Reason.EXCLUDED_MEMBER,
        Reason.EXCLUDED_ATTRIBUTE,
        Reason.OUT_OF_SCOPE,
    )


def test_the_secretariat_is_never_in_scope_unless_it_provided_the_item() -> None:
    """The secretariat is outside any scope (art. 14(3)) but keeps its own notices (17(1))."""
    everyone = scope(*Group, members=("nisc",))

    assert in_scope(everyone, SECRETARIAT, "vendor").reasons == (Reason.SECRETARIAT_NO_CONTENT,)
    assert in_scope(Scope(), SECRETARIAT, "vendor").reasons == (
        Reason.SECRETARIAT_NO_CONTENT,
        Reason.OUT_OF_SCOPE,
    )
    assert in_scope(Scope(), SECRETARIAT, "nisc")


def test_groups_take_in_only_members_not_other_kinds_of_body() -> None:
    """A body of another kind than member is never taken in by a group."""
    odd = member("odd", kind=BodyKind.SECRETARIAT)

    assert not in_scope(scope(Group.ALL_MEMBERS), odd, "vendor")


def test_decision_is_truthy_exactly_when_allowed() -> None:
    """`bool(decision)` is the allowed flag."""
    assert Decision.allow()
    assert not Decision.deny(Reason.WITHDRAWN)


def test_decision_deny_drops_repeated_reasons_and_keeps_order() -> None:
    """`Decision.deny` keeps the first occurrence of each reason, in order."""
    decision = Decision.deny(Reason.NOT_HANDLER, Reason.WITHDRAWN, Reason.NOT_HANDLER)

    assert decision.reasons == (Reason.NOT_HANDLER, Reason.WITHDRAWN)


def test_decision_from_reasons_allows_only_when_nothing_failed() -> None:
    """`Decision.from_reasons` allows on no reasons and denies on any."""
    assert Decision.from_reasons([]) == Decision.allow()
    assert Decision.from_reasons(iter([Reason.NO_HANDLER])) == Decision.deny(Reason.NO_HANDLER)
