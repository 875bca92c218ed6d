"""The item use cases over an in-memory unit of work: consent, break-glass,
refused reads and withdrawal, with real sealing under an in-memory key ring."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from broker.crypto import KeyRing
from broker.domain import (
    Actor,
    AuditAction,
    Body,
    BodyKind,
    Confidence,
    EventKind,
    Group,
    ItemKind,
    ItemStatus,
    Role,
    Scope,
    Tier,
    Tlp,
)
from broker.domain.items import PendingConsent, SubmitResult, VersionChange
from broker.errors import Conflict, Forbidden, NotFound
from broker.feedback import Obligation, ObligationStatus
from broker.services.auditor import Auditor
from broker.services.directory import Directory
from broker.services.items import ItemService
from broker.services.keyring import Keys
from broker.services.stix_refs import StixRefs
from broker.services.submissions import SubmissionService, SubmitDraft
from tests.service.fakes import FakeStore

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DUE = {ItemKind.ANALYSIS: timedelta(days=14), ItemKind.COUNTERMEASURE: timedelta(days=7)}
REASON = "dispute between A and B over who saw the report first"


class _Obligations:
    """Obligations in memory, as far as the item use cases touch them."""

    def __init__(self) -> None:
        self.owed: dict[str, Obligation] = {}
        self.erased: list[str] = []

    async def members_owing(self, item_id: str) -> set[str]:
        return {ob.member_id for ob in self.owed.values() if ob.item_id == item_id}

    async def add(self, owed: Sequence[Obligation], created_at: datetime) -> None:
        self.owed.update({ob.id: ob for ob in owed})

    async def open_on_item(
        self, item_id: str, *, except_members: Sequence[str] = ()
    ) -> list[Obligation]:
        return [
            ob
            for ob in self.owed.values()
            if ob.item_id == item_id
            and ob.status is ObligationStatus.OPEN
            and ob.member_id not in except_members
        ]

    async def lift(self, ids: Sequence[str], status: ObligationStatus, at: datetime) -> int:
        lifted = [i for i in ids if self.owed[i].status is ObligationStatus.OPEN]
        for i in lifted:
            self.owed[i] = Obligation(
                id=i,
                member_id=self.owed[i].member_id,
                item_id=self.owed[i].item_id,
                kind=self.owed[i].kind,
                due_at=self.owed[i].due_at,
                status=status,
            )
        return len(lifted)

    async def erase_comments(self, item_id: str) -> None:
        self.erased.append(item_id)


class _Store(FakeStore):
    """The fake store whose batched submission also writes the rows of the other
    aggregates, as the real one does in the same transaction."""

    async def write_submission(self, prepared: Any) -> Any:
        async with self.write() as uow:
            result = await uow.items.write_submission(prepared)
            if uow.items.written and uow.items.written[-1] is prepared:
                await uow.obligations.add(prepared.obligations, prepared.created_at)
                await uow.feed.append(prepared.events)
                await uow.audit.append([prepared.audit])
            return result


def _body(body_id: str, tier: Tier = Tier.TIER_ONE, **fields: Any) -> Body:
    return Body(id=body_id, tier=tier, has_handler=True, **fields)


def _actor(body: Body, *, handler: bool = True) -> Actor:
    return Actor(
        user_id=f"user-{body.id}",
        user_name=body.id,
        role=Role.MEMBER_USER,
        body=body,
        is_handler=handler,
    )


BODIES = {
    "vendor-a": _body("vendor-a"),
    "vendor-b": _body("vendor-b"),
    "vendor-c": _body("vendor-c"),
    "power": _body("power", Tier.TIER_TWO),
    "coord": _body("coord", Tier.NONE, kind=BodyKind.COORDINATOR),
    "sec": _body("sec", Tier.NONE, kind=BodyKind.SECRETARIAT),
}
A, B, C, POWER, SEC = (
    _actor(BODIES[i]) for i in ("vendor-a", "vendor-b", "vendor-c", "power", "sec")
)


class World:
    """The item and submission services over one fake store."""

    def __init__(self) -> None:
        self.store = _Store()
        self.store.uow.members.bodies = dict(BODIES)
        self.obligations = self.store.uow.obligations = _Obligations()  # type: ignore[assignment]
        clock = lambda: NOW  # noqa: E731
        keys = Keys(KeyRing.generate())
        auditor = Auditor(self.store, clock)  # type: ignore[arg-type]
        refs = StixRefs(store=self.store, keys=keys)  # type: ignore[arg-type]
        self.submissions = SubmissionService(
            store=self.store,  # type: ignore[arg-type]
            clock=clock,
            keys=keys,
            directory=Directory(self.store, clock, timedelta(minutes=1)),  # type: ignore[arg-type]
            auditor=auditor,
            due_defaults=DUE,
            stix_refs=refs,
        )
        self.items = ItemService(
            store=self.store,  # type: ignore[arg-type]
            clock=clock,
            keys=keys,
            auditor=auditor,
            due_defaults=DUE,
            stix_refs=refs,
        )

    @property
    def audit(self) -> list[Any]:
        """Every audit draft recorded so far, in order."""
        return list(self.store.uow.audit.drafts)

    async def submit(self, actor: Actor, key: str | None = None, **fields: Any) -> SubmitResult:
        """Submit an AMBER analysis for the tier-one group, overridable field by field."""
        values: dict[str, Any] = {
            "kind": ItemKind.ANALYSIS,
            "title": "file-sharing exploit, worm-like spread",
            "body": "unpatched PCs infected on boot",
            "stix": None,
            "tlp": Tlp.AMBER,
            "secret": False,
            "confidence": Confidence.UNCONFIRMED,
            "scope": Scope(groups=frozenset({Group.TIER_ONE_GROUP})),
            "derived_from": (),
            "victim": None,
            "feedback_due": None,
        }
        values.update(fields)
        sent = {k: str(v) for k, v in values.items()}
        draft = SubmitDraft(**values, as_sent=lambda: sent)
        return await self.submissions.submit(actor, draft, key)


@pytest.fixture
def world() -> World:
    return World()


async def _derived(world: World) -> tuple[SubmitResult, SubmitResult]:
    source = await world.submit(A)
    derived = await world.submit(
        B,
        kind=ItemKind.COUNTERMEASURE,
        confidence=Confidence.LOW,
        title="do not boot unpatched PCs",
        derived_from=(source.id,),
        scope=Scope(groups=frozenset({Group.TIER_TWO})),
    )
    return source, derived


async def test_a_derived_items_wider_reach_waits_for_each_unconsented_source_provider(
    world: World,
) -> None:
    """Deriving for a wider audience than the source's asks its provider and is clipped."""
    source, derived = await _derived(world)
    assert derived.pending_consents == (PendingConsent(source.id, "vendor-a"),)
    with pytest.raises(NotFound):
        await world.items.read(POWER, derived.id)
    assert world.audit[-1].reason is not None
    assert "outside_ceiling" in world.audit[-1].reason.split(",")
    waiting = await world.items.pending_consents(A)
    assert [(r.item.id, r.source_item_ids) for r in waiting] == [(derived.id, (source.id,))]
    assert await world.items.pending_consents(C) == ()


