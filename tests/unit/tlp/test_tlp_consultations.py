"""Private consultations: who may ask, see, reply, reveal and learn the asker (art. 16(3)).

SPEC §4: any member may consult the coordinator and the tier-one group
privately; the consulting member's identity is known only to the coordinator
unless it chooses to reveal it; answers come back privately.
"""

from __future__ import annotations

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from tlp_builders import (
    COORDINATOR,
    COORDINATOR_ID,
    SECRETARIAT,
    SECRETARIAT_ID,
    member,
    reader,
    readers_drawn_from,
    tier_one,
    tier_two,
)

from broker.domain.model import Body, BodyKind, MemberStatus, Reader, Tier
from broker.tlp import Decision, Reason
from broker.tlp.consultations import (
    ConsultationRole,
    consultation_role,
    is_addressee,
    may_consult,
    may_reply,
    may_reveal,
    may_see_consultation,
    shows_consulter,
)

INACTIVE = [s for s in MemberStatus if s is not MemberStatus.ACTIVE]

# --- who may ask ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [member("town"), tier_two("utility"), tier_one("vendor"), COORDINATOR],
    ids=["general", "tier_two", "tier_one", "coordinator"],
)
def test_art16_3_any_active_member_may_consult(body: Body) -> None:
    """Every active member, whatever its class, and the coordinator may open a consultation."""
    assert may_consult(reader(body)) == Decision.allow()


def test_art14_3_the_secretariat_does_not_consult() -> None:
    """The secretariat runs general affairs and asks the task force nothing (art. 14(3))."""
    assert may_consult(reader(SECRETARIAT, handler=True)) == Decision.deny(
        Reason.SECRETARIAT_NO_CONTENT
    )


@pytest.mark.parametrize("status", INACTIVE)
def test_art7_art8_an_inactive_member_may_not_consult(status: MemberStatus) -> None:
    """An applicant, restricted, withdrawn or expelled member takes part in nothing (art. 7, 8)."""
    assert may_consult(reader(tier_two("utility", status=status))) == Decision.deny(
        Reason.INACTIVE_MEMBER
    )


def test_art7_art14_3_an_inactive_secretariat_is_refused_for_both_reasons() -> None:
    """A refusal to consult lists every failing rule, the secretariat's first."""
    gone = Body(SECRETARIAT_ID, kind=BodyKind.SECRETARIAT, status=MemberStatus.RESTRICTED)

    assert may_consult(reader(gone)).reasons == (
        Reason.SECRETARIAT_NO_CONTENT,
        Reason.INACTIVE_MEMBER,
    )


# --- who sees a consultation, and as whom ---------------------------------------------


@pytest.mark.parametrize(
    "body",
    [member("town"), tier_two("town"), tier_one("town")],
    ids=["general", "tier_two", "tier_one"],
)
def test_art16_3_the_consulting_member_keeps_its_own_thread(body: Body) -> None:
    """Every user of the asking member, handler or not, sees its thread as the consulter."""
    for user in (reader(body), reader(body, handler=True, user_id="user-2")):
        assert consultation_role(user, "town") is ConsultationRole.CONSULTER
        assert may_see_consultation(user, "town")


def test_art16_3_the_coordinator_and_tier_one_are_the_addressees() -> None:
    """The coordinator and every active tier-one member see another member's consultation."""
    assert consultation_role(reader(COORDINATOR), "town") is ConsultationRole.COORDINATOR
    assert consultation_role(reader(tier_one("vendor")), "town") is ConsultationRole.TIER_ONE
    assert may_see_consultation(reader(COORDINATOR), "town")
    assert may_see_consultation(reader(tier_one("vendor")), "town")


@pytest.mark.parametrize(
    "body",
    [member("other"), tier_two("utility")],
    ids=["general", "tier_two"],
)
def test_art16_3_no_one_outside_the_tier_one_group_sees_anothers_consultation(
    body: Body,
) -> None:
    """General and tier-two members never see a consultation they did not open."""
    assert consultation_role(reader(body, handler=True), "town") is None
    assert may_see_consultation(reader(body, handler=True), "town") == Decision.deny(
        Reason.CONSULTATION_STAYS_IN_TIER_ONE
    )


@pytest.mark.parametrize("consulter_id", ["town", SECRETARIAT_ID])
def test_art14_3_the_secretariat_never_sees_a_consultation(consulter_id: str) -> None:
    """The secretariat sees no consultation, not even one filed under its own id (art. 14(3))."""
    user = reader(SECRETARIAT, handler=True)

    assert consultation_role(user, consulter_id) is None
    assert may_see_consultation(user, consulter_id) == Decision.deny(Reason.SECRETARIAT_NO_CONTENT)


