"""The audit log's queries and checkpoints over the in-memory unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest

from broker.audit import GENESIS, AuditChain, AuditEvent, Checkpoint, checkpoint_message
from broker.crypto import KeyRing
from broker.domain import Actor, AuditAction, AuditDraft, Body, BodyKind, Role
from broker.domain.audit import AuditFilter, AuditPage
from broker.errors import Forbidden
from broker.services.audit import AuditService, ring_verifier
from broker.services.auditor import Auditor
from broker.services.keyring import Keys
from tests.conftest import ManualClock
from tests.service.fakes import FakeStore
from tests.service.fakes.audit import FakeAuditRepository

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Chain(FakeAuditRepository):
    """The audit chain with its events chained and checkpoints kept, as the store keeps them."""

    def __init__(self) -> None:
        super().__init__()
        self.chain = AuditChain(head=GENESIS, size=0)
        self.events: list[AuditEvent] = []
        self.signed: list[Checkpoint] = []

    async def append(self, drafts: Sequence[AuditDraft]) -> None:
        """Chain and keep `drafts` in order."""
        await super().append(drafts)
        for d in drafts:
            self.events.append(
                self.chain.append(
                    id=d.id,
                    at=d.at,
                    action=str(d.action),
                    outcome=d.outcome,
                    actor_user_id=d.actor_user_id,
                    actor_member_id=d.actor_member_id,
                    item_id=d.item_id,
                    subject_member_id=d.subject_member_id,
                    reason=d.reason,
                    details=d.details,
                )
            )

    async def head(self) -> tuple[int, str]:
        """(size, head) of the chain."""
        return self.chain.size, self.chain.head

    async def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Keep a signed checkpoint."""
        self.signed.append(checkpoint)

    async def latest_checkpoint(self) -> Checkpoint | None:
        """The newest signed checkpoint, or None."""
        return max(self.signed, key=lambda c: c.size, default=None)

    async def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint, oldest first."""
        return sorted(self.signed, key=lambda c: c.size)

    async def page(self, filters: AuditFilter, *, after_seq: int | None, limit: int) -> AuditPage:
        """Events matching `filters` after `after_seq` (action and member only), oldest first."""
        found = [
            e
            for e in self.events
            if (after_seq is None or e.seq > after_seq)
            and (filters.action is None or e.action == filters.action)
            and (filters.member in (None, e.actor_member_id, e.subject_member_id))
        ]
        shown = tuple(found[:limit])
        return AuditPage(shown, shown[-1].seq if len(found) > limit else None)

    async def stream(self, batch: int = 2000) -> AsyncIterator[AuditEvent]:
        """Every event in chain order."""
        for event in self.events:
            yield event


def _actor(member: str, kind: BodyKind = BodyKind.MEMBER, role: Role = Role.MEMBER_USER) -> Actor:
    return Actor(
        user_id=f"{member}-user",
        user_name=member,
        role=role,
        body=Body(id=member, kind=kind),
        is_handler=False,
    )


SECRETARIAT = _actor("sec", BodyKind.SECRETARIAT, Role.COMMITTEE)
COORDINATOR = _actor("coord", BodyKind.COORDINATOR)
MEMBER_ADMIN = _actor("vendor", role=Role.MEMBER_ADMIN)


@pytest.fixture
def store() -> FakeStore:
    fake = FakeStore()
    fake.uow.audit = Chain()
    return fake


@pytest.fixture
def chain(store: FakeStore) -> Chain:
    audit = store.uow.audit
    assert isinstance(audit, Chain)
    return audit


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.generate()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def auditor(store: FakeStore, clock: ManualClock) -> Auditor:
    return Auditor(store, clock)  # type: ignore[arg-type]


@pytest.fixture
def service(store: FakeStore, ring: KeyRing, clock: ManualClock, auditor: Auditor) -> AuditService:
    return AuditService(
        store=store,  # type: ignore[arg-type]
        keys=Keys(ring),
        clock=clock,
        auditor=auditor,
        checkpoint_every=5,
    )


async def _seed(auditor: Auditor, count: int) -> None:
    for n in range(count):
        await auditor.record(
            auditor.draft(_actor(f"m{n % 2}"), AuditAction.ITEM_READ, item_id=f"item{n}")
        )


@pytest.mark.parametrize("reader", [SECRETARIAT, COORDINATOR], ids=["secretariat", "coordinator"])
async def test_auditors_page_through_the_log_and_the_query_is_audited(
    service: AuditService, auditor: Auditor, chain: Chain, reader: Actor
) -> None:
    """The secretariat and the coordinator read pages by seq cursor; each query is audited."""
    await _seed(auditor, 5)
    filters = AuditFilter(action="item.read")
    first = await service.query(reader, limit=3, after_seq=None, filters=filters)
    assert [e.seq for e in first.events] == [1, 2, 3] and first.next_seq == 3
    rest = await service.query(reader, limit=3, after_seq=first.next_seq, filters=filters)
    assert [e.seq for e in rest.events] == [4, 5] and rest.next_seq is None
    queried = chain.events[-1]
    assert (queried.action, queried.outcome, queried.actor_member_id, queried.details) == (
        AuditAction.AUDIT_QUERY,
        "allowed",
        reader.member_id,
        {"action": "item.read"},
    )


async def test_members_may_not_query_export_or_see_checkpoints_and_are_audited(
    service: AuditService, chain: Chain
) -> None:
    """Even a member's admin is refused the log (SPEC §5); every refusal is audited."""
    with pytest.raises(Forbidden):
        await service.query(MEMBER_ADMIN, limit=10, after_seq=None, filters=AuditFilter())
    with pytest.raises(Forbidden):
        await service.export(MEMBER_ADMIN)
    with pytest.raises(Forbidden):
        await service.latest_checkpoint(MEMBER_ADMIN)
    assert [(e.action, e.outcome, e.reason, e.actor_member_id) for e in chain.events] == [
        (AuditAction.AUDIT_QUERY, "denied", "not_auditor", "vendor"),
        (AuditAction.AUDIT_EXPORT, "denied", "not_auditor", "vendor"),
        (AuditAction.AUDIT_CHECKPOINT, "denied", "not_auditor", "vendor"),
    ]


async def test_the_export_is_audited_and_has_checkpoints_then_every_event(
    service: AuditService, auditor: Auditor, chain: Chain
) -> None:
    """An export is audited before it streams: checkpoints first, then the whole chain."""
    await _seed(auditor, 2)
    checkpoint = await service.checkpoint(force=True)
    records = [r async for r in await service.export(SECRETARIAT)]
    assert records[0] == checkpoint
    assert [r.seq for r in records[1:] if isinstance(r, AuditEvent)] == [1, 2, 3]
    assert chain.events[-1].action == AuditAction.AUDIT_EXPORT


async def test_checkpoints_are_signed_by_the_ring_when_the_log_grew_enough(
    service: AuditService, auditor: Auditor, chain: Chain, ring: KeyRing
) -> None:
    """Unforced, a checkpoint waits for `checkpoint_every` new events; it verifies with the ring."""
    await _seed(auditor, 4)
    assert await service.checkpoint() is None
    await _seed(auditor, 1)
    signed = await service.checkpoint()
    assert signed is not None and (signed.size, signed.head) == (5, chain.chain.head)
    message = checkpoint_message(signed.size, signed.head, signed.at)
    assert ring_verifier(ring)(signed.key_id, message, bytes.fromhex(signed.signature))
    assert await service.checkpoint(force=True) is None  # nothing new to sign
    assert await service.latest_checkpoint(COORDINATOR) == signed