async def test_consent_makes_a_new_scope_version_and_lifts_the_ceiling(world: World) -> None:
    """The source provider's consent is a new scope version that reaches the asked scope."""
    source, derived = await _derived(world)
    result = await world.items.consent(A, source.id, derived.id)
    assert (result.version, result.change, result.pending_consents) == (
        2,
        VersionChange.CONSENT,
        (),
    )
    stored = world.store.uow.items.items[derived.id]
    assert (stored.scope_version, stored.facts.constraints) == (2, ())
    opened = await world.items.read(POWER, derived.id)
    assert opened.content is not None
    assert opened.content.title == "do not boot unpatched PCs"
    consent_audit = [d for d in world.audit if d.action is AuditAction.ITEM_CONSENT]
    assert consent_audit[-1].details["change"] == "consent"
    assert consent_audit[-1].details["pending_consents"] == []
    assert await world.items.pending_consents(A) == ()


async def test_a_non_provider_cannot_consent(world: World) -> None:
    """Only the source's provider lifts its ceiling; another's attempt is audited."""
    source, derived = await _derived(world)
    with pytest.raises(Forbidden):
        await world.items.consent(C, source.id, derived.id)
    denial = world.audit[-1]
    assert (denial.action, denial.outcome, denial.item_id) == (
        AuditAction.ITEM_CONSENT,
        "denied",
        source.id,
    )
    assert world.store.uow.items.items[derived.id].scope_version == 1
    assert await world.items.pending_consents(A) != ()