@pytest.mark.parametrize("status", INACTIVE)
def test_art8_2_an_inactive_addressee_or_consulter_loses_the_thread(status: MemberStatus) -> None:
    """From the decision on, an inactive tier-one member, coordinator or consulter sees nothing."""
    gone = [
        tier_one("vendor", status=status),
        Body(COORDINATOR_ID, kind=BodyKind.COORDINATOR, status=status),
        member("town", status=status),
    ]

    for body in gone:
        assert consultation_role(reader(body, handler=True), "town") is None
        assert may_see_consultation(reader(body, handler=True), "town") == Decision.deny(
            Reason.INACTIVE_MEMBER
        )


def test_art7_art14_3_an_inactive_secretariat_is_refused_a_thread_for_both_reasons() -> None:
    """A refusal to see a consultation names the secretariat rule, then inactivity."""
    gone = Body(SECRETARIAT_ID, kind=BodyKind.SECRETARIAT, status=MemberStatus.EXPELLED)

    assert may_see_consultation(reader(gone), "town").reasons == (
        Reason.SECRETARIAT_NO_CONTENT,
        Reason.INACTIVE_MEMBER,
    )


def test_art16_3_the_coordinator_asking_the_tier_one_group_is_the_consulter() -> None:
    """When the coordinator asks, its users are the consulter and tier one does not learn it."""
    assert consultation_role(reader(COORDINATOR), COORDINATOR_ID) is ConsultationRole.CONSULTER
    role = consultation_role(reader(tier_one("vendor")), COORDINATOR_ID)

    assert role is ConsultationRole.TIER_ONE
    assert not shows_consulter(role, revealed=False)


@pytest.mark.parametrize(
    ("body", "addressee"),
    [
        (COORDINATOR, True),
        (tier_one("vendor"), True),
        (tier_two("utility"), False),
        (member("town"), False),
        (SECRETARIAT, False),
        (Body("odd", kind=BodyKind.SECRETARIAT, tier=Tier.TIER_ONE), False),
        (tier_one("vendor", status=MemberStatus.RESTRICTED), False),
        (Body(COORDINATOR_ID, kind=BodyKind.COORDINATOR, status=MemberStatus.WITHDRAWN), False),
    ],
    ids=[
        "coordinator",
        "tier_one",
        "tier_two",
        "general",
        "secretariat",
        "secretariat_with_a_tier",
        "restricted_tier_one",
        "inactive_coordinator",
    ],
)
def test_art16_3_addressees_see_every_consultation_and_others_at_most_their_own(
    body: Body, addressee: bool
) -> None:
    """Only the active coordinator and tier-one members see consultations they did not open."""
    user = reader(body)

    assert is_addressee(user) is addressee
    assert (consultation_role(user, "someone-else") is not None) is addressee


# --- replying ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        COORDINATOR,
        tier_one("vendor"),
        member("town"),
        member("other"),
        tier_two("utility"),
        SECRETARIAT,
        tier_one("gone", status=MemberStatus.RESTRICTED),
    ],
    ids=lambda body: body.id,
)
def test_art16_3_exactly_those_who_see_a_thread_may_write_in_it(body: Body) -> None:
    """Addressees answer, the consulter follows up; nobody else writes, for the same reasons."""
    user = reader(body)

    assert may_reply(user, "town") == may_see_consultation(user, "town")


# --- revealing who asked ----------------------------------------------------------------


def test_art16_3_only_the_consulting_member_reveals_its_identity() -> None:
    """The consulter may unmask itself; the coordinator and tier one, who see it, may not."""
    assert may_reveal(reader(member("town")), "town") == Decision.allow()
    assert may_reveal(reader(COORDINATOR, handler=True), "town") == Decision.deny(
        Reason.NOT_PROVIDER
    )
    assert may_reveal(reader(tier_one("vendor")), "town") == Decision.deny(Reason.NOT_PROVIDER)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (tier_two("utility"), Reason.CONSULTATION_STAYS_IN_TIER_ONE),
        (SECRETARIAT, Reason.SECRETARIAT_NO_CONTENT),
        (member("town", status=MemberStatus.RESTRICTED), Reason.INACTIVE_MEMBER),
    ],
    ids=["outsider", "secretariat", "restricted_consulter"],
)
def test_art16_3_one_who_may_not_see_a_thread_is_refused_a_reveal_as_if_it_were_absent(
    body: Body, reason: Reason
) -> None:
    """A reveal by someone who cannot see the thread fails as seeing it does, not as 'not yours'."""
    assert may_reveal(reader(body), "town") == Decision.deny(reason)


