"""The feedback use cases over an in-memory unit of work: who owes what, and answering it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from broker.crypto import KeyRing
from broker.domain import (
    Actor,
    AuditAction,
    Body,
    BodyKind,
    Category,
    Confidence,
    EventKind,
    Group,
    ItemFacts,
    ItemKind,
    ItemStatus,
    MemberStatus,
    Role,
    Scope,
    Tier,
    Tlp,
)
from broker.domain.obligations import AnswerChange, SweepReport
from broker.errors import Conflict, Forbidden, InvalidInput, NotFound
from broker.feedback import ObligationKind, ObligationStatus
from broker.services.auditor import Auditor
from broker.services.feedback import FeedbackService
from broker.services.keyring import Keys
from broker.services.obligations import create_obligations
from broker.services.sweeper import Sweeper
from tests.conftest import ManualClock
from tests.service.fakes import FakeStore
from tests.service.fakes.members import FakeMemberRepository

START = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
DEFAULTS = {ItemKind.ANALYSIS: timedelta(days=3), ItemKind.COUNTERMEASURE: timedelta(hours=4)}

VENDOR = Body(id="vendor", tier=Tier.TIER_ONE, category=Category.CYBER_BUSINESS)
PEER = Body(id="peer", tier=Tier.TIER_ONE, category=Category.CYBER_BUSINESS)
POWER = Body(id="power", tier=Tier.TIER_TWO, category=Category.CRITICAL_INFRASTRUCTURE)
WATER = Body(id="water", tier=Tier.TIER_TWO, category=Category.LOCAL_GOVERNMENT)
MAKER = Body(id="maker", tier=Tier.NONE, category=Category.OTHER)
COORDINATOR = Body(id="coord", kind=BodyKind.COORDINATOR, category=Category.GOVERNMENT)
EVERYONE = {b.id: b for b in (VENDOR, PEER, POWER, WATER, MAKER, COORDINATOR)}


def _facts(kind: ItemKind, confidence: Confidence = Confidence.LOW) -> ItemFacts:
    return ItemFacts(
        id=f"item{kind.value}{confidence.value}".replace("_", ""),
        provider_id=VENDOR.id,
        kind=kind,
        confidence=confidence,
        tlp=Tlp.AMBER,
        secret=False,
        scope=Scope(groups=frozenset({Group.TASK_FORCE})),
    )


def _actor(body: Body) -> Actor:
    return Actor(
        user_id=f"{body.id}user",
        user_name=body.id,
        role=Role.MEMBER_USER,
        body=body,
        is_handler=True,
    )


@dataclass(frozen=True)
class _Stored:
    """What the feedback service reads of a stored item here: its id, facts and due time."""

    facts: ItemFacts
    feedback_due: datetime | None = None

    @property
    def id(self) -> str:
        return self.facts.id


class _Items:
    """The items the answers are on (only `get` and `get_many` are used here)."""

    def __init__(self, *facts: ItemFacts) -> None:
        self.found = {f.id: _Stored(f) for f in facts}

    async def get(self, item_id: str) -> _Stored | None:
        return self.found.get(item_id)

    async def get_many(self, item_ids: list[str]) -> dict[str, _Stored]:
        return {i: self.found[i] for i in item_ids if i in self.found}


class _Members(FakeMemberRepository):
    """The bodies, with the names `MemberRepository.names` gives (their ids, upper-cased)."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies = dict(EVERYONE)

    async def names(self, member_ids: list[str]) -> dict[str, str]:
        return {i: i.upper() for i in member_ids if i in self.bodies}


async def _create(store: FakeStore, facts: ItemFacts, now: datetime) -> list[str]:
    async with store.write() as uow:
        specs = await create_obligations(uow, facts, EVERYONE, None, DEFAULTS, now)  # type: ignore[arg-type]
    return [s.member_id for s in specs]


def _owed(store: FakeStore) -> dict[tuple[str, str], ObligationKind]:
    return {(ob.item_id, ob.member_id): ob.kind for ob in store.uow.obligations.all()}


