"""Resolutions of the steering committee and the general assembly, as the use
cases return them (SPEC §6; charter art. 6, 8, 10, 11, 23, 27)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from broker.crypto import Envelope
from broker.domain.model import Scope

__all__ = [
    "ASSEMBLY_KINDS",
    "COMMITTEE_KINDS",
    "ORDINARY_KINDS",
    "SUBJECT_KINDS",
    "Ballot",
    "InformationRequest",
    "NewResolution",
    "Resolution",
    "ResolutionBody",
    "ResolutionKind",
    "ResolutionStatus",
    "Tally",
    "Vote",
]


class ResolutionKind(StrEnum):
    """What is decided (SPEC §6 table)."""

    ADMISSION = "admission"  # art. 6(1),(3)
    RESTRICTION = "restriction"  # art. 8(2)
    LIFT_RESTRICTION = "lift_restriction"
    EXPULSION = "expulsion"  # art. 8(1)
    TASK_FORCE_EXCEPTION = "task_force_exception"  # art. 6(4)
    INFORMATION_REQUEST = "information_request"  # art. 23
    AMENDMENT = "amendment"  # art. 10(2)(i)
    ASSEMBLY_MATTER = "assembly_matter"  # art. 10(2)(iii)


class ResolutionBody(StrEnum):
    """Who decides: the steering committee (art. 11) or the general assembly (art. 10)."""

    COMMITTEE = "committee"
    ASSEMBLY = "assembly"


class ResolutionStatus(StrEnum):
    """Where a resolution stands; every status but `open` is final."""

    OPEN = "open"
    PASSED = "passed"
    FAILED = "failed"
    NO_QUORUM = "no_quorum"
    REFUSED = "refused"  # art. 11(9): the chair refused it, no effect


class Vote(StrEnum):
    """A seat's (or a member's) vote."""

    YES = "yes"
    NO = "no"
    ABSTAIN = "abstain"


ASSEMBLY_KINDS = frozenset({ResolutionKind.AMENDMENT, ResolutionKind.ASSEMBLY_MATTER})
COMMITTEE_KINDS = frozenset(ResolutionKind) - ASSEMBLY_KINDS
# Decided by the ordinary rule of art. 11(6), hence open to the chair's refusal (11(9)).
ORDINARY_KINDS = frozenset(
    {
        ResolutionKind.ADMISSION,
        ResolutionKind.LIFT_RESTRICTION,
        ResolutionKind.TASK_FORCE_EXCEPTION,
        ResolutionKind.INFORMATION_REQUEST,
    }
)
# About one member, named by `subject_member_id`.
SUBJECT_KINDS = frozenset(
    {
        ResolutionKind.ADMISSION,
        ResolutionKind.RESTRICTION,
        ResolutionKind.LIFT_RESTRICTION,
        ResolutionKind.EXPULSION,
        ResolutionKind.TASK_FORCE_EXCEPTION,
    }
)


@dataclass(frozen=True, slots=True)
class Tally:
    """The count of a resolution (docs/api.md `tally`).

    `seats` are the seats (committee) or members (assembly) that could take
    part; `entitled` those of them with a vote on this matter (seats minus
    recusals, art. 11(6)). For the assembly, `present` counts members voting
    or represented by proxy (art. 10(5)) and `objections` the committee seats
    that objected (the proviso of art. 10(6)).
    """

    yes: int = 0
    no: int = 0
    abstain: int = 0
    recused: int = 0
    seats: int = 0
    entitled: int = 0
    present: int = 0
    proxies: int = 0
    objections: int = 0


@dataclass(frozen=True, slots=True)
class Ballot:
    """One recorded act on a resolution: a vote, a recusal or a proxy.

    `voter_id` is the seat's user id (committee) or the member's id (assembly);
    a committee seat acting on an assembly resolution is recorded under its
    user id with `seat` True.
    """

    voter_id: str
    user_id: str
    vote: Vote | None
    recused: bool = False
    proxy_to: str | None = None
    seat: bool = False
    reason: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewResolution:
    """What the secretariat (or the chair) puts to a vote (docs/api.md)."""

    kind: ResolutionKind
    title: str
    text: str | None = None
    subject_member_id: str | None = None
    closes_at: datetime | None = None
    purpose: str | None = None
    scope: Scope | None = None
    target_member_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Resolution:
    """A resolution as stored, with its ballots and the count so far.

    `seats` are the committee seats (user ids) when it was opened and
    `electorate` the active members then (assembly): both are fixed for the
    life of the resolution, so a count never depends on when it is read.

    Its texts (title, text, purpose, refusal and recusal reasons) are stored
    in `sealed` (`broker.services.resolution_texts`); as the store returns
    it, they are empty until the service opens them into these fields.
    """

    id: str
    kind: ResolutionKind
    body: ResolutionBody
    title: str
    text: str | None
    subject_member_id: str | None
    status: ResolutionStatus
    created_by: str
    created_at: datetime
    closes_at: datetime | None
    decided_at: datetime | None
    effective_at: datetime | None
    published_at: datetime | None
    seats: tuple[str, ...]
    electorate: tuple[str, ...]
    purpose: str | None
    scope: Scope | None
    target_member_ids: tuple[str, ...]
    refusal_reason: str | None = None
    ballots: tuple[Ballot, ...] = field(default=())
    tally: Tally = field(default_factory=Tally)
    # None: stored before texts were sealed, and not sealed yet (they are in
    # the clear fields until the broker's start-up seals them).
    sealed: Envelope | None = None


@dataclass(frozen=True, slots=True)
class InformationRequest:
    """A passed art. 23 request as one target member sees it: what is asked, why,
    the scope its answers get, and whether this member has answered."""

    id: str
    title: str
    purpose: str
    scope: Scope
    member_id: str
    requested_at: datetime
    answered_at: datetime | None
    answer_item_ids: tuple[str, ...]
