"""Which view of an item's feedback each reader gets (SPEC §4, "the provider always gets feedback").

Individual answers for the provider and the coordinator; aggregate counts for
the rest of the tier-one group; a tier-two member its own answer only, never
another's; nothing at all for anyone who may not open the item.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import event, given, settings
from tlp_builders import (
    COORDINATOR,
    ITEMS_OFTEN_OPEN,
    READERS,
    SECRETARIAT,
    SECRETARIAT_ID,
    item,
    member,
    reader,
    ref_may_open,
    scope,
    tier_one,
    tier_two,
)

from broker.domain.model import (
    BodyKind,
    Confidence,
    Group,
    ItemFacts,
    ItemKind,
    ItemStatus,
    MemberStatus,
    Reader,
    Tier,
    Tlp,
)
from broker.tlp import Decision
from broker.tlp.feedback_views import FeedbackView, feedback_view, may_list_obligation

ANALYSIS = item(
    provider_id="vendor", kind=ItemKind.ANALYSIS, item_scope=scope(Group.TIER_ONE_GROUP)
)
EARLY_COUNTERMEASURE = item(
    provider_id="vendor",
    kind=ItemKind.COUNTERMEASURE,
    confidence=Confidence.LOW,
    item_scope=scope(Group.TASK_FORCE),
)


def withdrawn(facts: ItemFacts) -> ItemFacts:
    """`facts` after its provider withdrew it."""
    return dataclasses.replace(facts, status=ItemStatus.WITHDRAWN)


# --- who sees what ---------------------------------------------------------------------


@pytest.mark.parametrize("facts", [ANALYSIS, EARLY_COUNTERMEASURE], ids=["analysis", "early"])
def test_spec4_the_provider_sees_every_answer_individually(facts: ItemFacts) -> None:
    """The provider always gets feedback: every answer on its item, with who gave it."""
    assert feedback_view(reader(tier_one("vendor")), facts) == "individual"


@pytest.mark.parametrize("facts", [ANALYSIS, EARLY_COUNTERMEASURE], ids=["analysis", "early"])
def test_art14_2_the_coordinator_sees_every_answer_individually(facts: ItemFacts) -> None:
    """The coordinator, who may access every post, sees every answer with who gave it."""
    assert feedback_view(reader(COORDINATOR), facts) == "individual"


@pytest.mark.parametrize("facts", [ANALYSIS, EARLY_COUNTERMEASURE], ids=["analysis", "early"])
def test_tf_art6_the_rest_of_the_tier_one_group_sees_aggregate_counts(facts: ItemFacts) -> None:
    """Another tier-one member sees counts by member category (art. 17(2)), not who said what."""
    assert feedback_view(reader(tier_one("vendor-b")), facts) == "aggregate"


def test_spec4_a_tier_two_member_sees_only_its_own_answer() -> None:
    """A tier-two recipient sees its own answer and never another tier-two member's."""
    assert feedback_view(reader(tier_two("utility")), EARLY_COUNTERMEASURE) == "own"


def test_spec4_a_general_member_sees_no_feedback_on_what_it_receives() -> None:
    """A general member reading a confirmed countermeasure owes and sees no feedback on it."""
    confirmed = item(provider_id="vendor", item_scope=scope(Group.ALL_MEMBERS))

    assert feedback_view(reader(member("town")), confirmed) is None


def test_art14_3_the_secretariat_sees_no_feedback_even_when_named() -> None:
    """The secretariat reads no contents, so a scope naming it shows it no feedback."""
    naming = item(provider_id="vendor", item_scope=scope(Group.ALL_MEMBERS, members=("nisc",)))

    assert feedback_view(reader(SECRETARIAT, handler=True), naming) is None


def test_art17_1_a_member_outside_the_scope_sees_no_feedback() -> None:
    """A tier-one member the scope excludes learns nothing of the answers (404)."""
    narrowed = dataclasses.replace(ANALYSIS, scope=scope(Group.TIER_ONE_GROUP, exclude=("rival",)))

    assert feedback_view(reader(tier_one("rival")), narrowed) is None
    assert feedback_view(reader(tier_two("utility")), ANALYSIS) is None


