"""One test per routing rule of SPEC §3, each named after the article it enforces."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from tlp_builders import (
    COORDINATOR,
    SECRETARIAT,
    item,
    member,
    reader,
    scope,
    tier_one,
    tier_two,
)

from broker.domain.model import (
    Confidence,
    ExcludableAttribute,
    Group,
    ItemKind,
    ItemStatus,
    MemberStatus,
    Scope,
    Tlp,
)
from broker.tlp import (
    Decision,
    Reason,
    constraints_for_derived,
    handling_for,
    may_break_glass,
    may_change_scope,
    may_derive,
    may_read,
    may_submit,
    may_withdraw,
    needs_consent,
    receives,
    recipients_for,
)

# --- rule 1: scope is the provider's (charter art. 17(1)) ---------------------------


def test_rule1_art17_1_member_outside_the_scope_never_receives() -> None:
    """A member the provider's scope does not address does not receive the item."""
    analysis = item(kind=ItemKind.ANALYSIS, item_scope=scope(Group.TIER_ONE_GROUP))

    decision = receives(analysis, member("utility"))

    assert decision == Decision.deny(Reason.OUT_OF_SCOPE, Reason.ANALYSIS_STAYS_IN_TIER_ONE)


def test_rule1_art17_1_provider_keeps_access_to_its_own_item_whatever_the_scope() -> None:
    """The provider receives its own item even when its scope names only the coordinator."""
    own = item(provider_id="vendor", item_scope=scope(Group.COORDINATOR))

    assert receives(own, member("vendor"))


def test_rule1_art17_1_no_one_but_the_provider_changes_the_scope() -> None:
    """Only the provider's users may change a scope: not the coordinator, not the secretariat."""
    own = item(provider_id="vendor")

    assert may_change_scope(reader(member("vendor")), own)
    assert may_change_scope(reader(COORDINATOR, handler=True), own).reasons == (
        Reason.NOT_PROVIDER,
    )
    assert may_change_scope(reader(SECRETARIAT, handler=True), own).reasons == (
        Reason.NOT_PROVIDER,
    )


def test_rule1_art17_1_only_the_provider_withdraws_its_item() -> None:
    """Withdrawal is the provider's alone, and a withdrawn item cannot be withdrawn again."""
    own = item(provider_id="vendor")
    gone = item(provider_id="vendor", status=ItemStatus.WITHDRAWN)

    assert may_withdraw(reader(member("vendor")), own)
    assert may_withdraw(reader(COORDINATOR), own).reasons == (Reason.NOT_PROVIDER,)
    assert may_withdraw(reader(member("vendor")), gone).reasons == (Reason.WITHDRAWN,)


# --- rule 2: derived items inherit the ceiling (charter art. 17(3)) -----------------


def test_rule2_art17_3_derived_item_never_reaches_outside_an_unconsented_source_scope() -> None:
    """A derived item asking for all members reaches only those inside its source's scope."""
    source = item(item_id="src", provider_id="vendor-a", item_scope=scope(Group.TASK_FORCE))
    derived = item(
        item_id="derived",
        provider_id="vendor-b",
        item_scope=scope(Group.ALL_MEMBERS),
        constraints=constraints_for_derived("vendor-b", [source]),
    )

    assert receives(derived, tier_two("utility"))
    assert receives(derived, member("town")).reasons == (Reason.OUTSIDE_CEILING,)
    assert receives(derived, member("vendor-a"))  # the source's provider is inside its own
    assert needs_consent(derived, [tier_two("utility"), member("town")]) == {"vendor-a"}


def test_rule2_art17_3_derived_item_travels_under_the_strictest_tlp_and_secrecy() -> None:
    """An unconsented source that is AMBER and secret makes a CLEAR public derivation so too."""
    source = item(item_id="src", provider_id="vendor-a", tlp=Tlp.AMBER, secret=True)
    derived = item(
        provider_id="vendor-b",
        tlp=Tlp.CLEAR,
        secret=False,
        constraints=constraints_for_derived("vendor-b", [source]),
    )

    assert derived.effective_tlp is Tlp.AMBER
    assert derived.effective_secret
    assert receives(derived, member("town")).reasons == (Reason.NO_HANDLER,)
    assert needs_consent(derived, []) == {"vendor-a"}


