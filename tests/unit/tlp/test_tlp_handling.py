"""The handling shown to a recipient (SPEC rule 8) and the victim view (charter annex)."""

from __future__ import annotations

import pytest
from tlp_builders import COORDINATOR, SECRETARIAT, item, member, reader, tier_one, tier_two

from broker.domain.model import Tlp
from broker.tlp import handling_for, victim_view


@pytest.mark.parametrize(
    ("tlp", "audience"),
    [
        (Tlp.CLEAR, "public"),
        (Tlp.GREEN, "community"),
        (Tlp.AMBER, "organisation_and_clients"),
        (Tlp.AMBER_STRICT, "organisation"),
        (Tlp.RED, "named_recipients"),
    ],
)
def test_audience_follows_the_tlp_2_0_label(tlp: Tlp, audience: str) -> None:
    """Each TLP 2.0 label maps to its audience, and the label is reported as it travels."""
    handling = handling_for(reader(member("town"), handler=True), item(tlp=tlp))

    assert handling.tlp == tlp.value
    assert handling.audience == audience
    assert any("art. 17(1)" in note for note in handling.notes)


def test_handling_follows_the_effective_label_and_secrecy() -> None:
    """A secret item is labelled as such and its handlers-only rule is stated (art. 18(4))."""
    handling = handling_for(reader(member("town"), handler=True), item(secret=True))

    assert any("art. 18(4)" in note for note in handling.notes)


def test_a_general_member_uses_information_only_for_itself() -> None:
    """A general member is told it may use the item only for its own security (art. 19(2))."""
    handling = handling_for(reader(member("town")), item())

    assert any("art. 19(2)" in note for note in handling.notes)


def test_a_tier_one_mutual_aid_body_is_told_both_of_its_uses() -> None:
    """A tier-one mutual-aid body may use AMBER information for customers and constituents."""
    handling = handling_for(reader(tier_one("isac", mutual_aid=True)), item(tlp=Tlp.AMBER))

    assert any("art. 24(4)" in note for note in handling.notes)
    assert any("art. 19(4)" in note for note in handling.notes)


def test_red_stops_even_a_mutual_aid_body_at_its_own_door() -> None:
    """A mutual-aid body reading RED is told it may not use it for its constituents."""
    handling = handling_for(
        reader(member("isac", mutual_aid=True), handler=True), item(tlp=Tlp.RED)
    )

    assert any("keeps this item inside" in note for note in handling.notes)
    assert not any("may use it to protect" in note for note in handling.notes)


def test_the_secretariat_uses_what_it_opens_only_for_council_affairs() -> None:
    """A secretariat reader is told of art. 19(1) and may not re-share."""
    handling = handling_for(reader(SECRETARIAT, handler=True), item())

    assert any("art. 19(1)" in note for note in handling.notes)
    assert not handling.may_reshare


@pytest.mark.parametrize(
    ("body_id", "view"),
    [("vendor", "full"), ("jpcert", "full"), ("utility", "damage_only"), ("nisc", "damage_only")],
)
def test_victim_details_are_full_only_for_the_provider_and_the_coordinator(
    body_id: str, view: str
) -> None:
    """The victim's name shows to the provider and the coordinator; others see damage only."""
    bodies = {
        "vendor": tier_one("vendor"),
        "jpcert": COORDINATOR,
        "utility": tier_two("utility"),
        "nisc": SECRETARIAT,
    }

    assert victim_view(reader(bodies[body_id]), item(provider_id="vendor")) == view
