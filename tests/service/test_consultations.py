"""Consultations over an in-memory unit of work: who learns who asked (charter art. 16(3))."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from broker.crypto import KeyRing
from broker.domain import (
    Actor,
    AuditAction,
    Body,
    BodyKind,
    Category,
    EventKind,
    Role,
    Tier,
)
from broker.domain.consultations import Party
from broker.errors import Forbidden, IntegrityAlarm, NotFound
from broker.services.auditor import Auditor
from broker.services.consultations import ConsultationService
from broker.services.keyring import Keys
from broker.tlp import ConsultationRole
from tests.conftest import ManualClock
from tests.service.fakes import FakeStore
from tests.service.fakes.members import FakeMemberRepository

START = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)

ASKER = Body(id="rail", tier=Tier.TIER_TWO, category=Category.CRITICAL_INFRASTRUCTURE)
POWER = Body(id="power", tier=Tier.TIER_TWO, category=Category.CRITICAL_INFRASTRUCTURE)
PEER = Body(id="peer", tier=Tier.TIER_ONE, category=Category.CYBER_BUSINESS)
COORDINATOR = Body(id="coord", kind=BodyKind.COORDINATOR, category=Category.GOVERNMENT)
EVERYONE = {b.id: b for b in (ASKER, POWER, PEER, COORDINATOR)}


def _actor(body: Body) -> Actor:
    return Actor(
        user_id=f"{body.id}user",
        user_name=body.id,
        role=Role.MEMBER_USER,
        body=body,
        is_handler=True,
    )


class _Members(FakeMemberRepository):
    """The bodies, with the names `MemberRepository.names` gives (their ids, upper-cased)."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies = dict(EVERYONE)

    async def names(self, member_ids: list[str]) -> dict[str, str]:
        return {i: i.upper() for i in member_ids if i in self.bodies}


@pytest.fixture
def store() -> FakeStore:
    """A fake store knowing the four bodies."""
    fake = FakeStore()
    fake.uow.members = _Members()
    return fake


@pytest.fixture
def service(store: FakeStore) -> ConsultationService:
    """The consultation use cases over the fake store and an in-memory key ring."""
    clock = ManualClock(START)
    return ConsultationService(
        store=store,  # type: ignore[arg-type]
        clock=clock,
        keys=Keys(KeyRing.generate()),
        auditor=Auditor(store, clock),  # type: ignore[arg-type]
    )


async def test_only_the_coordinator_learns_who_asked(
    store: FakeStore, service: ConsultationService
) -> None:
    """The coordinator reads the asker's name; the tier-one group reads an anonymous party."""
    opened = await service.open(_actor(ASKER), "odd traffic", "since this morning", False)
    assert opened.role is ConsultationRole.CONSULTER and opened.mine
    by_coordinator = await service.read(_actor(COORDINATOR), opened.id)
    assert by_coordinator.consulter == Party(ASKER.id, "RAIL")
    by_peer = await service.read(_actor(PEER), opened.id)
    assert (by_peer.role, by_peer.consulter, by_peer.body) == (
        ConsultationRole.TIER_ONE,
        None,
        "since this morning",
    )
    # Only the addressees are told, and the log does not name the asker.
    told = [(e.kind, e.member_id) for e in store.uow.feed.events]
    assert told == [(EventKind.CONSULTATION, "coord"), (EventKind.CONSULTATION, "peer")]
    (opening,) = [d for d in store.uow.audit.drafts if d.action is AuditAction.CONSULTATION_OPEN]
    assert (opening.actor_member_id, opening.details["by"]) == (None, "consulter")


async def test_another_tier_two_member_cannot_see_the_consultation(
    store: FakeStore, service: ConsultationService
) -> None:
    """A member that neither asked nor is addressed gets the 404 of an absent consultation."""
    opened = await service.open(_actor(ASKER), "odd traffic", "since this morning", False)
    with pytest.raises(NotFound):
        await service.read(_actor(POWER), opened.id)
    page = await service.listing(_actor(POWER), 10, None)
    assert page.items == ()


async def test_the_tier_one_group_sees_an_anonymous_party_until_the_asker_reveals_itself(
    service: ConsultationService,
) -> None:
    """Revealing is the asker's choice alone; from then on the tier-one group sees who asked."""
    opened = await service.open(_actor(ASKER), "odd traffic", "since this morning", False)
    listed = await service.listing(_actor(PEER), 10, None)
    assert [(c.id, c.consulter) for c in listed.items] == [(opened.id, None)]
    with pytest.raises(Forbidden):
        await service.reveal(_actor(PEER), opened.id)
    revealed = await service.reveal(_actor(ASKER), opened.id)
    assert revealed.revealed_at == START
    by_peer = await service.read(_actor(PEER), opened.id)
    assert by_peer.consulter == Party(ASKER.id, "RAIL")


async def test_replies_keep_the_asker_anonymous(
    store: FakeStore, service: ConsultationService
) -> None:
    """An addressee's answer names its author and goes to the asker and the coordinator; the
    asker's follow-up shows the tier-one group no author, the coordinator its name."""
    opened = await service.open(_actor(ASKER), "odd traffic", "since this morning", False)
    answer = await service.reply(_actor(PEER), opened.id, "look at port 445")
    assert (answer.author, answer.from_consulter) == (Party(PEER.id, "PEER"), False)
    follow_up = await service.reply(_actor(ASKER), opened.id, "two hosts talk to it")
    assert follow_up.from_consulter
    by_peer = await service.read(_actor(PEER), opened.id)
    assert [(m.body, m.author) for m in by_peer.replies] == [
        ("look at port 445", Party(PEER.id, "PEER")),
        ("two hosts talk to it", None),
    ]
    assert by_peer.messages == 2
    by_coordinator = await service.read(_actor(COORDINATOR), opened.id)
    assert by_coordinator.replies[1].author == Party(ASKER.id, "RAIL")
    replies = [
        (e.member_id, e.payload["message_id"])
        for e in store.uow.feed.events
        if e.kind is EventKind.CONSULTATION_REPLY
    ]
    assert replies == [
        ("coord", answer.id),
        ("rail", answer.id),
        ("coord", follow_up.id),
        ("peer", follow_up.id),
    ]


async def test_stored_consultations_hold_ciphertext_bound_to_who_asked(
    store: FakeStore, service: ConsultationService
) -> None:
    """The store keeps no plaintext; a consultation moved to another asker fails to open."""
    opened = await service.open(_actor(ASKER), "odd traffic", "since this morning", False)
    stored = store.uow.consultations.stored[opened.id]
    assert b"since this morning" not in stored.sealed.ciphertext
    store.uow.consultations.stored[opened.id] = dataclasses.replace(stored, member_id=POWER.id)
    with pytest.raises(IntegrityAlarm):
        await service.read(_actor(COORDINATOR), opened.id)
    alarm = store.uow.audit.drafts[-1]
    assert (alarm.action, alarm.reason) == (
        AuditAction.INTEGRITY_ALARM,
        "stored_consultation_failed_authentication",
    )