def test_rule2_art17_3_consent_of_every_affected_provider_lifts_the_ceiling() -> None:
    """Once a source's provider consents, its ceiling is no longer carried."""
    source_a = item(item_id="a", provider_id="vendor-a", item_scope=scope(Group.TIER_ONE_GROUP))
    source_b = item(item_id="b", provider_id="vendor-b", item_scope=scope(Group.TIER_ONE_GROUP))

    partly = constraints_for_derived("jpcert", [source_a, source_b], frozenset({"vendor-a"}))
    fully = constraints_for_derived(
        "jpcert", [source_a, source_b], frozenset({"vendor-a", "vendor-b"})
    )

    assert [c.provider_id for c in partly] == ["vendor-b"]
    assert fully == ()


def test_rule2_art17_3_provider_deriving_from_its_own_items_needs_no_consent() -> None:
    """A provider's own sources add no ceiling to what it derives from them."""
    own = item(item_id="own", provider_id="vendor", item_scope=scope(Group.COORDINATOR))

    assert constraints_for_derived("vendor", [own]) == ()


def test_rule2_art17_3_ceilings_survive_a_chain_of_derivations() -> None:
    """A ceiling carried by a source is carried on by whatever is derived from it."""
    root = item(item_id="root", provider_id="vendor-a", item_scope=scope(Group.TIER_ONE_GROUP))
    middle = item(
        item_id="middle",
        provider_id="vendor-b",
        constraints=constraints_for_derived("vendor-b", [root]),
    )

    leaf = constraints_for_derived("vendor-c", [middle])

    assert {c.source_id for c in leaf} == {"root", "middle"}


def test_rule2_art17_3_resharing_is_deriving_and_needs_read_access_to_the_source() -> None:
    """A member that cannot read an item cannot derive from (re-share) it."""
    analysis = item(kind=ItemKind.ANALYSIS, item_scope=scope(Group.TIER_ONE_GROUP))

    assert may_derive(reader(tier_one("vendor-b")), analysis)
    assert may_derive(reader(member("town")), analysis).reasons[0] is Reason.CANNOT_READ_SOURCE


# --- rule 3: secrets only to registered handlers (charter art. 18(3),(4), 13) -------


def test_rule3_art18_3_secret_item_never_reaches_a_member_without_a_registered_handler() -> None:
    """A member with no registered handler is left out of a secret item's routing."""
    secret = item(secret=True)

    assert receives(secret, member("town", has_handler=True))
    assert receives(secret, member("town", has_handler=False)).reasons == (Reason.NO_HANDLER,)


def test_rule3_art18_4_inside_a_member_only_registered_handlers_open_a_secret_item() -> None:
    """A user who is not a registered handler may not open (or list) a secret item."""
    secret = item(secret=True)
    town = member("town", has_handler=True)

    assert may_read(reader(town, handler=True), secret)
    assert may_read(reader(town, handler=False), secret).reasons == (Reason.NOT_HANDLER,)


def test_rule3_art13_the_coordinators_own_staff_need_handler_registration() -> None:
    """Coordinator users open a secret item only if registered handlers (art. 13, 18(4))."""
    secret = item(secret=True, item_scope=scope(Group.TIER_TWO))

    assert may_read(reader(COORDINATOR, handler=True), secret)
    assert may_read(reader(COORDINATOR, handler=False), secret).reasons == (Reason.NOT_HANDLER,)


