"""Who files, sees and handles a violation report, against a plain reference model
(charter art. 29).

The reference is read straight off the rule and shares no code with `broker.tlp`:
users of active members and of the coordinator file; the reporter (while its body
is active) and the secretariat's staff see; the staff move a report forward only.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from broker.domain.model import Body, BodyKind, MemberStatus, Reader, Role
from broker.domain.reports import ReportStatus
from broker.tlp import may_handle_reports, may_report, may_see_report, report_transition

_KINDS = (BodyKind.MEMBER, BodyKind.MEMBER, BodyKind.COORDINATOR, BodyKind.SECRETARIAT)

READERS = st.builds(
    lambda user, kind, status, role: Reader(
        user_id=user, body=Body(f"b-{kind}", kind=kind, status=status), role=role
    ),
    st.sampled_from(["u0", "u1", "u2"]),
    st.sampled_from(_KINDS),
    st.sampled_from(list(MemberStatus)),
    st.sampled_from(list(Role)),
)


def ref_may_report(reader: Reader) -> bool:
    """Art. 29: a member (the coordinator is one) tells the secretariat; not the
    secretariat itself; a restricted body or an applicant does nothing but withdraw."""
    return reader.body.kind != BodyKind.SECRETARIAT and reader.body.status == MemberStatus.ACTIVE


def ref_may_see(reader: Reader, reporter: str) -> bool:
    """The secretariat's staff see all; the reporter its own while active; no one else."""
    if reader.body.kind == BodyKind.SECRETARIAT:
        return reader.role != Role.COMMITTEE
    return reader.user_id == reporter and reader.body.status == MemberStatus.ACTIVE


_RANK = {ReportStatus.RECEIVED: 0, ReportStatus.INVESTIGATING: 1, ReportStatus.CLOSED: 2}


@given(READERS)
def test_may_report_matches_the_reference(reader: Reader) -> None:
    """Art. 29: who may file a report."""
    assert bool(may_report(reader)) == ref_may_report(reader)


@given(READERS, st.sampled_from(["u0", "u1", "u2"]))
def test_may_see_report_matches_the_reference(reader: Reader, reporter: str) -> None:
    """Art. 29: only the reporter and the secretariat's staff see a report."""
    assert bool(may_see_report(reader, reporter)) == ref_may_see(reader, reporter)


@given(READERS)
def test_only_the_secretariat_staff_handle_reports(reader: Reader) -> None:
    """Art. 29: the secretariat moves reports on; its committee seats do not."""
    expected = reader.body.kind == BodyKind.SECRETARIAT and reader.role != Role.COMMITTEE
    assert bool(may_handle_reports(reader)) == expected


@given(st.sampled_from(list(ReportStatus)), st.sampled_from(list(ReportStatus)))
def test_a_report_moves_forward_only(current: ReportStatus, wanted: ReportStatus) -> None:
    """received -> investigating -> closed; a closed report stays closed."""
    expected = current != ReportStatus.CLOSED and _RANK[wanted] >= _RANK[current]
    assert bool(report_transition(current, wanted)) == expected


def test_art29_the_member_reported_on_sees_nothing() -> None:
    """The member a report names is not a party: its admin is refused like anyone else."""
    subject_admin = Reader(user_id="admin-x", body=Body("x"), role=Role.MEMBER_ADMIN)
    assert not may_see_report(subject_admin, reporter_user_id="u0")
    colleague = Reader(user_id="u9", body=Body("reporter-body"), role=Role.MEMBER_ADMIN)
    assert not may_see_report(colleague, reporter_user_id="u0")
