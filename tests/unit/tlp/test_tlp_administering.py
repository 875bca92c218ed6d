"""Who may act for a body, against a plain reference model (SPEC §3 rule 1, charter art. 8(2)).

The reference is read straight off the rule: a body's own admins act for it
unless it is restricted; the coordinator's admins set up a member until its
first admin exists, then may only revoke; they keep the council's own bodies;
nobody else administers anything. It shares no code with `broker.tlp`.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from broker.domain.model import Body, BodyKind, MemberStatus, Reader, Role
from broker.tlp import AdminAct, Reason, may_act, may_administer

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
        return reader.body.status != MemberStatus.RESTRICTED
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
def test_only_restriction_stops_acting(reader: Reader) -> None:
    """Charter art. 8(2): a restricted body may not act; every other status may (the
    departed ones cannot sign in at all)."""
    decision = may_act(reader)
    assert bool(decision) == (reader.body.status is not MemberStatus.RESTRICTED)
    if not decision:
        assert decision.reasons == (Reason.INACTIVE_MEMBER,)
