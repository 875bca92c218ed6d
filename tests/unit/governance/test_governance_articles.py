"""One named test per charter article the governance rules apply (SPEC §6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from broker.domain.model import Body, BodyKind, MemberStatus, Reader, Role
from broker.domain.resolutions import ResolutionBody, ResolutionKind, ResolutionStatus, Vote
from broker.governance import (
    AccessReason,
    AssemblyBallot,
    CommitteeBallot,
    Outcome,
    ResolutionFacts,
    RuleReason,
    View,
    assembly_rule,
    due_to_close,
    may_close,
    may_create,
    may_publish,
    may_recuse,
    may_refuse,
    may_vote,
    ordinary_rule,
    resolution_view,
    settled_early,
    three_quarters_rule,
    unanimity_rule,
)

Y, N, A = Vote.YES, Vote.NO, Vote.ABSTAIN
SEATS = frozenset({"s1", "s2", "s3", "s4"})


def ballot(votes: dict[str, Vote], recused: frozenset[str] = frozenset()) -> CommitteeBallot:
    return CommitteeBallot(seats=SEATS, votes=votes, recused=recused)


def test_art_11_6_quorum_counts_recusals_and_majority_counts_entitled_votes() -> None:
    """Two of four seats is no quorum; a recusal takes part but has no vote."""
    assert ordinary_rule(ballot({"s1": Y, "s2": Y})).outcome is Outcome.NO_QUORUM
    passed = ordinary_rule(ballot({"s1": Y, "s2": Y, "s3": N}))
    assert passed.outcome is Outcome.PASSED and RuleReason.MAJORITY in passed.reasons
    recusal = ordinary_rule(ballot({"s1": Y, "s2": N, "s3": Y}, frozenset({"s3"})))
    assert recusal.outcome is Outcome.FAILED  # s3's yes does not count: 1 of 2 is no majority
    assert (recusal.tally.recused, recusal.tally.entitled, recusal.tally.yes) == (1, 3, 1)
    abstained = ordinary_rule(ballot({"s1": Y, "s2": A, "s3": A}))
    assert abstained.outcome is Outcome.FAILED  # abstentions are votes cast


def test_art_8_2_three_quarters_of_entitled_seats_not_of_votes_cast() -> None:
    """Three yes of four seats passes; two yes and nothing else does not, although
    every vote cast was yes; a recusal lowers the seats entitled."""
    assert three_quarters_rule(ballot({"s1": Y, "s2": Y, "s3": Y})).passed
    assert three_quarters_rule(ballot({"s1": Y, "s2": Y, "s3": N})).outcome is Outcome.FAILED
    assert three_quarters_rule(ballot({"s1": Y, "s2": Y})).outcome is Outcome.NO_QUORUM
    recused = ballot({"s1": Y, "s2": Y, "s3": Y}, frozenset({"s4"}))
    assert three_quarters_rule(recused).passed and recused.recused == {"s4"}
    assert not three_quarters_rule(ballot({}, SEATS)).passed  # nobody entitled


def test_art_8_2_restriction_is_decided_the_moment_three_quarters_is_reached() -> None:
    """A restriction settles before it closes; other kinds wait for the close."""
    early = settled_early(ResolutionKind.RESTRICTION, ballot({"s1": Y, "s2": Y, "s3": Y}))
    assert early.outcome is Outcome.PASSED
    waiting = settled_early(ResolutionKind.RESTRICTION, ballot({"s1": Y, "s2": Y}))
    assert waiting.outcome is Outcome.PENDING
    everyone = ballot({s: Y for s in SEATS})
    assert settled_early(ResolutionKind.EXPULSION, everyone).outcome is Outcome.PENDING


def test_art_8_1_expulsion_needs_every_entitled_seat() -> None:
    """Three yes of four is not enough; four is; a recused seat is not needed."""
    assert unanimity_rule(ballot({"s1": Y, "s2": Y, "s3": Y})).outcome is Outcome.FAILED
    assert unanimity_rule(ballot({s: Y for s in SEATS})).passed
    recused = ballot({"s1": Y, "s2": Y, "s3": Y}, frozenset({"s4"}))
    assert unanimity_rule(recused).passed
    assert unanimity_rule(ballot({"s1": Y, "s2": Y, "s3": Y, "s4": A})).outcome is Outcome.FAILED


MEMBERS = frozenset(f"m{i}" for i in range(6))


def test_art_10_5_quorum_counts_members_present_and_by_proxy() -> None:
    """Three of six members is no quorum; three voting and one proxy is."""
    votes = {"m0": Y, "m1": Y, "m2": N}
    assert assembly_rule(AssemblyBallot(MEMBERS, votes)).outcome is Outcome.NO_QUORUM
    with_proxy = assembly_rule(AssemblyBallot(MEMBERS, votes, {"m3": "m0"}))
    assert with_proxy.passed
    assert (with_proxy.tally.present, with_proxy.tally.proxies, with_proxy.tally.yes) == (4, 1, 3)


def test_art_10_6_majority_of_present_unless_every_committee_seat_objects() -> None:
    """Yes must be more than half of those present; the proviso overturns it only
    if every seat objects."""
    tie = assembly_rule(AssemblyBallot(MEMBERS, {"m0": Y, "m1": Y, "m2": N, "m3": N}))
    assert tie.outcome is Outcome.FAILED
    votes = {"m0": Y, "m1": Y, "m2": Y, "m3": N}
    seats = frozenset({"s1", "s2"})
    some = assembly_rule(AssemblyBallot(MEMBERS, votes, {}, seats, frozenset({"s1"})))
    assert some.passed
    every = assembly_rule(AssemblyBallot(MEMBERS, votes, {}, seats, seats))
    assert every.outcome is Outcome.FAILED and RuleReason.COMMITTEE_OBJECTS in every.reasons


def _reader(kind: BodyKind, role: Role = Role.MEMBER_USER, **body: object) -> Reader:
    return Reader(
        user_id=str(body.pop("user_id", "u1")),
        body=Body(id=str(body.pop("id", "b1")), kind=kind, **body),  # type: ignore[arg-type]
        role=role,
    )


SEAT = _reader(BodyKind.SECRETARIAT, Role.COMMITTEE, user_id="s1", id="sec")
CLERK = _reader(BodyKind.SECRETARIAT, Role.MEMBER_ADMIN, user_id="c1", id="sec")
COORDINATOR = _reader(BodyKind.COORDINATOR, Role.MEMBER_ADMIN, id="coord")
SUSPECT = _reader(BodyKind.MEMBER, Role.MEMBER_ADMIN, id="suspect")
BYSTANDER = _reader(BodyKind.MEMBER, Role.MEMBER_ADMIN, id="other")


def facts(**changes: object) -> ResolutionFacts:
    base: dict[str, object] = {
        "kind": ResolutionKind.RESTRICTION,
        "body": ResolutionBody.COMMITTEE,
        "status": ResolutionStatus.OPEN,
        "subject_member_id": "suspect",
        "seats": frozenset({"s1", "s2"}),
    }
    base.update(changes)
    return ResolutionFacts(**base)  # type: ignore[arg-type]


def test_art_11_9_the_chair_refuses_ordinary_resolutions_only_while_open() -> None:
    """Only the chair; only 11(6) decisions (not art. 8, not the assembly); only open."""
    admission = facts(kind=ResolutionKind.ADMISSION)
    assert may_refuse(SEAT, admission, is_chair=True)
    assert may_refuse(SEAT, admission, is_chair=False).reason is AccessReason.NOT_CHAIR
    assert may_refuse(SEAT, facts(), is_chair=True).reason is AccessReason.NOT_ORDINARY
    closed = facts(kind=ResolutionKind.ADMISSION, status=ResolutionStatus.PASSED)
    assert may_refuse(SEAT, closed, is_chair=True).reason is AccessReason.CLOSED


def test_art_27_only_the_council_offices_see_an_open_resolution() -> None:
    """The committee, the secretariat and the coordinator see it all; the suspect
    and everyone else see nothing until it is decided; then the suspect sees the
    outcome; once published every active member sees the record."""
    open_ = facts()
    assert resolution_view(SEAT, open_).view is View.FULL
    assert resolution_view(CLERK, open_).view is View.FULL
    assert resolution_view(COORDINATOR, open_).view is View.FULL
    assert resolution_view(SUSPECT, open_).view is View.NONE
    assert resolution_view(SUSPECT, open_).reason is AccessReason.NOT_DECIDED
    assert resolution_view(BYSTANDER, open_).view is View.NONE
    decided = facts(status=ResolutionStatus.PASSED)
    assert resolution_view(SUSPECT, decided).view is View.OUTCOME
    assert resolution_view(BYSTANDER, decided).view is View.NONE
    published = facts(status=ResolutionStatus.PASSED, published=True)
    assert resolution_view(BYSTANDER, published).view is View.PUBLISHED
    restricted = _reader(BodyKind.MEMBER, id="other", status=MemberStatus.RESTRICTED)
    assert resolution_view(restricted, published).view is View.NONE


def test_art_23_targets_of_an_information_request_see_it_once_decided() -> None:
    """The members asked for information are parties: nothing before, the outcome after."""
    request = facts(
        kind=ResolutionKind.INFORMATION_REQUEST,
        subject_member_id=None,
        target_member_ids=frozenset({"other"}),
    )
    assert not resolution_view(BYSTANDER, request)
    passed = facts(
        kind=ResolutionKind.INFORMATION_REQUEST,
        subject_member_id=None,
        target_member_ids=frozenset({"other"}),
        status=ResolutionStatus.PASSED,
    )
    assert resolution_view(BYSTANDER, passed).view is View.OUTCOME


def test_art_11_6_and_10_4_who_votes() -> None:
    """Committee: its seats; assembly: each member's admin, and the seats for the proviso."""
    assert may_vote(SEAT, facts())
    assert may_vote(CLERK, facts()).reason is AccessReason.NOT_A_SEAT
    other_seat = _reader(BodyKind.SECRETARIAT, Role.COMMITTEE, user_id="s9", id="sec")
    assert not may_vote(other_seat, facts())  # a seat that came after the resolution opened
    assembly = facts(
        kind=ResolutionKind.AMENDMENT,
        body=ResolutionBody.ASSEMBLY,
        subject_member_id=None,
        electorate=frozenset({"other"}),
    )
    assert may_vote(BYSTANDER, assembly)
    assert may_vote(SEAT, assembly)
    assert may_vote(other_seat, assembly).reason is AccessReason.NOT_A_SEAT
    plain = _reader(BodyKind.MEMBER, Role.MEMBER_USER, id="other")
    assert may_vote(plain, assembly).reason is AccessReason.NOT_MEMBER_ADMIN
    assert may_vote(SUSPECT, assembly).reason is AccessReason.NOT_IN_ELECTORATE
    assert resolution_view(BYSTANDER, assembly).view is View.VOTER
    assert may_recuse(SEAT, facts()) and not may_recuse(SEAT, assembly)
    assert may_vote(SEAT, facts(status=ResolutionStatus.FAILED)).reason is AccessReason.CLOSED


