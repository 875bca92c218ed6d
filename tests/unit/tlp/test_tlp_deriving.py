"""Deriving and consent (charter art. 17(3), TLP 2.0 RED) beyond the rule tests."""

from __future__ import annotations

from tlp_builders import COORDINATOR, ceiling, item, member, reader, scope, tier_one, tier_two

from broker.domain.model import Group, Tlp
from broker.tlp import Reason, constraints_for_derived, may_derive, needs_consent


def test_constraints_copy_each_foreign_source_and_drop_repeats() -> None:
    """Each foreign source contributes its own ceiling once, even when listed twice."""
    source = item(item_id="s", provider_id="vendor-a", tlp=Tlp.AMBER, secret=True)

    assert constraints_for_derived("vendor-b", [source, source]) == (ceiling(source),)


def test_constraints_of_an_own_source_are_still_carried() -> None:
    """Deriving from one's own derived item keeps the foreign ceilings it carries."""
    foreign = item(item_id="foreign", provider_id="vendor-a")
    own = item(item_id="own", provider_id="vendor-b", constraints=(ceiling(foreign),))

    assert constraints_for_derived("vendor-b", [own]) == (ceiling(foreign),)


def test_a_ceiling_of_the_deriving_provider_itself_is_dropped_from_a_source() -> None:
    """A ceiling that came from the deriving provider's own item binds it no longer."""
    mine = item(item_id="mine", provider_id="vendor-b")
    theirs = item(item_id="theirs", provider_id="vendor-a", constraints=(ceiling(mine),))

    assert constraints_for_derived("vendor-b", [theirs]) == (ceiling(theirs),)


def test_needs_consent_is_empty_when_the_ceiling_clips_nothing() -> None:
    """A derived item asking no more than its source needs no consent."""
    source = item(item_id="s", provider_id="vendor-a", item_scope=scope(Group.TASK_FORCE))
    derived = item(
        provider_id="vendor-b",
        item_scope=scope(Group.TIER_TWO),
        constraints=(ceiling(source),),
    )

    assert needs_consent(derived, [tier_two("utility"), member("town"), COORDINATOR]) == set()


def test_needs_consent_when_the_item_asks_for_less_secrecy_than_its_source() -> None:
    """Dropping a source's secrecy needs its provider's consent, whatever the audience."""
    source = item(item_id="s", provider_id="vendor-a", secret=True)
    derived = item(provider_id="vendor-b", secret=False, constraints=(ceiling(source),))

    assert needs_consent(derived, []) == {"vendor-a"}


def test_needs_consent_names_each_clipping_provider_once() -> None:
    """Only providers whose ceilings clip are named, each once."""
    narrow_a = item(item_id="a1", provider_id="vendor-a", item_scope=scope(Group.TIER_ONE_GROUP))
    narrow_a2 = item(item_id="a2", provider_id="vendor-a", item_scope=scope(Group.TIER_TWO))
    wide_c = item(item_id="c", provider_id="vendor-c", item_scope=scope(Group.ALL_MEMBERS))
    derived = item(
        provider_id="vendor-b",
        item_scope=scope(Group.TASK_FORCE),
        constraints=(ceiling(narrow_a), ceiling(narrow_a2), ceiling(wide_c)),
    )

    assert needs_consent(derived, [tier_one("vendor-x"), tier_two("utility")]) == {"vendor-a"}


def test_red_ceiling_from_another_provider_forbids_resharing_even_by_the_items_provider() -> None:
    """RED information may be passed on only by the body that provided it (TLP 2.0)."""
    red = item(item_id="red", provider_id="vendor-a", tlp=Tlp.RED)
    carrier = item(provider_id="vendor-b", tlp=Tlp.AMBER, constraints=(ceiling(red),))

    assert may_derive(reader(tier_one("vendor-b"), handler=True), carrier).reasons == (
        Reason.RED_NOT_RESHAREABLE,
    )
    assert may_derive(reader(tier_one("vendor-a"), handler=True), carrier)


def test_cannot_read_source_comes_with_the_reasons_the_read_failed() -> None:
    """A refused derivation names cannot_read_source first, then why the read failed."""
    secret = item(secret=True)

    assert may_derive(reader(tier_one("vendor-b")), secret).reasons == (
        Reason.CANNOT_READ_SOURCE,
        Reason.NOT_HANDLER,
    )
