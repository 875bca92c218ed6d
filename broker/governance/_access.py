"""Who may see a resolution and who may act on it (charter art. 10, 11, 27).

Pure: the caller (`Reader`) and the resolution's facts in, a decision out.
Every edge asks these functions; a resolution a caller may not see is the
same 404 as anything else (SPEC §6 "Confidentiality").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from broker.domain.model import BodyKind, MemberStatus, Reader, Role
from broker.domain.resolutions import (
    ORDINARY_KINDS,
    ResolutionBody,
    ResolutionKind,
    ResolutionStatus,
)

__all__ = [
    "AccessReason",
    "Permission",
    "ResolutionFacts",
    "View",
    "ViewDecision",
    "is_committee_seat",
    "may_close",
    "may_create",
    "may_publish",
    "may_recuse",
    "may_refuse",
    "may_vote",
    "resolution_view",
]


class View(StrEnum):
    """How much of a resolution a caller sees."""

    FULL = "full"  # committee, secretariat, coordinator: text, votes, recusals (art. 27)
    VOTER = "voter"  # an assembly member: the matter and the count, never how each voted
    PUBLISHED = "published"  # the published record: title, outcome, tally, recused seats
    OUTCOME = "outcome"  # the member it is about, once decided: title, outcome, tally
    NONE = "none"  # not even that it exists (404)


class AccessReason(StrEnum):
    """Why a caller sees (or may do) what it does."""

    COUNCIL_OFFICE = "committee_secretariat_or_coordinator"  # art. 27
    ELECTORATE = "assembly_electorate"  # art. 10(4)
    SUBJECT_DECIDED = "subject_after_decision"
    PUBLISHED = "published_to_active_members"
    NOT_DECIDED = "not_decided"  # a suspected leaker must not be warned
    NOT_PARTY = "not_a_party"
    INACTIVE_MEMBER = "inactive_member"  # rule 7
    NOT_SECRETARIAT = "not_secretariat"
    NOT_A_SEAT = "not_a_committee_seat"
    NOT_IN_ELECTORATE = "not_in_electorate"
    NOT_MEMBER_ADMIN = "not_member_admin"
    NOT_CHAIR = "not_chair"  # art. 11(9)
    NOT_ORDINARY = "not_an_ordinary_resolution"  # art. 11(9) refuses 11(6) decisions only
    ASSEMBLY = "assembly_resolution"
    CLOSED = "closed"
    NOT_CLOSED = "not_closed"
    ALLOWED = "allowed"


@dataclass(frozen=True, slots=True)
class ResolutionFacts:
    """What the rules need to know of a resolution: never its text."""

    kind: ResolutionKind
    body: ResolutionBody
    status: ResolutionStatus
    subject_member_id: str | None = None
    target_member_ids: frozenset[str] = frozenset()
    seats: frozenset[str] = frozenset()
    electorate: frozenset[str] = frozenset()
    published: bool = False


@dataclass(frozen=True, slots=True)
class ViewDecision:
    """How much a caller sees, and why."""

    view: View
    reason: AccessReason

    def __bool__(self) -> bool:
        return self.view is not View.NONE


@dataclass(frozen=True, slots=True)
class Permission:
    """Whether a caller may do an act, and why (a denial names its reason)."""

    allowed: bool
    reason: AccessReason

    def __bool__(self) -> bool:
        return self.allowed


_ALLOW = Permission(True, AccessReason.ALLOWED)


def _deny(reason: AccessReason) -> Permission:
    return Permission(False, reason)


def is_committee_seat(reader: Reader) -> bool:
    """A steering-committee seat: a `committee` user of the secretariat (SPEC §6, art. 11)."""
    return reader.body.kind is BodyKind.SECRETARIAT and reader.role is Role.COMMITTEE


def resolution_view(reader: Reader, facts: ResolutionFacts) -> ViewDecision:
    """Art. 27: the committee, the secretariat and the coordinator see everything;
    the assembly's electorate sees its matter and count; the member a resolution is
    about (or asks information of) sees nothing until it is decided, then the
    outcome; once published, every active member sees the record."""
    if reader.body.kind in (BodyKind.SECRETARIAT, BodyKind.COORDINATOR):
        return ViewDecision(View.FULL, AccessReason.COUNCIL_OFFICE)
    body_id = reader.body.id
    decided = facts.status is not ResolutionStatus.OPEN
    party = body_id == facts.subject_member_id or body_id in facts.target_member_ids
    active = reader.body.status is MemberStatus.ACTIVE
    if facts.body is ResolutionBody.ASSEMBLY and body_id in facts.electorate and active:
        return ViewDecision(View.VOTER, AccessReason.ELECTORATE)
    if facts.published and active:
        return ViewDecision(View.PUBLISHED, AccessReason.PUBLISHED)
    if party:
        # The member it is about learns the outcome whatever its status now
        # (a restricted member is told why it is cut off), never before.
        if decided:
            return ViewDecision(View.OUTCOME, AccessReason.SUBJECT_DECIDED)
        return ViewDecision(View.NONE, AccessReason.NOT_DECIDED)
    if facts.published:
        return ViewDecision(View.NONE, AccessReason.INACTIVE_MEMBER)
    return ViewDecision(View.NONE, AccessReason.NOT_PARTY)


def may_create(reader: Reader) -> Permission:
    """The secretariat's users (the chair among them) put matters to a vote (SPEC §6)."""
    if reader.body.kind is not BodyKind.SECRETARIAT:
        return _deny(AccessReason.NOT_SECRETARIAT)
    return _ALLOW


