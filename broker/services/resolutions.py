"""Resolutions as use cases: create, vote, recuse, refuse, close, publish (SPEC §6).

`broker.governance` decides (who sees, who may act, how a count comes out);
this module loads the facts, asks, and writes each decision, its audit event
and its effect in one transaction:

- admission: applicant → active (art. 6(1));
- restriction: → restricted the moment three quarters of the entitled seats
  vote yes (art. 8(2)), before the close: the member's inbox, reads, streams
  (on every replica), webhooks and queued pushes stop (SPEC §3 rule 7);
- lift_restriction: restricted → active; expulsion: → expelled (art. 8(1));
- task_force_exception: the foreign member may be given a tier (art. 6(4));
- information_request: the target members receive the request (art. 23).

Writes are serialised (`Store.write` holds the broker's write lock), and each
one re-reads the resolution inside its transaction, so two seats voting at
once, or a seat voting while the sweeper closes, count exactly once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog

from broker import governance
from broker.domain import (
    Actor,
    AuditAction,
    AuditDraft,
    BodyKind,
    EventDraft,
    EventKind,
    MemberStatus,
    Scope,
)
from broker.domain.resolutions import (
    ASSEMBLY_KINDS,
    SUBJECT_KINDS,
    Ballot,
    InformationRequest,
    NewResolution,
    Resolution,
    ResolutionBody,
    ResolutionKind,
    ResolutionStatus,
    Tally,
    Vote,
)
from broker.domain.timestamps import rfc3339
from broker.errors import Conflict, Forbidden, InvalidInput, NotFound
from broker.governance import AccessReason, Permission, View
from broker.services.auditor import Auditor
from broker.services.clock import Clock
from broker.services.directory import Directory
from broker.services.ids import new_id
from broker.services.keyring import Keys
from broker.services.members import apply_status
from broker.services.resolution_texts import ResolutionTexts, open_texts, seal_texts, texts_of
from broker.store.uow import Store, UnitOfWork

__all__ = [
    "ResolutionPage",
    "ResolutionService",
    "Shown",
    "ballot_of",
    "facts_of",
    "resolution_loop",
]

log = structlog.get_logger("broker.governance")

_SCAN = 200  # resolutions read per listing batch, before the policy filters them

# What a passed resolution changes a subject's status from and to.
_STATUS_EFFECTS: dict[ResolutionKind, tuple[frozenset[MemberStatus], MemberStatus]] = {
    ResolutionKind.ADMISSION: (frozenset({MemberStatus.APPLICANT}), MemberStatus.ACTIVE),
    ResolutionKind.RESTRICTION: (frozenset({MemberStatus.ACTIVE}), MemberStatus.RESTRICTED),
    ResolutionKind.LIFT_RESTRICTION: (
        frozenset({MemberStatus.RESTRICTED}),
        MemberStatus.ACTIVE,
    ),
    ResolutionKind.EXPULSION: (
        frozenset({MemberStatus.ACTIVE, MemberStatus.RESTRICTED}),
        MemberStatus.EXPELLED,
    ),
}
# The statuses a subject must have for the matter to be put to a vote at all.
_SUBJECT_STATUSES: dict[ResolutionKind, frozenset[MemberStatus]] = {
    **{kind: before for kind, (before, _) in _STATUS_EFFECTS.items()},
    ResolutionKind.TASK_FORCE_EXCEPTION: frozenset({MemberStatus.APPLICANT, MemberStatus.ACTIVE}),
}


@dataclass(frozen=True, slots=True)
class Shown:
    """A resolution and how much of it the caller sees (art. 27)."""

    resolution: Resolution
    view: View


@dataclass(frozen=True, slots=True)
class ResolutionPage:
    """A page of resolutions the caller may see, newest first."""

    items: tuple[Shown, ...]
    next_cursor: str | None


def facts_of(resolution: Resolution) -> governance.ResolutionFacts:
    """What the governance rules need to know of a stored resolution."""
    return governance.ResolutionFacts(
        kind=resolution.kind,
        body=resolution.body,
        status=resolution.status,
        subject_member_id=resolution.subject_member_id,
        target_member_ids=frozenset(resolution.target_member_ids),
        seats=frozenset(resolution.seats),
        electorate=frozenset(resolution.electorate),
        published=resolution.published_at is not None,
    )


def ballot_of(
    resolution: Resolution,
) -> governance.CommitteeBallot | governance.AssemblyBallot:
    """The ballot the rules count, from the recorded acts."""
    if resolution.body is ResolutionBody.COMMITTEE:
        return governance.CommitteeBallot(
            seats=frozenset(resolution.seats),
            votes={b.voter_id: b.vote for b in resolution.ballots if b.vote is not None},
            recused=frozenset(b.voter_id for b in resolution.ballots if b.recused),
        )
    members = [b for b in resolution.ballots if not b.seat]
    return governance.AssemblyBallot(
        electorate=frozenset(resolution.electorate),
        votes={b.voter_id: b.vote for b in members if b.vote is not None},
        proxies={b.voter_id: b.proxy_to for b in members if b.proxy_to is not None},
        committee_seats=frozenset(resolution.seats),
        objections=frozenset(
            b.voter_id for b in resolution.ballots if b.seat and b.vote is Vote.NO
        ),
    )


def _with_live_tally(resolution: Resolution) -> Resolution:
    # An open resolution's count is the rules' count of its ballots so far; a
    # decided one keeps the count it was decided on.
    if resolution.status is not ResolutionStatus.OPEN:
        return resolution
    tally = governance.settled_early(resolution.kind, ballot_of(resolution)).tally
    return replace(resolution, tally=tally)


class ResolutionService:
    """The committee's and the assembly's resolutions; every step audited."""

    def __init__(
        self, *, store: Store, clock: Clock, keys: Keys, auditor: Auditor, directory: Directory
    ) -> None:
        self._store = store
        self._clock = clock
        self._keys = keys
        self._auditor = auditor
        self._directory = directory

    # -- reading ---------------------------------------------------------------

    async def get(self, actor: Actor, resolution_id: str) -> Shown:
        """One resolution, as much of it as the caller may see; else 404 (art. 27)."""
        async with self._store.read() as uow:
            resolution = await self._visible(uow, actor, resolution_id, AuditAction.RESOLUTION_READ)
        view = governance.resolution_view(actor.reader, facts_of(resolution)).view
        await self._auditor.record(
            self._draft(actor, AuditAction.RESOLUTION_READ, resolution, details={"view": view})
        )
        return Shown(_with_live_tally(resolution), view)

    async def listing(
        self,
        actor: Actor,
        *,
        status: ResolutionStatus | None,
        kind: ResolutionKind | None,
        cursor: str | None,
        limit: int,
    ) -> ResolutionPage:
        """The resolutions the caller may see, newest first; the others are not
        counted, not hinted at (art. 27: a suspected leaker is not warned)."""
        shown: list[Shown] = []
        before = cursor
        exhausted = False
        async with self._store.read() as uow:
            while len(shown) <= limit and not exhausted:
                batch = await uow.resolutions.listing(
                    status=status, kind=kind, before=before, limit=_SCAN
                )
                exhausted = len(batch) < _SCAN
                for resolution in batch:
                    before = resolution.id
                    decision = governance.resolution_view(actor.reader, facts_of(resolution))
                    if decision:
                        opened = open_texts(self._keys, resolution)
                        shown.append(Shown(_with_live_tally(opened), decision.view))
                        if len(shown) > limit:
                            break
        more = len(shown) > limit
        page = tuple(shown[:limit])
        await self._auditor.record(
            self._auditor.draft(
                actor,
                AuditAction.RESOLUTION_LIST,
                details={
                    "status": status.value if status else None,
                    "kind": kind.value if kind else None,
                    "shown": len(page),
                },
            )
        )
        return ResolutionPage(page, page[-1].resolution.id if more and page else None)

    async def information_requests(self, actor: Actor) -> list[InformationRequest]:
        """The passed information requests addressed to the caller's member (art. 23),
        with whether it has answered; the council offices see every target's."""
        office = actor.is_secretariat or actor.is_coordinator
        async with self._store.read() as uow:
            requests = [
                open_texts(self._keys, r)
                for r in await uow.resolutions.passed_requests()
                if office or actor.member_id in r.target_member_ids
            ]
            answers = await uow.resolutions.answers(
                [r.id for r in requests], None if office else actor.member_id
            )
        if not office and actor.body.status is not MemberStatus.ACTIVE:
            requests = []  # rule 7: an inactive member is asked nothing
        found: list[InformationRequest] = []
        for request in requests:
            targets = request.target_member_ids if office else (actor.member_id,)
            for member_id in targets:
                mine = [a for a in answers[request.id] if a[0] == member_id]
                found.append(
                    InformationRequest(
                        id=request.id,
                        title=request.title,
                        purpose=request.purpose or "",
                        scope=request.scope or _EMPTY_SCOPE,
                        member_id=member_id,
                        requested_at=request.decided_at or request.created_at,
                        answered_at=mine[0][2] if mine else None,
                        answer_item_ids=tuple(a[1] for a in mine),
                    )
                )
        await self._auditor.record(
            self._auditor.draft(
                actor, AuditAction.INFORMATION_REQUEST_LIST, details={"shown": len(found)}
            )
        )
        return found

    # -- acting ----------------------------------------------------------------

    async def create(self, actor: Actor, new: NewResolution) -> Shown:
        """The secretariat (or the chair) puts a matter to the committee or the assembly."""
        auditor = self._auditor
        permission = governance.may_create(actor.reader)
        if not permission:
            raise await auditor.deny(
                Forbidden("only the secretariat's users (the chair among them) open resolutions"),
                auditor.draft(
                    actor,
                    AuditAction.RESOLUTION_CREATE,
                    "denied",
                    reason=permission.reason,
                    details={"kind": new.kind.value},
                ),
            )
        now = self._clock()
        await self._check_new(actor, new, now)
        body = ResolutionBody.ASSEMBLY if new.kind in ASSEMBLY_KINDS else ResolutionBody.COMMITTEE
        async with self._store.write() as uow:
            seats = await uow.members.committee_seats(actor.member_id)
            if body is ResolutionBody.COMMITTEE and not seats:
                raise Conflict(
                    "the steering committee has no seats yet: create users with the role "
                    "committee on the secretariat first",
                    code="no_committee",
                )
            electorate = (
                await uow.members.active_member_ids() if body is ResolutionBody.ASSEMBLY else []
            )
            resolution = Resolution(
                id=new_id(),
                kind=new.kind,
                body=body,
                title=new.title,
                text=new.text,
                subject_member_id=new.subject_member_id,
                status=ResolutionStatus.OPEN,
                created_by=actor.user_id,
                created_at=now,
                closes_at=new.closes_at,
                decided_at=None,
                effective_at=None,
                published_at=None,
                seats=tuple(s.id for s in seats),
                electorate=tuple(electorate),
                purpose=new.purpose,
                scope=new.scope,
                target_member_ids=tuple(dict.fromkeys(new.target_member_ids)),
            )
            texts = ResolutionTexts(title=new.title, text=new.text, purpose=new.purpose)
            await uow.resolutions.add(resolution, seal_texts(self._keys, resolution.id, texts))
            await uow.feed.append(await self._events(uow, resolution, "created", now))
            await uow.audit.append(
                [
                    self._draft(
                        actor,
                        AuditAction.RESOLUTION_CREATE,
                        resolution,
                        details={
                            "seats": len(resolution.seats),
                            "electorate": len(resolution.electorate),
                            "closes_at": rfc3339(new.closes_at) if new.closes_at else None,
                            "targets": list(resolution.target_member_ids),
                        },
                    )
                ]
            )
            stored = await self._stored(uow, resolution.id)
        return Shown(_with_live_tally(stored), View.FULL)

    async def vote(
        self, actor: Actor, resolution_id: str, vote: Vote | None, proxy_to: str | None
    ) -> Shown:
        """A seat's vote (committee), or a member admin's vote or proxy (assembly)."""
        async with self._store.read() as uow:
            resolution = await self._visible(uow, actor, resolution_id, AuditAction.RESOLUTION_VOTE)
        await self._require(
            actor,
            resolution,
            governance.may_vote(actor.reader, facts_of(resolution)),
            AuditAction.RESOLUTION_VOTE,
        )
        seat = governance.is_committee_seat(actor.reader)
        voter_id = actor.user_id if seat else actor.member_id
        if proxy_to is not None and (seat or resolution.body is ResolutionBody.COMMITTEE):
            raise InvalidInput(
                "only a member of the general assembly gives a proxy (charter art. 10(5))",
                field="proxy_to",
            )
        await self._check_ballot(actor, resolution, voter_id, proxy_to)
        now = self._clock()
        ballot = Ballot(
            voter_id=voter_id,
            user_id=actor.user_id,
            vote=vote,
            proxy_to=proxy_to,
            seat=seat and resolution.body is ResolutionBody.ASSEMBLY,
            at=now,
        )
        details: dict[str, object] = {"vote": vote.value if vote else None, "proxy_to": proxy_to}
        return await self._record(
            actor, resolution_id, ballot, voter_id, AuditAction.RESOLUTION_VOTE, details, now
        )

    async def recuse(self, actor: Actor, resolution_id: str, reason: str) -> Shown:
        """A seat declares a special interest and has no vote on the matter (art. 11(6))."""
        async with self._store.read() as uow:
            resolution = await self._visible(
                uow, actor, resolution_id, AuditAction.RESOLUTION_RECUSAL
            )
        await self._require(
            actor,
            resolution,
            governance.may_recuse(actor.reader, facts_of(resolution)),
            AuditAction.RESOLUTION_RECUSAL,
        )
        await self._check_ballot(actor, resolution, actor.user_id, None)
        now = self._clock()
        ballot = Ballot(
            voter_id=actor.user_id,
            user_id=actor.user_id,
            vote=None,
            recused=True,
            reason=reason,
            at=now,
        )
        return await self._record(
            actor,
            resolution_id,
            ballot,
            actor.user_id,
            AuditAction.RESOLUTION_RECUSAL,
            {},  # the reason is sealed with the texts, not written into the log
            now,
        )

    async def refuse(self, actor: Actor, resolution_id: str, reason: str) -> Shown:
        """The chair refuses an open ordinary resolution: it closes as `refused`, with
        no effect (art. 11(9))."""
        async with self._store.read() as uow:
            resolution = await self._visible(
                uow, actor, resolution_id, AuditAction.RESOLUTION_REFUSAL
            )
            user = await uow.members.user(actor.user_id)
        is_chair = user is not None and user.chair and user.revoked_at is None
        await self._require(
            actor,
            resolution,
            governance.may_refuse(actor.reader, facts_of(resolution), is_chair=is_chair),
            AuditAction.RESOLUTION_REFUSAL,
        )
        now = self._clock()
        async with self._store.write() as uow:
            current = await self._stored(uow, resolution_id)
            if current.status is not ResolutionStatus.OPEN:
                raise _closed()
            tally = _with_live_tally(current).tally
            await uow.resolutions.decide(
                resolution_id, ResolutionStatus.REFUSED, tally, now, effective=False
            )
            texts = replace(texts_of(current), refusal_reason=reason)
            await uow.resolutions.reseal(
                resolution_id, seal_texts(self._keys, resolution_id, texts)
            )
            await uow.audit.append(
                [
                    # The reason is sealed with the texts, not written into the log.
                    self._draft(actor, AuditAction.RESOLUTION_REFUSAL, current),
                    self._draft(
                        actor,
                        AuditAction.RESOLUTION_DECIDE,
                        current,
                        details={"status": ResolutionStatus.REFUSED.value, "tally": _tally(tally)},
                    ),
                ]
            )
            stored = await self._stored(uow, resolution_id)
            await uow.feed.append(await self._events(uow, stored, "decided", now))
        return Shown(stored, View.FULL)

    async def close(self, actor: Actor, resolution_id: str) -> Shown:
        """The secretariat (the chair is one of its users) decides the resolution now."""
        async with self._store.read() as uow:
            resolution = await self._visible(
                uow, actor, resolution_id, AuditAction.RESOLUTION_DECIDE
            )
        await self._require(
            actor,
            resolution,
            governance.may_close(actor.reader, facts_of(resolution)),
            AuditAction.RESOLUTION_DECIDE,
        )
        now = self._clock()
        async with self._store.write() as uow:
            current = await self._stored(uow, resolution_id)
            if current.status is not ResolutionStatus.OPEN:
                raise _closed()
            decision = governance.decide(current.kind, ballot_of(current))
            await self._decide(uow, actor, current, decision, now)
            stored = await self._stored(uow, resolution_id)
        self._directory.forget()  # routing and sign-in must see an effect at once
        return Shown(stored, View.FULL)

    async def publish(self, actor: Actor, resolution_id: str) -> Shown:
        """The secretariat publishes a decided resolution's record to every active
        member: title, outcome, tally, recused seats; never individual votes."""
        async with self._store.read() as uow:
            resolution = await self._visible(
                uow, actor, resolution_id, AuditAction.RESOLUTION_PUBLISH
            )
        await self._require(
            actor,
            resolution,
            governance.may_publish(actor.reader, facts_of(resolution)),
            AuditAction.RESOLUTION_PUBLISH,
        )
        now = self._clock()
        async with self._store.write() as uow:
            first = resolution.published_at is None
            await uow.resolutions.publish(resolution_id, now)
            stored = await self._stored(uow, resolution_id)
            if first:
                await uow.feed.append(await self._events(uow, stored, "published", now))
            await uow.audit.append(
                [
                    self._draft(
                        actor, AuditAction.RESOLUTION_PUBLISH, stored, details={"first": first}
                    )
                ]
            )
        return Shown(stored, View.FULL)

    async def seal_clear_texts(self) -> int:
        """Seal the texts of resolutions stored before texts were sealed, and clear
        them from their rows; how many there were. Run when the broker starts,
        before it serves (once; afterwards one read, no write).

        Each batch is read inside its write transaction: a replica already
        serving may add a recusal to one of them meanwhile, and sealing a copy
        read before it would lose that reason.
        """
        async with self._store.read() as uow:
            if not await uow.resolutions.unsealed(1):
                return 0
        sealed = 0
        while True:
            async with self._store.write() as uow:
                batch = await uow.resolutions.unsealed(_SCAN)
                for resolution in batch:
                    envelope = seal_texts(self._keys, resolution.id, texts_of(resolution))
                    await uow.resolutions.reseal(resolution.id, envelope)
            sealed += len(batch)
            if len(batch) < _SCAN:
                break
        if sealed:
            log.info("resolution_texts_sealed", resolutions=sealed)
        return sealed

    async def close_due(self, now: datetime | None = None) -> int:
        """Decide every open resolution whose deadline has come (the leader's sweeper);
        how many were decided. Safe on any number of replicas: each decision is a
        conditional update inside the write lock."""
        at = now or self._clock()
        decided = 0
        async with self._store.read() as uow:
            due = await uow.resolutions.due(at)
        for resolution_id in due:
            async with self._store.write() as uow:
                current = await uow.resolutions.get(resolution_id)
                if current is None or current.status is not ResolutionStatus.OPEN:
                    continue
                if not governance.due_to_close(current.closes_at, at):
                    continue
                decision = governance.decide(current.kind, ballot_of(current))
                await self._decide(uow, None, current, decision, at)
                decided += 1
        if decided:
            self._directory.forget()
            log.info("resolutions_closed", decided=decided)
        return decided

    # -- internals ---------------------------------------------------------------

    async def _record(
        self,
        actor: Actor,
        resolution_id: str,
        ballot: Ballot,
        voter_id: str,
        action: AuditAction,
        details: dict[str, object],
        now: datetime,
    ) -> Shown:
        async with self._store.write() as uow:
            current = await self._stored(uow, resolution_id)
            if current.status is not ResolutionStatus.OPEN:
                raise _closed()
            if any(b.voter_id == voter_id for b in current.ballots):
                raise Conflict("this seat or member has already acted on it", code="already_voted")
            await uow.resolutions.add_ballot(resolution_id, ballot)
            if ballot.reason is not None:  # a recusal's reason, sealed with the texts
                texts = texts_of(current)
                recusals = {**texts.recusals, voter_id: ballot.reason}
                resealed = seal_texts(self._keys, resolution_id, replace(texts, recusals=recusals))
                await uow.resolutions.reseal(resolution_id, resealed)
            await uow.audit.append([self._draft(actor, action, current, details=details)])
            counted = await self._stored(uow, resolution_id)
            # Art. 8(2): a restriction takes effect the moment it reaches ¾.
            early = governance.settled_early(counted.kind, ballot_of(counted))
            settled = early.outcome is not governance.Outcome.PENDING
            if settled:
                await self._decide(uow, None, counted, early, now)
            stored = await self._stored(uow, resolution_id)
        if settled:
            self._directory.forget()
        view = governance.resolution_view(actor.reader, facts_of(stored)).view
        return Shown(_with_live_tally(stored), view)

    async def _decide(
        self,
        uow: UnitOfWork,
        actor: Actor | None,
        resolution: Resolution,
        decision: governance.RuleDecision,
        now: datetime,
    ) -> None:
        """Write a decision, its effect and its audit event in `uow`."""
        status = decision.outcome.status
        passed = status is ResolutionStatus.PASSED
        if not await uow.resolutions.decide(
            resolution.id, status, decision.tally, now, effective=passed
        ):
            raise _closed()
        effect = await self._apply(uow, resolution, now) if passed else None
        decided = await self._stored(uow, resolution.id)
        await uow.feed.append(await self._events(uow, decided, "decided", now))
        await uow.audit.append(
            [
                self._draft(
                    actor,
                    AuditAction.RESOLUTION_DECIDE,
                    resolution,
                    at=now,
                    details={
                        "status": status.value,
                        "reasons": [str(r) for r in decision.reasons],
                        "tally": _tally(decision.tally),
                        "effect": effect,
                    },
                )
            ]
        )

    async def _apply(self, uow: UnitOfWork, resolution: Resolution, now: datetime) -> str | None:
        """A passed resolution's effect (SPEC §6 table), in the deciding transaction."""
        kind = resolution.kind
        if kind in _STATUS_EFFECTS and resolution.subject_member_id is not None:
            before, after = _STATUS_EFFECTS[kind]
            subject = await uow.members.get(resolution.subject_member_id)
            if subject is None or subject.status not in before:
                return None  # the member's standing changed meanwhile (withdrew): nothing to do
            await apply_status(uow, subject.id, after, now)
            return f"status:{after.value}"
        if kind is ResolutionKind.INFORMATION_REQUEST:
            await uow.feed.append(
                [
                    EventDraft(
                        kind=EventKind.INFORMATION_REQUEST,
                        created_at=now,
                        member_id=member_id,
                        # Events carry no texts: the target reads the request itself.
                        payload={"information_request_id": resolution.id},
                    )
                    for member_id in resolution.target_member_ids
                ]
            )
            return "requested"
        return None

    async def _events(
        self, uow: UnitOfWork, resolution: Resolution, change: str, now: datetime
    ) -> list[EventDraft]:
        """`resolution` events to everyone who may see it now (art. 27)."""
        offices = [
            body.id
            for kind in (BodyKind.SECRETARIAT, BodyKind.COORDINATOR)
            if (body := await uow.members.body_of_kind(kind)) is not None
        ]
        recipients = list(offices)
        facts = facts_of(resolution)
        if resolution.body is ResolutionBody.ASSEMBLY:
            recipients += list(resolution.electorate)
        if facts.status is not ResolutionStatus.OPEN:
            parties = [resolution.subject_member_id, *resolution.target_member_ids]
            recipients += [p for p in parties if p is not None]
        if facts.published:
            recipients += await uow.members.active_member_ids()
        payload = {
            "resolution_id": resolution.id,
            "kind": resolution.kind.value,
            "status": resolution.status.value,
            "change": change,
        }
        return [
            EventDraft(kind=EventKind.RESOLUTION, created_at=now, member_id=m, payload=payload)
            for m in dict.fromkeys(recipients)
        ]

    async def _check_new(self, actor: Actor, new: NewResolution, now: datetime) -> None:
        """Refuse a resolution that could not be decided as asked (422 / 409)."""
        if new.closes_at is not None and new.closes_at <= now:
            raise InvalidInput("closes_at must lie in the future", field="closes_at")
        if new.kind in SUBJECT_KINDS:
            if new.subject_member_id is None:
                raise InvalidInput(
                    f"a {new.kind.value} resolution names its subject_member_id",
                    field="subject_member_id",
                )
            async with self._store.read() as uow:
                subject = await uow.members.get(new.subject_member_id)
                already = await uow.resolutions.open_about(new.subject_member_id)
                open_kinds = {
                    r.kind for i in already if (r := await uow.resolutions.get(i)) is not None
                }
            if subject is None or subject.kind is not BodyKind.MEMBER:
                raise InvalidInput("no member with that id", field="subject_member_id")
            if subject.status not in _SUBJECT_STATUSES[new.kind]:
                raise Conflict(
                    f"a {new.kind.value} resolution cannot be opened about a member that is "
                    f"{subject.status.value}",
                    field="subject_member_id",
                    code="subject_status",
                )
            if new.kind is ResolutionKind.TASK_FORCE_EXCEPTION and not subject.foreign:
                raise Conflict(
                    "a task_force_exception is for a foreign member (charter art. 6(4))",
                    field="subject_member_id",
                    code="not_foreign",
                )
            if new.kind in open_kinds:
                raise Conflict(
                    f"a {new.kind.value} resolution about this member is already open",
                    field="subject_member_id",
                    code="already_open",
                )
        elif new.subject_member_id is not None:
            raise InvalidInput(
                f"a {new.kind.value} resolution is about no one member: leave out "
                "subject_member_id",
                field="subject_member_id",
            )
        if new.kind is ResolutionKind.INFORMATION_REQUEST:
            if not new.purpose:
                raise InvalidInput(
                    "an information request states its purpose (charter art. 23)", field="purpose"
                )
            if new.scope is None:
                raise InvalidInput(
                    "an information request states the scope its answers get", field="scope"
                )
            if not new.target_member_ids:
                raise InvalidInput(
                    "an information request names the members asked (target_member_ids)",
                    field="target_member_ids",
                )
            async with self._store.read() as uow:
                targets = await uow.members.bodies_with_handlers(now, list(new.target_member_ids))
            unknown = [
                t
                for t in new.target_member_ids
                if t not in targets or targets[t].kind is not BodyKind.MEMBER
            ]
            if unknown:
                raise InvalidInput(
                    f"no member with id {unknown[0][:64]}", field="target_member_ids"
                )
        elif new.purpose is not None or new.scope is not None or new.target_member_ids:
            raise InvalidInput(
                "purpose, scope and target_member_ids belong to an information_request",
                field="purpose" if new.purpose is not None else "scope",
            )

    async def _check_ballot(
        self, actor: Actor, resolution: Resolution, voter_id: str, proxy_to: str | None
    ) -> None:
        """409 for a second act by the same voter, and for a proxy that cannot count."""
        mine = next((b for b in resolution.ballots if b.voter_id == voter_id), None)
        if mine is not None:
            code = "recused" if mine.recused else "already_voted"
            raise await self._auditor.deny(
                Conflict(
                    "this seat declared a special interest and has no vote on it"
                    if mine.recused
                    else "this seat or member has already voted on it",
                    code=code,
                ),
                self._draft(actor, AuditAction.RESOLUTION_VOTE, resolution, "denied", code),
            )
        if proxy_to is None:
            return
        holder = next((b for b in resolution.ballots if b.voter_id == proxy_to), None)
        holds = any(b.proxy_to == voter_id for b in resolution.ballots)
        if proxy_to == voter_id or proxy_to not in resolution.electorate:
            raise InvalidInput("proxy_to names another member of this assembly", field="proxy_to")
        if (holder is not None and holder.proxy_to is not None) or holds:
            # One proxy, one hop: a proxy follows its holder's own vote (art. 10(5)).
            raise Conflict(
                "a proxy goes to a member that votes itself: this one gave its own proxy, "
                "or you hold proxies of others",
                field="proxy_to",
                code="proxy_chain",
            )

    async def _stored(self, uow: UnitOfWork, resolution_id: str) -> Resolution:
        """The resolution, its texts opened; 404 if there is none."""
        resolution = await uow.resolutions.get(resolution_id)
        if resolution is None:
            raise NotFound("no resolution with that id", field="id")
        return open_texts(self._keys, resolution)

    async def _visible(
        self, uow: UnitOfWork, actor: Actor, resolution_id: str, action: AuditAction
    ) -> Resolution:
        """The resolution if the caller may see it, its texts opened; else the same
        audited 404 as for one that does not exist."""
        resolution = await uow.resolutions.get(resolution_id)
        if resolution is None or not governance.resolution_view(actor.reader, facts_of(resolution)):
            # Art. 27: the same answer whether it exists or not.
            raise await self._auditor.deny(
                NotFound("no resolution with that id", field="id"),
                self._auditor.draft(
                    actor,
                    action,
                    "denied",
                    reason="not_visible",
                    details={"resolution_id": resolution_id[:64]},
                ),
            )
        return open_texts(self._keys, resolution)

    async def _require(
        self,
        actor: Actor,
        resolution: Resolution,
        permission: Permission,
        action: AuditAction,
    ) -> None:
        if permission:
            return
        error: Conflict | Forbidden
        if permission.reason is AccessReason.CLOSED:
            error = _closed()
        elif permission.reason is AccessReason.NOT_CLOSED:
            error = Conflict("only a decided resolution is published", code="open")
        else:
            error = Forbidden(_REFUSALS.get(permission.reason, "you may not do this"))
        raise await self._auditor.deny(
            error, self._draft(actor, action, resolution, "denied", permission.reason)
        )

    def _draft(
        self,
        actor: Actor | None,
        action: AuditAction,
        resolution: Resolution,
        outcome: str = "allowed",
        reason: str | None = None,
        *,
        details: dict[str, object] | None = None,
        at: datetime | None = None,
    ) -> AuditDraft:
        return self._auditor.draft(
            actor,
            action,
            "denied" if outcome == "denied" else "allowed",
            subject_member_id=resolution.subject_member_id,
            reason=reason,
            details={
                "resolution_id": resolution.id,
                "kind": resolution.kind.value,
                **(details or {}),
            },
            at=at,
        )


