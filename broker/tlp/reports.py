"""Who files, sees and handles a violation report (charter art. 29).

Pure: no IO, no clock. Art. 29: a member that believes information handled
in the council was leaked, shared beyond its scope or misused may tell the
secretariat (NISC). So:

- any user of an active member, or of the coordinator (itself a member of
  the council, art. 14(2)), may report; the secretariat receives reports and
  files none; a restricted body or an applicant does nothing but withdraw
  (art. 8(2), 6(1));
- a report is seen by the user who filed it and by the secretariat's staff —
  nobody else: not the reporter's colleagues (a report may concern its own
  organisation), not the coordinator, not the committee's seats (a seat may
  sit for the very body reported on; the committee learns of a report
  through the resolution that cites it), and never the member reported on,
  which cannot see reports at all and so never learns who reported;
- only the secretariat's staff move a report on, forward only:
  received -> investigating -> closed (a note may be added at any step but
  the last; a closed report stays closed).
"""

from __future__ import annotations

from broker.domain.model import BodyKind, MemberStatus, Reader, Role
from broker.domain.reports import ReportStatus
from broker.tlp._decision import Decision, Reason

__all__ = ["may_handle_reports", "may_report", "may_see_report", "report_transition"]

_ORDER = (ReportStatus.RECEIVED, ReportStatus.INVESTIGATING, ReportStatus.CLOSED)


def _is_secretariat_staff(reader: Reader) -> bool:
    # Committee seats are users of the secretariat's body (SPEC §6), but art. 29
    # names the secretariat (NISC), not the committee.
    return reader.body.kind is BodyKind.SECRETARIAT and reader.role is not Role.COMMITTEE


def may_report(reader: Reader) -> Decision:
    """Whether `reader` may file a violation report (art. 29)."""
    if reader.body.kind is BodyKind.SECRETARIAT:
        return Decision.deny(Reason.NOT_A_MEMBER)
    if reader.body.status is not MemberStatus.ACTIVE:
        return Decision.deny(Reason.INACTIVE_MEMBER)
    return Decision.allow()


def may_see_report(reader: Reader, reporter_user_id: str) -> Decision:
    """Whether `reader` may see the report filed by the user `reporter_user_id`.

    The same answer whatever the report says or names: the member a report
    is about is not a party to it.
    """
    if reader.body.kind is BodyKind.SECRETARIAT:
        # The secretariat files no reports: its staff see all, its seats none.
        return may_handle_reports(reader)
    if reader.user_id != reporter_user_id:
        return Decision.deny(Reason.NOT_REPORTER)
    if reader.body.status is not MemberStatus.ACTIVE:
        return Decision.deny(Reason.INACTIVE_MEMBER)  # rule 7: restricted bodies see nothing
    return Decision.allow()


def may_handle_reports(reader: Reader) -> Decision:
    """Whether `reader` may move reports on (the secretariat's staff, art. 29)."""
    if _is_secretariat_staff(reader):
        return Decision.allow()
    return Decision.deny(Reason.NOT_SECRETARIAT_STAFF)


def report_transition(current: ReportStatus, wanted: ReportStatus) -> Decision:
    """Whether a report in `current` may be set to `wanted` (staying put adds a note)."""
    if current is ReportStatus.CLOSED:
        return Decision.deny(Reason.REPORT_CLOSED)
    if _ORDER.index(wanted) < _ORDER.index(current):
        return Decision.deny(Reason.REPORT_STATUS_BACKWARDS)
    return Decision.allow()