@pytest.mark.parametrize(
    ("role", "shown"),
    [
        (ConsultationRole.COORDINATOR, True),
        (ConsultationRole.CONSULTER, True),
        (ConsultationRole.TIER_ONE, False),
    ],
)
def test_art16_3_the_consulter_is_known_only_to_the_coordinator_until_revealed(
    role: ConsultationRole, shown: bool
) -> None:
    """Before a reveal, only the coordinator and the asking member itself learn who asked."""
    assert shows_consulter(role, revealed=False) is shown


@pytest.mark.parametrize("role", list(ConsultationRole))
def test_art16_3_once_revealed_every_addressee_learns_who_asked(role: ConsultationRole) -> None:
    """After the consulting member reveals itself, every reader of the thread sees who asked."""
    assert shows_consulter(role, revealed=True)


# --- against a plain reference model ------------------------------------------------------


def ref_role(user: Reader, consulter_id: str) -> str | None:
    """Reference: the asking member's users, else the coordinator, else active tier one."""
    body = user.body
    if body.kind == BodyKind.SECRETARIAT:
        return None  # art. 14(3): no contents, whoever asked
    if body.status != MemberStatus.ACTIVE:
        return None  # art. 7, 8(2): inactive bodies take part in nothing
    if body.id == consulter_id:
        return "consulter"
    if body.kind == BodyKind.COORDINATOR:
        return "coordinator"
    if body.tier == Tier.TIER_ONE:
        return "tier_one"
    return None


def ref_refusals(user: Reader) -> list[Reason]:
    """Reference: what keeps `user` out of every consultation, secretariat first."""
    refusals: list[Reason] = []
    if user.body.kind == BodyKind.SECRETARIAT:
        refusals.append(Reason.SECRETARIAT_NO_CONTENT)
    if user.body.status != MemberStatus.ACTIVE:
        refusals.append(Reason.INACTIVE_MEMBER)
    return refusals


def ref_see(user: Reader, consulter_id: str) -> tuple[Reason, ...]:
    """Reference: why `user` may not see the thread; empty when it may."""
    if ref_role(user, consulter_id) is not None:
        return ()
    return tuple(ref_refusals(user)) or (Reason.CONSULTATION_STAYS_IN_TIER_ONE,)


def ref_reveal(user: Reader, consulter_id: str) -> tuple[Reason, ...]:
    """Reference: only the consulter reveals; others who see it are not the provider."""
    refused = ref_see(user, consulter_id)
    if refused:
        return refused
    if ref_role(user, consulter_id) != "consulter":
        return (Reason.NOT_PROVIDER,)
    return ()


def ref_addressee(user: Reader) -> bool:
    """Reference: the active coordinator and active tier-one members are asked every time."""
    body = user.body
    if body.status != MemberStatus.ACTIVE:
        return False
    if body.kind == BodyKind.COORDINATOR:
        return True
    return body.kind == BodyKind.MEMBER and body.tier == Tier.TIER_ONE


def ref_shows(role: str, revealed: bool) -> bool:
    """Reference: the coordinator and the asker know; tier one only after a reveal."""
    if revealed:
        return True
    return role in ("coordinator", "consulter")


BODY_IDS = (COORDINATOR_ID, SECRETARIAT_ID, "m0", "m1")
CONSULTER_IDS = (*BODY_IDS, "m2")


@settings(deadline=None, database=None)  # examples: the dev or ci profile (tests/conftest.py)
@given(
    user=readers_drawn_from(BODY_IDS),
    consulter_id=st.sampled_from(CONSULTER_IDS),
    revealed=st.booleans(),
)
def test_consultation_policy_agrees_with_the_reference_model(
    user: Reader, consulter_id: str, revealed: bool
) -> None:
    """Every consultation decision agrees with the naive art. 16(3) model, reasons included."""
    role = consultation_role(user, consulter_id)
    expected_role = ref_role(user, consulter_id)
    event(f"role: {expected_role}")
    assert (role.value if role is not None else None) == expected_role

    assert may_consult(user).reasons == tuple(ref_refusals(user))
    assert may_see_consultation(user, consulter_id).reasons == ref_see(user, consulter_id)
    assert may_reply(user, consulter_id).reasons == ref_see(user, consulter_id)
    assert may_reveal(user, consulter_id).reasons == ref_reveal(user, consulter_id)

    # The listing (services.consultations) shows a non-addressee only its own member's.
    assert is_addressee(user) is ref_addressee(user)
    if not ref_addressee(user) and role is not None:
        assert user.body.id == consulter_id

    if role is not None:
        assert shows_consulter(role, revealed) is ref_shows(expected_role or "", revealed)
        # SPEC §4: a tier-one member never learns who asked before the reveal.
        if not revealed and user.body.id != consulter_id:
            assert shows_consulter(role, revealed) is (user.body.kind == BodyKind.COORDINATOR)