_EMPTY_SCOPE = Scope()

_REFUSALS = {
    AccessReason.NOT_A_SEAT: "only the committee's seats vote on this resolution",
    AccessReason.NOT_IN_ELECTORATE: "your member has no vote in this assembly",
    AccessReason.NOT_MEMBER_ADMIN: "a member's administrator casts its vote in the assembly",
    AccessReason.INACTIVE_MEMBER: "your member is not active and has no vote",
    AccessReason.NOT_CHAIR: "only the committee's chair refuses a resolution (art. 11(9))",
    AccessReason.NOT_ORDINARY: (
        "the chair refuses ordinary resolutions only (art. 11(9)); restrictions and "
        "expulsions are decided by art. 8"
    ),
    AccessReason.ASSEMBLY: "recusal is for the committee's seats (art. 11(6))",
    AccessReason.NOT_SECRETARIAT: "only the secretariat does this",
}


def _closed() -> Conflict:
    return Conflict("the resolution is closed", code="closed")


def _tally(tally: Tally) -> dict[str, int]:
    return {
        "yes": tally.yes,
        "no": tally.no,
        "abstain": tally.abstain,
        "recused": tally.recused,
        "seats": tally.seats,
        "entitled": tally.entitled,
    }


async def resolution_loop(service: ResolutionService, interval: timedelta) -> None:
    """Close resolutions at their deadline, at once and then every `interval`, until
    cancelled (on the leader replica, beside the obligation sweeper)."""
    while True:
        try:
            await service.close_due()
        except Exception:
            # Retried on the next tick; each decision is one transaction.
            log.exception("resolution_sweep_failed")
        await asyncio.sleep(interval.total_seconds())