async def test_a_countermeasure_of_low_confidence_obliges_the_tier_two_recipients_only() -> None:
    """Tier-two recipients owe a quick answer by the kind's default; nobody else owes anything."""
    store = FakeStore()
    facts = _facts(ItemKind.COUNTERMEASURE)
    assert sorted(await _create(store, facts, START)) == ["power", "water"]
    assert _owed(store) == {
        (facts.id, "power"): ObligationKind.QUICK_ANSWER,
        (facts.id, "water"): ObligationKind.QUICK_ANSWER,
    }
    assert {ob.due_at for ob in store.uow.obligations.all()} == {START + timedelta(hours=4)}


async def test_an_analysis_obliges_tier_one_and_the_coordinator_but_never_the_provider() -> None:
    """Expert feedback is owed by tier one and the coordinator; the provider owes none."""
    store = FakeStore()
    facts = _facts(ItemKind.ANALYSIS)
    assert sorted(await _create(store, facts, START)) == ["coord", "peer"]
    assert set(_owed(store).values()) == {ObligationKind.EXPERT_FEEDBACK}


async def test_a_high_confidence_countermeasure_obliges_nobody() -> None:
    """High-confidence countermeasures go out for use: no obligation, no event."""
    store = FakeStore()
    assert await _create(store, _facts(ItemKind.COUNTERMEASURE, Confidence.HIGH), START) == []
    assert store.uow.obligations.all() == []
    assert store.uow.feed.events == []


async def test_obligations_are_created_once_per_member_and_item_each_with_its_event() -> None:
    """A second delivery of the same item creates nothing new; each obligation got one event."""
    store = FakeStore()
    facts = _facts(ItemKind.COUNTERMEASURE)
    await _create(store, facts, START)
    assert await _create(store, facts, START + timedelta(minutes=5)) == []
    assert len(store.uow.obligations.all()) == 2
    events = store.uow.feed.events
    assert [(e.kind, e.member_id) for e in events] == [
        (EventKind.OBLIGATION, ob.member_id) for ob in store.uow.obligations.all()
    ]
    assert {e.payload["obligation_id"] for e in events} == {
        ob.id for ob in store.uow.obligations.all()
    }


@pytest.fixture
def clock() -> ManualClock:
    """A clock standing at the start, moved by hand."""
    return ManualClock(START)


@pytest.fixture
async def answering(clock: ManualClock) -> tuple[FakeStore, FeedbackService, ItemFacts]:
    """A low-confidence countermeasure the tier-two members owe a quick answer on."""
    store = FakeStore()
    facts = _facts(ItemKind.COUNTERMEASURE)
    store.uow.items = _Items(facts)  # type: ignore[assignment]
    store.uow.members = _Members()
    await _create(store, facts, START)
    service = FeedbackService(
        store=store,  # type: ignore[arg-type]
        clock=clock,
        keys=Keys(KeyRing.generate()),
        auditor=Auditor(store, clock),  # type: ignore[arg-type]
    )
    return store, service, facts


async def test_a_member_answers_only_what_its_own_member_owes(
    answering: tuple[FakeStore, FeedbackService, ItemFacts],
) -> None:
    """A member that owes nothing on a readable item is refused and the refusal audited."""
    store, service, facts = answering
    with pytest.raises(Forbidden):
        await service.answer(_actor(PEER), facts.id, "confirm", None)
    denied = store.uow.audit.drafts[-1]
    assert (denied.action, denied.outcome, denied.reason) == (
        AuditAction.FEEDBACK_ANSWER,
        "denied",
        "no_obligation",
    )
    assert all(ob.verdict is None for ob in store.uow.obligations.all())


