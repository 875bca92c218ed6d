"""Who may submit which item, and the provider-only actions (art. 15, 16, 17, 18)."""

from __future__ import annotations

import pytest
from tlp_builders import COORDINATOR, SECRETARIAT, item, member, reader, scope, tier_one, tier_two

from broker.domain.model import Body, Group, ItemKind, ItemStatus, MemberStatus
from broker.tlp import Reason, may_consent, may_submit


@pytest.mark.parametrize("kind", list(ItemKind))
def test_the_secretariat_submits_only_notices(kind: ItemKind) -> None:
    """The secretariat may submit a notice and nothing else (art. 14(3), 16(2))."""
    decision = may_submit(reader(SECRETARIAT), item(provider_id="nisc", kind=kind), {})

    assert decision.allowed is (kind is ItemKind.NOTICE)
    if not decision:
        assert Reason.KIND_NOT_ALLOWED in decision.reasons


@pytest.mark.parametrize(
    ("body", "allowed"),
    [(COORDINATOR, True), (tier_one("jpcert"), False), (member("jpcert"), False)],
)
def test_early_warnings_come_only_from_the_coordinator(body: Body, allowed: bool) -> None:
    """Only the coordinator submits early warnings (art. 15)."""
    warning = item(provider_id="jpcert", kind=ItemKind.EARLY_WARNING)

    decision = may_submit(reader(body), warning, {})

    assert decision.allowed is allowed
    assert allowed or decision.reasons == (Reason.KIND_NOT_ALLOWED,)


@pytest.mark.parametrize("body", [COORDINATOR, tier_one("town"), member("town")])
def test_consultations_never_travel_as_items(body: Body) -> None:
    """A consultation is refused on the item path: it has its own private path (art. 16(3))."""
    consultation = item(provider_id=body.id, kind=ItemKind.CONSULTATION)

    assert may_submit(reader(body), consultation, {}).reasons == (Reason.KIND_NOT_ALLOWED,)


@pytest.mark.parametrize(
    ("body", "allowed"),
    [
        (COORDINATOR, True),
        (tier_one("author"), True),
        (tier_two("author"), False),
        (member("author"), False),
    ],
)
def test_analysis_comes_only_from_the_tier_one_group(body: Body, allowed: bool) -> None:
    """Only tier-one members and the coordinator submit analysis (TF Rules art. 6)."""
    analysis = item(
        provider_id=body.id, kind=ItemKind.ANALYSIS, item_scope=scope(Group.TIER_ONE_GROUP)
    )

    decision = may_submit(reader(body), analysis, {})

    assert decision.allowed is allowed
    assert allowed or decision.reasons == (Reason.KIND_NOT_ALLOWED,)


def test_analysis_may_name_the_coordinator_but_not_a_general_member() -> None:
    """An analysis scope may name the coordinator; naming a general member sends it too far."""
    bodies = {"jpcert": COORDINATOR, "town": member("town")}
    author = reader(tier_one("vendor"))

    to_coordinator = item(kind=ItemKind.ANALYSIS, item_scope=scope(members=("jpcert",)))
    to_town = item(kind=ItemKind.ANALYSIS, item_scope=scope(members=("town",)))

    assert may_submit(author, to_coordinator, bodies)
    assert may_submit(author, to_town, bodies).reasons == (Reason.ANALYSIS_STAYS_IN_TIER_ONE,)


def test_a_user_submits_only_for_its_own_body() -> None:
    """An item whose provider is another body cannot be submitted by this user."""
    assert may_submit(reader(tier_one("vendor")), item(provider_id="other"), {}).reasons == (
        Reason.NOT_PROVIDER,
    )


def test_countermeasures_and_notices_may_come_from_any_active_member() -> None:
    """Any active member may submit countermeasures and notices."""
    for kind in (ItemKind.COUNTERMEASURE, ItemKind.NOTICE):
        assert may_submit(reader(member("town")), item(provider_id="town", kind=kind), {})


def test_only_the_sources_provider_consents_to_a_wider_reach() -> None:
    """Consent to lift a ceiling is the source provider's, while it is active (art. 17(3))."""
    source = item(provider_id="vendor", status=ItemStatus.WITHDRAWN)

    assert may_consent(reader(tier_one("vendor")), source)
    assert may_consent(reader(COORDINATOR), source).reasons == (Reason.NOT_PROVIDER,)
    assert may_consent(
        reader(tier_one("vendor", status=MemberStatus.EXPELLED)), source
    ).reasons == (Reason.INACTIVE_MEMBER,)