def test_rule3_art13_break_glass_on_a_secret_item_needs_a_secretariat_handler() -> None:
    """The secretariat breaks the glass on a secret item only through a registered handler."""
    secret = item(secret=True)

    assert may_break_glass(reader(SECRETARIAT, handler=True), secret)
    assert may_break_glass(reader(SECRETARIAT), secret).reasons == (Reason.NOT_HANDLER,)


def test_rule3_art18_3_only_a_registered_handler_submits_a_secret_item() -> None:
    """A user who is not a registered handler may not submit a secret item."""
    vendor = tier_one("vendor")
    secret = item(provider_id="vendor", secret=True)

    assert may_submit(reader(vendor, handler=True), secret, {})
    assert may_submit(reader(vendor), secret, {}).reasons == (Reason.SUBMITTER_NOT_HANDLER,)


def test_rule3_art18_3_the_provider_itself_needs_a_handler_for_its_secret_item() -> None:
    """Even the provider does not hold a secret item without a registered handler."""
    secret = item(provider_id="town", secret=True)

    assert receives(secret, member("town")).reasons == (Reason.NO_HANDLER,)


# --- rule 4: refusal of secrets (charter art. 18(5)) --------------------------------


def test_rule4_art18_5_member_refusing_secrets_never_receives_a_secret_item() -> None:
    """A member that declared it refuses secrets does not receive a secret item."""
    refusing = tier_one("vendor-b", refuses_secrets=True)

    assert receives(item(secret=False), refusing)
    assert receives(item(secret=True), refusing).reasons == (Reason.REFUSES_SECRETS,)


def test_rule4_art18_5_refusal_binds_the_coordinator_too() -> None:
    """A refusal is honoured whoever declared it, the coordinator included."""
    refusing_coordinator = replace(COORDINATOR, refuses_secrets=True)

    assert receives(item(secret=True), refusing_coordinator).reasons == (Reason.REFUSES_SECRETS,)


# --- rule 5: exclusion of authorities (charter art. 19(2)) --------------------------


def test_rule5_art19_2_provider_excludes_a_body_by_name() -> None:
    """A member excluded by name does not receive the item even when a group includes it."""
    police = member("police", law_enforcement=True)
    excluding = item(item_scope=scope(Group.ALL_MEMBERS, exclude=("police",)))

    assert receives(excluding, police).reasons == (Reason.EXCLUDED_MEMBER,)


@pytest.mark.parametrize(
    ("attribute", "flag"),
    [
        (ExcludableAttribute.LAW_ENFORCEMENT, "law_enforcement"),
        (ExcludableAttribute.REGULATOR, "regulator"),
        (ExcludableAttribute.FOREIGN, "foreign"),
    ],
)
def test_rule5_art19_2_provider_excludes_authorities_by_attribute(
    attribute: ExcludableAttribute, flag: str
) -> None:
    """Excluding an attribute drops every member carrying it, and no other."""
    excluding = item(item_scope=scope(Group.ALL_MEMBERS, exclude_attributes=(attribute,)))

    assert receives(excluding, member("agency", **{flag: True})).reasons == (
        Reason.EXCLUDED_ATTRIBUTE,
    )
    assert receives(excluding, member("town"))


def test_rule5_art19_2_exclusion_wins_over_naming() -> None:
    """A member named in the scope but also excluded does not receive the item."""
    both = item(
        item_scope=scope(
            members=("regulator",), exclude_attributes=(ExcludableAttribute.REGULATOR,)
        )
    )

    assert receives(both, member("regulator", regulator=True)).reasons == (
        Reason.EXCLUDED_ATTRIBUTE,
    )


# --- rule 6: task-force reach (Task Force Rules art. 5; charter annex) --------------


def test_rule6_tf_art5_analysis_stays_in_the_tier_one_group() -> None:
    """Analysis addressed to all members reaches tier one and the coordinator only."""
    analysis = item(kind=ItemKind.ANALYSIS, confidence=Confidence.UNCONFIRMED)
    bodies = [tier_one("vendor-b"), COORDINATOR, tier_two("utility"), member("town")]

    routing = recipients_for(analysis, bodies)

    assert routing.recipients == {"vendor-b", "jpcert"}
    assert dict(routing.dropped) == {
        Reason.TIER_TWO_NO_ANALYSIS: 1,
        Reason.ANALYSIS_STAYS_IN_TIER_ONE: 1,
    }