async def test_an_unknown_item_is_a_404_revealing_nothing(
    answering: tuple[FakeStore, FeedbackService, ItemFacts],
) -> None:
    """Answering on an item that does not exist is the same 404 as one the caller may not see."""
    store, service, _ = answering
    with pytest.raises(NotFound):
        await service.answer(_actor(POWER), "nosuchitem", "came", None)
    assert store.uow.audit.drafts[-1].reason == "not_found"


async def test_the_verdict_must_fit_the_obligation_kind(
    answering: tuple[FakeStore, FeedbackService, ItemFacts],
) -> None:
    """A tier-two member cannot confirm (an expert verdict): 422 on `verdict`, nothing stored."""
    store, service, facts = answering
    with pytest.raises(InvalidInput) as refused:
        await service.answer(_actor(POWER), facts.id, "confirm", None)
    assert refused.value.field == "verdict"
    assert store.uow.audit.drafts[-1].reason == "invalid_verdict"
    assert all(ob.status is ObligationStatus.OPEN for ob in store.uow.obligations.all())


async def test_an_answer_changes_until_due_then_locks_and_a_late_first_answer_is_flagged(
    answering: tuple[FakeStore, FeedbackService, ItemFacts], clock: ManualClock
) -> None:
    """Before the due time an answer may change; after it, a given answer is locked while a
    first answer is still accepted, counted late, and the provider is told so."""
    store, service, facts = answering
    first = await service.answer(_actor(POWER), facts.id, "came", "seen on two hosts")
    assert (first.change, first.obligation.late) == (AnswerChange.FIRST, False)
    changed = await service.answer(_actor(POWER), facts.id, "not_came", None)
    assert (changed.change, changed.obligation.changes) == (AnswerChange.CHANGED, 1)
    clock.advance(hours=5)
    with pytest.raises(Conflict):
        await service.answer(_actor(POWER), facts.id, "came", None)
    assert store.uow.audit.drafts[-1].reason == "answer_locked"
    late = await service.answer(_actor(WATER), facts.id, "unknown", None)
    assert (late.change, late.obligation.late, late.overdue) == (AnswerChange.FIRST, True, False)
    feedback = [e for e in store.uow.feed.events if e.kind is EventKind.FEEDBACK]
    assert [(e.member_id, e.payload["change"], e.payload["late"]) for e in feedback] == [
        (VENDOR.id, "first", False),
        (VENDOR.id, "changed", False),
        (VENDOR.id, "first", True),
    ]


async def test_a_comment_is_stored_sealed_and_opens_for_the_member_that_wrote_it(
    answering: tuple[FakeStore, FeedbackService, ItemFacts],
) -> None:
    """The repository holds only ciphertext; the member's own view opens it again."""
    store, service, facts = answering
    await service.answer(_actor(POWER), facts.id, "came", "seen on two hosts")
    (sealed,) = [s for s in store.uow.obligations.stored.values() if s.comment is not None]
    assert sealed.obligation.comment is None
    assert b"seen on two hosts" not in sealed.comment.ciphertext
    seen = await service.feedback(_actor(POWER), facts.id)
    assert seen.view == "own"
    assert seen.own is not None and seen.own.obligation.comment == "seen on two hosts"
    assert seen.summary is None and seen.answers is None


async def test_the_provider_sees_every_answer_and_tier_one_only_counts_plus_its_own(
    answering: tuple[FakeStore, FeedbackService, ItemFacts],
) -> None:
    """The provider's view names each answering member; a tier-one peer gets the counts."""
    store, service, facts = answering
    await service.answer(_actor(POWER), facts.id, "came", None)
    provider = await service.feedback(_actor(VENDOR), facts.id)
    assert provider.view == "individual" and provider.answers is not None
    assert [(a.answer.obligation.member_id, a.member_name, a.tier) for a in provider.answers] == [
        (ob.member_id, ob.member_id.upper(), EVERYONE[ob.member_id].tier)
        for ob in store.uow.obligations.all()
    ]
    peer = await service.feedback(_actor(PEER), facts.id)
    assert peer.view == "aggregate" and peer.answers is None and peer.own is None
    assert peer.summary is not None
    assert (peer.summary.quick_answers.came, peer.summary.quick_answers.pending) == (1, 1)