def may_vote(reader: Reader, facts: ResolutionFacts) -> Permission:
    """A committee seat of the resolution (committee); a member's admin of the
    electorate, or a committee seat stating the committee's view for the proviso
    of art. 10(6) (assembly). Closed resolutions take no votes."""
    if facts.body is ResolutionBody.COMMITTEE:
        if not (is_committee_seat(reader) and reader.user_id in facts.seats):
            return _deny(AccessReason.NOT_A_SEAT)
    elif is_committee_seat(reader):
        if reader.user_id not in facts.seats:
            return _deny(AccessReason.NOT_A_SEAT)  # a seat since the vote opened
    else:
        if reader.body.kind is not BodyKind.MEMBER or reader.body.id not in facts.electorate:
            return _deny(AccessReason.NOT_IN_ELECTORATE)
        if reader.role is not Role.MEMBER_ADMIN:
            return _deny(AccessReason.NOT_MEMBER_ADMIN)
        if reader.body.status is not MemberStatus.ACTIVE:
            return _deny(AccessReason.INACTIVE_MEMBER)
    if facts.status is not ResolutionStatus.OPEN:
        return _deny(AccessReason.CLOSED)
    return _ALLOW


def may_recuse(reader: Reader, facts: ResolutionFacts) -> Permission:
    """Art. 11(6): a committee seat with a special interest declares it."""
    if facts.body is ResolutionBody.ASSEMBLY:
        return _deny(AccessReason.ASSEMBLY)
    if not (is_committee_seat(reader) and reader.user_id in facts.seats):
        return _deny(AccessReason.NOT_A_SEAT)
    if facts.status is not ResolutionStatus.OPEN:
        return _deny(AccessReason.CLOSED)
    return _ALLOW


def may_refuse(reader: Reader, facts: ResolutionFacts, *, is_chair: bool) -> Permission:
    """Art. 11(9): the chair may refuse a decision under 11(6) (an ordinary
    resolution), while it is open; not a restriction or expulsion (art. 8), nor
    the assembly's."""
    if not (is_committee_seat(reader) and is_chair):
        return _deny(AccessReason.NOT_CHAIR)
    if facts.kind not in ORDINARY_KINDS:
        return _deny(AccessReason.NOT_ORDINARY)
    if facts.status is not ResolutionStatus.OPEN:
        return _deny(AccessReason.CLOSED)
    return _ALLOW


def may_close(reader: Reader, facts: ResolutionFacts) -> Permission:
    """The secretariat (the chair is one of its users) closes a resolution now."""
    if reader.body.kind is not BodyKind.SECRETARIAT:
        return _deny(AccessReason.NOT_SECRETARIAT)
    if facts.status is not ResolutionStatus.OPEN:
        return _deny(AccessReason.CLOSED)
    return _ALLOW


def may_publish(reader: Reader, facts: ResolutionFacts) -> Permission:
    """The secretariat publishes a decided resolution's record."""
    if reader.body.kind is not BodyKind.SECRETARIAT:
        return _deny(AccessReason.NOT_SECRETARIAT)
    if facts.status is ResolutionStatus.OPEN:
        return _deny(AccessReason.NOT_CLOSED)
    return _ALLOW