async def test_break_glass_is_the_secretariats_alone_and_a_denial_is_audited(
    world: World,
) -> None:
    """A member's break-glass read is refused and audited as not_secretariat."""
    item = await world.submit(A)
    with pytest.raises(Forbidden):
        await world.items.break_glass(B, item.id, REASON)
    denial = world.audit[-1]
    assert (denial.action, denial.outcome, denial.reason) == (
        AuditAction.ITEM_BREAK_GLASS,
        "denied",
        "not_secretariat",
    )


async def test_break_glass_read_opens_the_item_and_audits_the_written_reason(
    world: World,
) -> None:
    """The secretariat opens one item through break-glass; the reason is in the audit."""
    item = await world.submit(A)
    with pytest.raises(NotFound):
        await world.items.read(SEC, item.id)  # the secretariat reads nothing otherwise
    opened = await world.items.break_glass(SEC, item.id, REASON)
    assert opened.content is not None
    assert opened.content.title == "file-sharing exploit, worm-like spread"
    assert opened.handling is not None
    last = world.audit[-1]
    assert (last.action, last.outcome, last.details) == (
        AuditAction.ITEM_BREAK_GLASS,
        "allowed",
        {"written_reason": REASON},
    )


async def test_reading_an_item_one_may_not_see_is_not_found_with_the_reason_audited(
    world: World,
) -> None:
    """An item outside the reader's reach answers as if absent; only the audit says why."""
    item = await world.submit(A)
    with pytest.raises(NotFound) as outside:
        await world.items.read(POWER, item.id)
    refused = world.audit[-1]
    assert (refused.action, refused.outcome, refused.item_id) == (
        AuditAction.ITEM_READ,
        "denied",
        item.id,
    )
    assert refused.reason is not None
    assert "out_of_scope" in refused.reason.split(",")
    with pytest.raises(NotFound) as absent:
        await world.items.read(POWER, "no-such-item")
    assert world.audit[-1].reason == "not_found"
    assert str(outside.value) == str(absent.value)


async def test_withdrawal_cancels_obligations_and_erases_the_content(world: World) -> None:
    """Withdrawing cancels what recipients owe, destroys the content, tells the audience."""
    item = await world.submit(A)
    owed = [ob for ob in world.obligations.owed.values() if ob.item_id == item.id]
    assert owed and all(ob.status is ObligationStatus.OPEN for ob in owed)
    withdrawal = await world.items.withdraw(A, item.id)
    assert withdrawal.withdrawn_at == NOW
    assert all(world.obligations.owed[ob.id].status is ObligationStatus.CANCELLED for ob in owed)
    assert world.obligations.erased == [item.id]
    stored = world.store.uow.items.items[item.id]
    assert stored.facts.status is ItemStatus.WITHDRAWN
    assert (stored.ciphertext, stored.wrapped_key, stored.nonce) == (None, None, None)
    assert world.store.uow.feed.events[-1].kind is EventKind.WITHDRAWN
    with pytest.raises(NotFound):
        await world.items.read(B, item.id)
    metadata = await world.items.read(A, item.id)  # the provider keeps the metadata
    assert (metadata.content, metadata.handling) == (None, None)


async def test_only_the_provider_withdraws(world: World) -> None:
    """Another reader's withdrawal is refused and changes nothing."""
    item = await world.submit(A)
    with pytest.raises(Forbidden):
        await world.items.withdraw(B, item.id)
    assert world.store.uow.items.items[item.id].facts.status is ItemStatus.ACTIVE


async def test_a_retried_idempotency_key_replays_and_a_different_request_conflicts(
    world: World,
) -> None:
    """The same keyed request answers the first result; a different one under the key conflicts."""
    first = await world.submit(A, key="k-1")
    assert await world.submit(A, key="k-1") == first
    assert len(world.store.uow.items.items) == 1
    with pytest.raises(Conflict):
        await world.submit(A, key="k-1", title="another report")


async def test_the_inbox_pages_what_the_reader_may_open(world: World) -> None:
    """Inbox pages hold only readable items, newest first, with a cursor between them."""
    ids = [(await world.submit(A, title=f"report {n}")).id for n in range(3)]
    first = await world.items.inbox(B, 2, None, False)
    assert [s.item.id for s in first.items] == sorted(ids, reverse=True)[:2]
    assert first.next_cursor is not None
    rest = await world.items.inbox(B, 2, first.next_cursor, False)
    assert [s.item.id for s in rest.items] == sorted(ids, reverse=True)[2:]
    assert rest.next_cursor is None
    assert (await world.items.inbox(POWER, 2, None, False)).items == ()