@pytest.mark.parametrize(
    "user",
    [reader(tier_one("vendor-b")), reader(COORDINATOR), reader(tier_one("vendor"))],
    ids=["tier_one", "coordinator", "provider"],
)
def test_art18_4_a_user_who_may_not_open_a_secret_item_learns_nothing_of_its_feedback(
    user: Reader,
) -> None:
    """Only registered handlers see feedback on a live secret item, even the provider's users."""
    secret = dataclasses.replace(ANALYSIS, secret=True)

    assert feedback_view(user, secret) is None
    handler = dataclasses.replace(user, is_handler=True)
    assert feedback_view(handler, secret) in ("individual", "aggregate")


def test_tlp_red_feedback_only_to_registered_handlers() -> None:
    """TLP:RED is for individual recipients: non-handlers see no feedback on a RED item."""
    red = dataclasses.replace(EARLY_COUNTERMEASURE, tlp=Tlp.RED)

    assert feedback_view(reader(tier_two("utility")), red) is None
    assert feedback_view(reader(tier_two("utility"), handler=True), red) == "own"


def test_rule7_art8_2_a_restricted_member_sees_no_feedback_on_live_items() -> None:
    """A restricted provider or tier-one member loses the feedback on live items at once."""
    restricted = MemberStatus.RESTRICTED

    assert feedback_view(reader(tier_one("vendor", status=restricted)), ANALYSIS) is None
    assert feedback_view(reader(tier_one("vendor-b", status=restricted)), ANALYSIS) is None


@pytest.mark.parametrize("facts", [ANALYSIS, EARLY_COUNTERMEASURE], ids=["analysis", "early"])
def test_spec4_provider_and_coordinator_keep_the_answers_on_a_withdrawn_item(
    facts: ItemFacts,
) -> None:
    """After a withdrawal the provider and coordinator keep the individual view, as the metadata."""
    assert feedback_view(reader(tier_one("vendor")), withdrawn(facts)) == "individual"
    assert feedback_view(reader(COORDINATOR), withdrawn(facts)) == "individual"


def test_spec4_a_withdrawn_item_shows_no_feedback_to_anyone_else() -> None:
    """Once withdrawn, the rest of the tier-one group and tier two see no answers."""
    gone = withdrawn(EARLY_COUNTERMEASURE)

    assert feedback_view(reader(tier_one("vendor-b")), gone) is None
    assert feedback_view(reader(tier_two("utility")), gone) is None