async def test_the_sweeper_reminds_once_before_the_deadline_and_marks_overdue_once_after(
    clock: ManualClock,
) -> None:
    """Each open obligation gets one reminder within the lead and one overdue mark past due;
    an answered one gets neither, and a repeated pass sends nothing."""
    store = FakeStore()
    facts = _facts(ItemKind.COUNTERMEASURE)
    await _create(store, facts, START)
    power = next(ob for ob in store.uow.obligations.all() if ob.member_id == POWER.id)
    store.uow.obligations.change(
        power.id, status=ObligationStatus.ANSWERED, verdict="came", answered_at=START
    )
    sweeper = Sweeper(
        store=store,  # type: ignore[arg-type]
        clock=clock,
        auditor=Auditor(store, clock),  # type: ignore[arg-type]
        reminder_lead=timedelta(hours=1),
    )
    assert await sweeper.run_once() == SweepReport(0, 0)
    clock.advance(hours=3, minutes=30)
    assert await sweeper.run_once() == SweepReport(reminded=1, overdue=0)
    assert await sweeper.run_once() == SweepReport(0, 0)
    clock.advance(hours=1)
    assert await sweeper.run_once() == SweepReport(reminded=0, overdue=1)
    assert await sweeper.run_once() == SweepReport(0, 0)
    sent = [(e.kind, e.member_id) for e in store.uow.feed.events if e.kind != EventKind.OBLIGATION]
    assert sent == [(EventKind.REMINDER, WATER.id), (EventKind.OVERDUE, WATER.id)]
    (overdue,) = [d for d in store.uow.audit.drafts if d.action is AuditAction.OBLIGATION_OVERDUE]
    assert (overdue.actor_member_id, overdue.subject_member_id) == (None, WATER.id)


async def test_a_tier_two_provider_sees_counts_without_cells_that_name_a_member(
    clock: ManualClock,
) -> None:
    """SPEC §4: tier two sees its own answer only; the tier-two provider of an item
    sees the counts, never a per-category cell of fewer than three members — here
    the one local-government member's answer would be named by its cell."""
    store = FakeStore()
    facts = dataclasses.replace(_facts(ItemKind.COUNTERMEASURE), provider_id=POWER.id)
    store.uow.items = _Items(facts)  # type: ignore[assignment]
    store.uow.members = _Members()
    await _create(store, facts, START)
    service = FeedbackService(
        store=store,  # type: ignore[arg-type]
        clock=clock,
        keys=Keys(KeyRing.generate()),
        auditor=Auditor(store, clock),  # type: ignore[arg-type]
    )
    await service.answer(_actor(WATER), facts.id, "came", None)
    seen = await service.feedback(_actor(POWER), facts.id)
    assert seen.view == "counts" and seen.answers is None and seen.own is None
    assert seen.summary is not None
    assert seen.summary.quick_answers.came == 1
    assert dict(seen.summary.quick_answers_by_category) == {}
    assert dict(seen.summary.expert_feedback_by_category) == {}


async def test_a_restricted_member_lists_no_obligation_on_a_withdrawn_item(
    answering: tuple[FakeStore, FeedbackService, ItemFacts],
) -> None:
    """SPEC §3 rule 7, charter art. 8(2): a restricted member learns nothing, not even
    the obligations it had on items since withdrawn; an active one still lists them."""
    store, service, facts = answering
    gone = dataclasses.replace(facts, status=ItemStatus.WITHDRAWN)
    store.uow.items = _Items(gone)  # type: ignore[assignment]
    active = await service.obligations(_actor(POWER), 10, None, "all")
    assert [e.obligation.item_id for e in active.items] == [facts.id]
    restricted = _actor(dataclasses.replace(POWER, status=MemberStatus.RESTRICTED))
    assert (await service.obligations(restricted, 10, None, "all")).items == ()
