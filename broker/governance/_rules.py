"""How a resolution is decided: the counting rules of the charter (SPEC §6).

Pure: a ballot in, a decision out, with its reasons and the tally. Integer
arithmetic only (`2 * yes > n`, `4 * yes >= 3 * n`), so no rounding ever
decides a vote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from broker.domain.resolutions import (
    ORDINARY_KINDS,
    ResolutionKind,
    ResolutionStatus,
    Tally,
    Vote,
)

__all__ = [
    "AssemblyBallot",
    "CommitteeBallot",
    "Outcome",
    "RuleReason",
    "assembly_rule",
    "committee_tally",
    "decide",
    "ordinary_rule",
    "settled_early",
    "three_quarters_rule",
    "unanimity_rule",
]


class RuleReason(StrEnum):
    """Why a count came out as it did: each names the article it applies."""

    QUORUM = "quorum_met"  # art. 11(6): more than half of the seats take part
    NO_QUORUM = "no_quorum"  # art. 11(6) / 10(5)
    MAJORITY = "majority_of_entitled_present"  # art. 11(6)
    NO_MAJORITY = "no_majority_of_entitled_present"  # art. 11(6)
    THREE_QUARTERS = "three_quarters_of_entitled_seats"  # art. 8(2)
    BELOW_THREE_QUARTERS = "below_three_quarters_of_entitled_seats"  # art. 8(2)
    UNANIMOUS = "every_entitled_seat_yes"  # art. 8(1)
    NOT_UNANIMOUS = "not_every_entitled_seat_yes"  # art. 8(1)
    NO_ENTITLED_SEAT = "no_entitled_seat"  # every seat recused: nobody can decide
    ASSEMBLY_QUORUM = "assembly_quorum_met"  # art. 10(5)
    ASSEMBLY_MAJORITY = "majority_of_present_members"  # art. 10(6)
    NO_ASSEMBLY_MAJORITY = "no_majority_of_present_members"  # art. 10(6)
    COMMITTEE_OBJECTS = "every_committee_seat_objects"  # art. 10(6) proviso


class Outcome(StrEnum):
    """What the count says: decided one way, or not yet settled (still open)."""

    PASSED = "passed"
    FAILED = "failed"
    NO_QUORUM = "no_quorum"
    PENDING = "pending"

    @property
    def status(self) -> ResolutionStatus:
        """The resolution status this outcome closes with (PENDING: still open)."""
        return _STATUS[self]


_STATUS = {
    Outcome.PASSED: ResolutionStatus.PASSED,
    Outcome.FAILED: ResolutionStatus.FAILED,
    Outcome.NO_QUORUM: ResolutionStatus.NO_QUORUM,
    Outcome.PENDING: ResolutionStatus.OPEN,
}


@dataclass(frozen=True, slots=True)
class RuleDecision:
    """A count's result: the outcome, why, and the tally it was reached on."""

    outcome: Outcome
    reasons: tuple[RuleReason, ...]
    tally: Tally

    @property
    def passed(self) -> bool:
        """Whether the resolution passed."""
        return self.outcome is Outcome.PASSED


@dataclass(frozen=True, slots=True)
class CommitteeBallot:
    """The committee's seats and what each did: a vote, or a declared recusal.

    A seat absent from both has not taken part. A seat in `recused` has no
    vote on the matter (art. 11(6)) even if a vote is recorded for it.
    """

    seats: frozenset[str]
    votes: Mapping[str, Vote] = field(default_factory=dict)
    recused: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class AssemblyBallot:
    """The general assembly: one vote per member of the electorate (art. 10(4)).

    `proxies` maps a member to the member it gave its proxy to (委任状); a
    proxy follows the holder's own vote. `committee_seats` and `objections`
    are the committee's seats and those that objected (art. 10(6) proviso).
    """

    electorate: frozenset[str]
    votes: Mapping[str, Vote] = field(default_factory=dict)
    proxies: Mapping[str, str] = field(default_factory=dict)
    committee_seats: frozenset[str] = frozenset()
    objections: frozenset[str] = frozenset()


def committee_tally(ballot: CommitteeBallot) -> Tally:
    """The counts of a committee ballot: only seats count, recusal beats a vote."""
    recused = ballot.recused & ballot.seats
    counts = {Vote.YES: 0, Vote.NO: 0, Vote.ABSTAIN: 0}
    for seat, vote in ballot.votes.items():
        if seat in ballot.seats and seat not in recused:
            counts[vote] += 1
    seats = len(ballot.seats)
    return Tally(
        yes=counts[Vote.YES],
        no=counts[Vote.NO],
        abstain=counts[Vote.ABSTAIN],
        recused=len(recused),
        seats=seats,
        entitled=seats - len(recused),
    )


def _quorum(tally: Tally) -> bool:
    # Art. 11(6): the quorum is a majority of the seats; a declared recusal is
    # taking part (the seat attended and left the deliberation, seed practice).
    taking_part = tally.yes + tally.no + tally.abstain + tally.recused
    return 2 * taking_part > tally.seats


def ordinary_rule(ballot: CommitteeBallot) -> RuleDecision:
    """Art. 11(6): quorum when more than half of all seats take part; passes when
    yes votes are more than half of the entitled seats taking part (votes cast)."""
    tally = committee_tally(ballot)
    if not _quorum(tally):
        return RuleDecision(Outcome.NO_QUORUM, (RuleReason.NO_QUORUM,), tally)
    cast = tally.yes + tally.no + tally.abstain
    if 2 * tally.yes > cast:
        return RuleDecision(Outcome.PASSED, (RuleReason.QUORUM, RuleReason.MAJORITY), tally)
    return RuleDecision(Outcome.FAILED, (RuleReason.QUORUM, RuleReason.NO_MAJORITY), tally)