def test_rule6_tf_art5_analysis_scope_beyond_the_tier_one_group_is_refused() -> None:
    """Submitting analysis whose scope reaches past the tier-one group is refused."""
    vendor = tier_one("vendor")
    bodies = {"vendor-b": tier_one("vendor-b"), "utility": tier_two("utility")}

    def submit(analysis_scope: Scope) -> Decision:
        analysis = item(kind=ItemKind.ANALYSIS, item_scope=analysis_scope)
        return may_submit(reader(vendor), analysis, bodies)

    assert submit(scope(Group.TIER_ONE_GROUP, members=("vendor-b",)))
    assert submit(scope(Group.COORDINATOR))
    assert submit(scope(Group.TASK_FORCE)).reasons == (Reason.ANALYSIS_STAYS_IN_TIER_ONE,)
    assert submit(scope(members=("utility",))).reasons == (Reason.ANALYSIS_STAYS_IN_TIER_ONE,)
    assert submit(scope(members=("unknown",))).reasons == (Reason.ANALYSIS_STAYS_IN_TIER_ONE,)


def test_rule6_annex_tier_two_receives_countermeasures_of_any_confidence() -> None:
    """Tier-two members receive early, low-confidence countermeasures."""
    early = item(confidence=Confidence.LOW, item_scope=scope(Group.TASK_FORCE))

    assert receives(early, tier_two("utility"))


def test_rule6_annex_general_members_receive_only_high_confidence_countermeasures() -> None:
    """A general member receives a countermeasure only once its confidence is high."""
    town = member("town")

    assert receives(item(confidence=Confidence.HIGH), town)
    for unsure in (Confidence.LOW, Confidence.UNCONFIRMED):
        assert receives(item(confidence=unsure), town).reasons == (
            Reason.GENERAL_NEEDS_HIGH_CONFIDENCE,
        )


def test_rule6_art15_early_warnings_reach_members_unless_they_opted_out() -> None:
    """Coordinator early warnings reach every member in scope except those that opted out."""
    warning = item(provider_id="jpcert", kind=ItemKind.EARLY_WARNING, confidence=Confidence.LOW)
    bodies = [
        member("town"),
        tier_two("utility"),
        tier_one("vendor"),
        member("quiet", early_warning=False),
        tier_one("quiet-vendor", early_warning=False),
    ]

    routing = recipients_for(warning, bodies)

    assert routing.recipients == {"town", "utility", "vendor"}
    assert dict(routing.dropped) == {Reason.EARLY_WARNING_OPTED_OUT: 2}


def test_rule6_art16_3_consultations_reach_only_the_coordinator_and_tier_one() -> None:
    """A consultation never reaches tier-two or general members."""
    consultation = item(provider_id="town", kind=ItemKind.CONSULTATION)
    bodies = [COORDINATOR, tier_one("vendor"), tier_two("utility"), member("other")]

    assert recipients_for(consultation, bodies).recipients == {"jpcert", "vendor"}


def test_rule6_notices_reach_every_member_in_scope() -> None:
    """A notice reaches general, tier-two and tier-one members alike."""
    notice = item(kind=ItemKind.NOTICE, confidence=Confidence.LOW)
    bodies = [member("town"), tier_two("utility"), tier_one("vendor-b")]

    assert recipients_for(notice, bodies).recipients == {"town", "utility", "vendor-b"}


# --- rule 7: restricted, withdrawn and expelled members receive nothing (art. 7, 8) --