def test_the_secretariat_creates_closes_and_publishes() -> None:
    """Create, close and publish are the secretariat's; publishing needs a decision."""
    assert may_create(CLERK) and may_create(SEAT) and not may_create(COORDINATOR)
    assert may_close(SEAT, facts()) and not may_close(SUSPECT, facts())
    assert may_publish(CLERK, facts()).reason is AccessReason.NOT_CLOSED
    assert may_publish(CLERK, facts(status=ResolutionStatus.PASSED))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert due_to_close(now, now) and not due_to_close(now + timedelta(seconds=1), now)
    assert not due_to_close(None, now)


def test_every_refusal_names_its_reason() -> None:
    """Each act refused by the rules says why: inactive voters, non-seats, closed
    resolutions and callers outside the secretariat."""
    assembly = facts(
        kind=ResolutionKind.AMENDMENT,
        body=ResolutionBody.ASSEMBLY,
        subject_member_id=None,
        electorate=frozenset({"other"}),
    )
    restricted = _reader(
        BodyKind.MEMBER, Role.MEMBER_ADMIN, id="other", status=MemberStatus.RESTRICTED
    )
    assert may_vote(restricted, assembly).reason is AccessReason.INACTIVE_MEMBER
    assert may_recuse(CLERK, facts()).reason is AccessReason.NOT_A_SEAT
    assert may_recuse(SEAT, facts(status=ResolutionStatus.PASSED)).reason is AccessReason.CLOSED
    assert may_close(SEAT, facts(status=ResolutionStatus.PASSED)).reason is AccessReason.CLOSED
    assert may_publish(COORDINATOR, facts()).reason is AccessReason.NOT_SECRETARIAT
    assert Outcome.PENDING.status is ResolutionStatus.OPEN
    assert Outcome.NO_QUORUM.status is ResolutionStatus.NO_QUORUM