def three_quarters_rule(ballot: CommitteeBallot) -> RuleDecision:
    """Art. 8(2): yes votes at least three quarters of the seats entitled to vote
    (not of votes cast). Reaching it implies the quorum; below it, a count that
    lacks the quorum of art. 11(6) is `no_quorum`, else `failed`."""
    tally = committee_tally(ballot)
    if tally.entitled == 0:
        return RuleDecision(Outcome.FAILED, (RuleReason.NO_ENTITLED_SEAT,), tally)
    if 4 * tally.yes >= 3 * tally.entitled:
        return RuleDecision(Outcome.PASSED, (RuleReason.THREE_QUARTERS,), tally)
    if not _quorum(tally):
        return RuleDecision(
            Outcome.NO_QUORUM, (RuleReason.NO_QUORUM, RuleReason.BELOW_THREE_QUARTERS), tally
        )
    return RuleDecision(Outcome.FAILED, (RuleReason.BELOW_THREE_QUARTERS,), tally)


def unanimity_rule(ballot: CommitteeBallot) -> RuleDecision:
    """Art. 8(1): every entitled seat votes yes (運営委員全員の同意)."""
    tally = committee_tally(ballot)
    if tally.entitled == 0:
        return RuleDecision(Outcome.FAILED, (RuleReason.NO_ENTITLED_SEAT,), tally)
    if tally.yes == tally.entitled:
        return RuleDecision(Outcome.PASSED, (RuleReason.UNANIMOUS,), tally)
    if not _quorum(tally):
        return RuleDecision(
            Outcome.NO_QUORUM, (RuleReason.NO_QUORUM, RuleReason.NOT_UNANIMOUS), tally
        )
    return RuleDecision(Outcome.FAILED, (RuleReason.NOT_UNANIMOUS,), tally)


def assembly_rule(ballot: AssemblyBallot) -> RuleDecision:
    """Art. 10(5),(6): quorum when members voting or represented by proxy are more
    than half of the electorate; passes when yes votes are more than half of those
    present, unless every committee seat objects (the proviso of 10(6)).

    A proxy counts as present and follows the holder's own vote; a proxy whose
    holder did not vote (or is outside the electorate) is present without a
    vote. A member that voted and gave a proxy counts by its own vote.
    """
    electorate = ballot.electorate
    direct = {m: v for m, v in ballot.votes.items() if m in electorate}
    proxied = {
        m: holder
        for m, holder in ballot.proxies.items()
        if m in electorate and m not in direct and holder != m
    }
    effective: dict[str, Vote | None] = dict(direct)
    for member, holder in proxied.items():
        effective[member] = direct.get(holder)
    counts = {Vote.YES: 0, Vote.NO: 0, Vote.ABSTAIN: 0}
    for vote in effective.values():
        if vote is not None:
            counts[vote] += 1
    present = len(effective)
    seats = ballot.committee_seats
    objections = ballot.objections & seats
    tally = Tally(
        yes=counts[Vote.YES],
        no=counts[Vote.NO],
        abstain=counts[Vote.ABSTAIN],
        seats=len(electorate),
        entitled=len(electorate),
        present=present,
        proxies=len(proxied),
        objections=len(objections),
    )
    if not 2 * present > len(electorate):
        return RuleDecision(Outcome.NO_QUORUM, (RuleReason.NO_QUORUM,), tally)
    if not 2 * tally.yes > present:
        return RuleDecision(
            Outcome.FAILED, (RuleReason.ASSEMBLY_QUORUM, RuleReason.NO_ASSEMBLY_MAJORITY), tally
        )
    if seats and objections == seats:
        return RuleDecision(
            Outcome.FAILED,
            (
                RuleReason.ASSEMBLY_QUORUM,
                RuleReason.ASSEMBLY_MAJORITY,
                RuleReason.COMMITTEE_OBJECTS,
            ),
            tally,
        )
    return RuleDecision(
        Outcome.PASSED, (RuleReason.ASSEMBLY_QUORUM, RuleReason.ASSEMBLY_MAJORITY), tally
    )


def decide(kind: ResolutionKind, ballot: CommitteeBallot | AssemblyBallot) -> RuleDecision:
    """The final count of a resolution of `kind` (at its close), by its rule."""
    if isinstance(ballot, AssemblyBallot):
        return assembly_rule(ballot)
    if kind is ResolutionKind.RESTRICTION:
        return three_quarters_rule(ballot)
    if kind is ResolutionKind.EXPULSION:
        return unanimity_rule(ballot)
    assert kind in ORDINARY_KINDS, kind
    return ordinary_rule(ballot)


def settled_early(kind: ResolutionKind, ballot: CommitteeBallot | AssemblyBallot) -> RuleDecision:
    """Whether a resolution is decided before it closes: a restriction is, the moment
    yes votes reach three quarters of the entitled seats (art. 8(2) "直ちに", SPEC §3
    rule 7); every other kind waits for its close (PENDING)."""
    if kind is ResolutionKind.RESTRICTION and isinstance(ballot, CommitteeBallot):
        decision = three_quarters_rule(ballot)
        if decision.passed:
            return decision
        return RuleDecision(Outcome.PENDING, decision.reasons, decision.tally)
    tally = (
        committee_tally(ballot)
        if isinstance(ballot, CommitteeBallot)
        else decide(kind, ballot).tally
    )
    return RuleDecision(Outcome.PENDING, (), tally)