@pytest.mark.parametrize(
    "status",
    [
        MemberStatus.APPLICANT,
        MemberStatus.RESTRICTED,
        MemberStatus.WITHDRAWN,
        MemberStatus.EXPELLED,
    ],
)
def test_rule7_art7_art8_inactive_members_receive_nothing(status: MemberStatus) -> None:
    """A member that is not active neither receives items nor lets its users read them."""
    gone = tier_one("vendor-b", status=status)
    everything = item(item_scope=scope(Group.ALL_MEMBERS, members=("vendor-b",)))

    assert receives(everything, gone).reasons == (Reason.INACTIVE_MEMBER,)
    assert may_read(reader(gone, handler=True), everything).reasons == (Reason.INACTIVE_MEMBER,)
    assert recipients_for(everything, [gone]).dropped == {Reason.INACTIVE_MEMBER: 1}


def test_rule7_art8_2_a_restricted_provider_loses_access_to_its_own_items() -> None:
    """A restriction takes effect for the provider's own items as well."""
    own = item(provider_id="vendor")

    assert receives(own, tier_one("vendor", status=MemberStatus.RESTRICTED)).reasons == (
        Reason.INACTIVE_MEMBER,
    )


def test_rule7_art8_2_a_restricted_member_may_not_submit() -> None:
    """A restricted member's users may not submit."""
    restricted = tier_one("vendor", status=MemberStatus.RESTRICTED)

    assert may_submit(reader(restricted), item(provider_id="vendor"), {}).reasons == (
        Reason.INACTIVE_MEMBER,
    )


# --- rule 8: TLP is honoured at every hop (TLP 2.0; art. 19(4), 24(4)) --------------


def test_rule8_tlp_red_opens_only_to_registered_handlers() -> None:
    """Inside a recipient, a TLP:RED item opens only to its registered handlers."""
    red = item(tlp=Tlp.RED)
    town = member("town")

    assert may_read(reader(town, handler=True), red)
    assert may_read(reader(town), red).reasons == (Reason.NOT_HANDLER,)


def test_rule8_tlp_red_cannot_be_reshared_except_by_its_provider() -> None:
    """Only the provider of TLP:RED information may derive from it."""
    red = item(provider_id="vendor", tlp=Tlp.RED)

    assert may_derive(reader(tier_one("vendor"), handler=True), red)
    assert may_derive(reader(tier_one("vendor-b"), handler=True), red).reasons == (
        Reason.RED_NOT_RESHAREABLE,
    )
    assert not handling_for(reader(tier_one("vendor-b"), handler=True), red).may_reshare


def test_rule8_tlp_amber_strict_stays_inside_the_recipient_organisation() -> None:
    """AMBER+STRICT is for the organisation: not even tier one may use it for customers."""
    handling = handling_for(reader(tier_one("vendor-b")), item(tlp=Tlp.AMBER_STRICT))

    assert handling.audience == "organisation"
    assert not any("may use it to protect your customers" in note for note in handling.notes)


def test_rule8_art24_4_tier_one_may_use_task_force_information_for_its_customers() -> None:
    """A tier-one reader of an AMBER item is told it may protect its customers with it."""
    handling = handling_for(reader(tier_one("vendor-b")), item(tlp=Tlp.AMBER))

    assert handling.may_reshare
    assert any("art. 24(4)" in note for note in handling.notes)


def test_rule8_art19_4_mutual_aid_bodies_may_use_information_for_their_constituents() -> None:
    """A mutual-aid reader of a GREEN item is told it may protect its constituents."""
    handling = handling_for(reader(member("isac", mutual_aid=True)), item(tlp=Tlp.GREEN))

    assert any("art. 19(4)" in note for note in handling.notes)


# --- rule 9: the coordinator sees all, the secretariat almost nothing (art. 14) -----


def test_rule9_art14_2_the_coordinator_receives_every_post_whatever_the_scope() -> None:
    """The coordinator receives items scoped away from it, even by name."""
    narrow = item(item_scope=scope(members=("vendor-b",), exclude=("jpcert",)))

    assert receives(narrow, COORDINATOR)
    assert receives(item(kind=ItemKind.ANALYSIS, confidence=Confidence.LOW), COORDINATOR)


