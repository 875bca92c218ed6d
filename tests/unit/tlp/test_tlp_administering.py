"""Who may act for a body, against a plain reference model (SPEC §3 rule 1, §6;
charter art. 6, 7, 8(2)).

The reference is read straight off the rule: a body's own admins act for it
while it is active, and an applicant's admins set up its users and handlers
(art. 6(6)); the coordinator's admins set up a member until its first admin
exists, then may only revoke; they keep the council's own bodies; nobody else
administers anything. Only a member's own admins give its notice of
withdrawal, from any status short of gone (art. 7). It shares no code with
`broker.tlp`.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from broker.domain.model import Body, BodyKind, MemberStatus, Reader, Role
from broker.tlp import AdminAct, Reason, may_act, may_administer, may_leave

_IDS = ("coord", "sec", "m0", "m1")
_KINDS = {"coord": BodyKind.COORDINATOR, "sec": BodyKind.SECRETARIAT}


def _body(body_id: str, status: MemberStatus) -> Body:
    return Body(body_id, kind=_KINDS.get(body_id, BodyKind.MEMBER), status=status)


BODIES = st.builds(_body, st.sampled_from(_IDS), st.sampled_from(list(MemberStatus)))
READERS = st.builds(
    lambda body, role: Reader(user_id="u", body=body, role=role), BODIES, st.sampled_from(Role)
)


def ref_may_administer(reader: Reader, target: Body, act: AdminAct, has_admin: bool) -> bool:
    """SPEC §3 rule 1 and art. 8(2), one early return per sentence."""
    if reader.role != Role.MEMBER_ADMIN:
        return False
    if reader.body.id == target.id:
        if reader.body.status == MemberStatus.ACTIVE:
            return True
        # Art. 6(6): an applicant registers its handlers on joining.
        return reader.body.status == MemberStatus.APPLICANT and act in (
            AdminAct.CREATE_USER,
            AdminAct.REVOKE_USER,
            AdminAct.ADD_HANDLER,
            AdminAct.REMOVE_HANDLER,
        )
    if reader.body.kind != BodyKind.COORDINATOR:
        return False
    if act == AdminAct.CHANGE_SETTINGS:
        return True
    if act == AdminAct.MANAGE_WEBHOOKS:
        return False
    if target.kind != BodyKind.MEMBER:
        return True
    if act in (AdminAct.REVOKE_USER, AdminAct.REMOVE_HANDLER):
        return True
    return not has_admin


@given(READERS, BODIES, st.sampled_from(AdminAct), st.booleans())
def test_may_administer_matches_the_reference(
    reader: Reader, target: Body, act: AdminAct, has_admin: bool
) -> None:
    """SPEC §3 rule 1: the policy answers as the reference, and a denial says why."""
    decision = may_administer(reader, target, act, target_has_admin=has_admin)
    assert bool(decision) == ref_may_administer(reader, target, act, has_admin)
    if not decision:
        assert decision.reasons[0] in (
            Reason.NOT_ADMIN,
            Reason.MEMBER_ADMINISTERS_ITSELF,
            Reason.INACTIVE_MEMBER,
        )


@given(READERS, BODIES, st.sampled_from([AdminAct.CREATE_USER, AdminAct.ADD_HANDLER]))
def test_the_coordinator_never_creates_inside_a_member_with_an_admin(
    reader: Reader, target: Body, act: AdminAct
) -> None:
    """SPEC §3 rule 1: no one but the member's own admins adds users or handlers to a
    member that has an admin: the coordinator is refused for that very reason."""
    decision = may_administer(reader, target, act, target_has_admin=True)
    if target.kind is BodyKind.MEMBER and reader.body.id != target.id:
        assert not decision
        if reader.body.kind is BodyKind.COORDINATOR and reader.role is Role.MEMBER_ADMIN:
            assert decision.reasons == (Reason.MEMBER_ADMINISTERS_ITSELF,)


@given(READERS)
def test_only_an_active_body_acts(reader: Reader) -> None:
    """Charter art. 8(2), 6(1): a restricted body and an applicant may not act (the
    departed ones cannot sign in at all)."""
    decision = may_act(reader)
    assert bool(decision) == (reader.body.status is MemberStatus.ACTIVE)
    if not decision:
        assert decision.reasons == (Reason.INACTIVE_MEMBER,)


def ref_may_leave(reader: Reader, target: Body) -> bool:
    """Art. 7: the member's own notice, by its admins, while it has not left."""
    return (
        reader.role == Role.MEMBER_ADMIN
        and reader.body.id == target.id
        and target.kind == BodyKind.MEMBER
        and target.status in (MemberStatus.APPLICANT, MemberStatus.ACTIVE, MemberStatus.RESTRICTED)
    )


@given(READERS, BODIES)
def test_may_leave_matches_the_reference(reader: Reader, target: Body) -> None:
    """Art. 7: only a member's own admins withdraw it, from any status short of gone."""
    decision = may_leave(reader, target)
    assert bool(decision) == ref_may_leave(reader, target)
    if not decision:
        assert len(decision.reasons) == 1


def test_art7_a_restricted_member_may_still_withdraw() -> None:
    """Art. 8(2) leaves a restricted member its audit and its withdrawal: may_leave says yes
    where may_act says no."""
    body = Body("m0", status=MemberStatus.RESTRICTED)
    admin = Reader(user_id="u", body=body, role=Role.MEMBER_ADMIN)
    assert not may_act(admin)
    assert may_leave(admin, body)


def test_art7_the_coordinator_never_withdraws_a_member() -> None:
    """The notice is the member's: the coordinator's admin is refused (it may not act for
    a member, SPEC §3 rule 1; expulsion is the committee's, art. 8(1))."""
    coordinator = Reader(
        user_id="u", body=_body("coord", MemberStatus.ACTIVE), role=Role.MEMBER_ADMIN
    )
    assert may_leave(coordinator, _body("m0", MemberStatus.ACTIVE)).reasons == (Reason.NOT_ADMIN,)
    assert may_leave(coordinator, coordinator.body).reasons == (Reason.NOT_A_MEMBER,)