def test_art14_3_the_secretariat_gets_no_view_even_if_it_could_open_the_item(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Defence in depth: were the reading rules to let the secretariat in, it sees no answers."""
    monkeypatch.setattr("broker.tlp.feedback_views.may_read", lambda user, facts: Decision.allow())

    assert feedback_view(reader(SECRETARIAT, handler=True), EARLY_COUNTERMEASURE) is None
    assert feedback_view(reader(member("town")), EARLY_COUNTERMEASURE) is None


# --- withdrawn items and tier-two providers ------------------------------------------------


@pytest.mark.parametrize(
    ("user", "facts"),
    [
        (
            reader(tier_one("vendor", status=MemberStatus.RESTRICTED), handler=True),
            withdrawn(ANALYSIS),
        ),
        (reader(tier_one("vendor")), withdrawn(dataclasses.replace(ANALYSIS, secret=True))),
        (reader(COORDINATOR), withdrawn(dataclasses.replace(ANALYSIS, secret=True))),
        (
            reader(SECRETARIAT, handler=True),
            withdrawn(item(provider_id=SECRETARIAT_ID, kind=ItemKind.NOTICE)),
        ),
    ],
    ids=[
        "restricted_provider",
        "provider_non_handler_secret",
        "coordinator_non_handler_secret",
        "secretariat_own_notice",
    ],
)
def test_rule7_art18_4_withdrawal_does_not_lift_the_per_reader_rules(
    user: Reader, facts: ItemFacts
) -> None:
    """A reader who could not open the item before its withdrawal sees no answers after it."""
    before = dataclasses.replace(facts, status=ItemStatus.ACTIVE)
    assert feedback_view(user, before) is None  # the reader is refused while the item is live

    assert feedback_view(user, facts) is None


def test_spec4_a_tier_two_provider_never_sees_another_tier_two_members_answer() -> None:
    """Not even as the provider does a tier-two member see other tier-two answers individually."""
    own = item(
        provider_id="utility",
        kind=ItemKind.COUNTERMEASURE,
        confidence=Confidence.LOW,
        item_scope=scope(Group.TIER_TWO),
    )

    assert feedback_view(reader(tier_two("utility")), own) != "individual"


# --- against a plain reference model ------------------------------------------------------


def ref_feedback_view(user: Reader, facts: ItemFacts) -> FeedbackView | None:
    """Reference: SPEC §4 read naively, on top of the reference of who may open an item.

    A withdrawn item can no longer be opened, so the provider and coordinator
    keep its answers exactly when they could have opened it just before.
    """
    body = user.body
    privileged = body.id == facts.provider_id or body.kind == BodyKind.COORDINATOR
    if facts.status == ItemStatus.WITHDRAWN:
        if not privileged:
            return None
        facts = dataclasses.replace(facts, status=ItemStatus.ACTIVE)
    if not ref_may_open(user, facts):
        return None
    if body.kind == BodyKind.COORDINATOR:
        return "individual"
    if privileged:
        # Tier-two answers are never shown to another tier-two member, provider or not.
        return "counts" if body.tier == Tier.TIER_TWO else "individual"
    if body.tier == Tier.TIER_ONE:
        return "aggregate"
    if body.tier == Tier.TIER_TWO:
        return "own"
    return None


@settings(deadline=None, database=None)  # examples: the dev or ci profile (tests/conftest.py)
@given(user=READERS, facts=ITEMS_OFTEN_OPEN)
def test_feedback_view_agrees_with_the_reference_model(user: Reader, facts: ItemFacts) -> None:
    """Every reader gets the view the naive SPEC §4 model gives, on any item."""
    view = feedback_view(user, facts)

    event(f"view: {view}")
    assert view == ref_feedback_view(user, facts)
    # SPEC §4: a tier-two member never sees another's answer; as a provider it gets the
    # counts ("the provider always gets feedback"), never the individual answers.
    if user.body.kind == BodyKind.MEMBER and user.body.tier == Tier.TIER_TWO:
        own_item = user.body.id == facts.provider_id
        assert view in (("counts", None) if own_item else ("own", None))


def ref_may_list_obligation(user: Reader, facts: ItemFacts) -> bool:
    """Rules 3 and 7, naively: a live item if the user may open it; a withdrawn one
    only for an active member, and for a handler if it was secret or RED."""
    if facts.status == ItemStatus.ACTIVE:
        return ref_may_open(user, facts)
    if user.body.status != MemberStatus.ACTIVE:
        return False
    if facts.effective_secret or facts.effective_tlp == Tlp.RED:
        return user.is_handler
    return True


@settings(deadline=None, database=None)
@given(user=READERS, facts=ITEMS_OFTEN_OPEN)
def test_may_list_obligation_agrees_with_the_reference_model(
    user: Reader, facts: ItemFacts
) -> None:
    """SPEC §3 rules 3 and 7: the obligation list shows what the naive model shows; a
    restricted member or an applicant (art. 6(1)) never lists one, withdrawn item or not."""
    decision = may_list_obligation(user, facts)
    assert bool(decision) == ref_may_list_obligation(user, facts)
    if user.body.status is not MemberStatus.ACTIVE:
        assert not decision


def test_rule7_a_restricted_member_lists_nothing_on_a_withdrawn_item() -> None:
    """SPEC §3 rule 7: restriction hides even the history of withdrawn items."""
    gone = withdrawn(EARLY_COUNTERMEASURE)
    assert may_list_obligation(reader(tier_two("utility")), gone)
    restricted = reader(tier_two("utility", status=MemberStatus.RESTRICTED))
    assert may_list_obligation(restricted, gone).reasons[0] == "inactive_member"


def test_spec4_a_tier_two_provider_gets_counts() -> None:
    """SPEC §4: a tier-two provider gets the counts view, with small cells suppressed."""
    own = item(
        provider_id="utility",
        kind=ItemKind.COUNTERMEASURE,
        confidence=Confidence.LOW,
        item_scope=scope(Group.TIER_TWO),
    )
    assert feedback_view(reader(tier_two("utility")), own) == "counts"