def test_rule9_art14_3_the_secretariat_reads_no_content_even_when_named() -> None:
    """The secretariat receives nothing through scopes, and its users read nothing that way."""
    naming = item(item_scope=scope(Group.ALL_MEMBERS, members=("nisc",)))

    assert receives(naming, SECRETARIAT).reasons == (Reason.SECRETARIAT_NO_CONTENT,)
    assert may_read(reader(SECRETARIAT, handler=True), naming).reasons == (
        Reason.SECRETARIAT_NO_CONTENT,
    )
    assert recipients_for(naming, [SECRETARIAT]).dropped == {Reason.SECRETARIAT_NO_CONTENT: 1}


def test_rule9_art14_3_only_the_secretariat_breaks_the_glass() -> None:
    """Break-glass access is the secretariat's only: members and the coordinator are refused."""
    plain = item()

    assert may_break_glass(reader(SECRETARIAT), plain)
    assert may_break_glass(reader(COORDINATOR, handler=True), plain).reasons == (
        Reason.NOT_SECRETARIAT,
    )
    assert may_break_glass(reader(tier_one("vendor"), handler=True), plain).reasons == (
        Reason.NOT_SECRETARIAT,
    )


def test_rule9_art14_3_break_glass_needs_an_active_secretariat_and_a_live_item() -> None:
    """Break-glass is refused to a secretariat that is not active, and on a withdrawn item."""
    inactive = replace(SECRETARIAT, status=MemberStatus.RESTRICTED)
    gone = item(status=ItemStatus.WITHDRAWN)

    assert may_break_glass(reader(inactive), item()).reasons == (Reason.INACTIVE_MEMBER,)
    assert may_break_glass(reader(SECRETARIAT), gone).reasons == (Reason.WITHDRAWN,)


# --- rule 10: denials are events ----------------------------------------------------


def test_rule10_every_denial_states_its_reasons_for_the_audit() -> None:
    """A denial without a reason cannot be built, and reasons are snake_case audit codes."""
    with pytest.raises(ValueError, match="at least one reason"):
        Decision(allowed=False)
    with pytest.raises(ValueError, match="no reasons"):
        Decision(allowed=True, reasons=(Reason.WITHDRAWN,))
    assert all(re.fullmatch(r"[a-z]+(_[a-z0-9]+)*", reason.value) for reason in Reason)


def test_rule10_a_denial_lists_every_failing_rule_most_fundamental_first() -> None:
    """A withdrawn secret item denied to an inactive, excluded, refusing member lists all why."""
    secret = item(
        secret=True,
        status=ItemStatus.WITHDRAWN,
        item_scope=scope(Group.ALL_MEMBERS, exclude=("town",)),
    )
    town = member("town", status=MemberStatus.EXPELLED, refuses_secrets=True)

    assert receives(secret, town).reasons == (
        Reason.WITHDRAWN,
        Reason.INACTIVE_MEMBER,
        Reason.EXCLUDED_MEMBER,
        Reason.REFUSES_SECRETS,
        Reason.NO_HANDLER,
    )


def test_rule10_routing_reports_drops_but_not_bodies_never_addressed() -> None:
    """Routing counts addressed bodies it dropped, by first reason, and ignores unaddressed ones."""
    tier_one_only = item(kind=ItemKind.NOTICE, item_scope=scope(Group.TIER_ONE_GROUP))
    bodies = [
        tier_one("vendor-b"),
        tier_one("vendor-c", status=MemberStatus.EXPELLED),
        member("town"),
        member("gone", status=MemberStatus.WITHDRAWN),
        SECRETARIAT,
    ]

    routing = recipients_for(tier_one_only, bodies)

    assert routing.recipients == {"vendor-b"}
    assert routing.dropped == {Reason.INACTIVE_MEMBER: 1}
