"""Creating, cancelling and closing obligations inside the item and member use cases.

These run INSIDE the caller's unit of work (`SubmissionService.submit`,
`ItemService.withdraw`, `MemberService.update_member`), so an item and the
obligations it creates, or a withdrawal and the obligations it cancels, commit
together or not at all. Who owes what is decided by the pure
`broker.feedback` package; this module only stores its answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from broker.domain import Body, EventDraft, EventKind, ItemFacts, ItemKind, MemberStatus
from broker.domain.timestamps import rfc3339
from broker.feedback import (
    Obligation,
    ObligationSpec,
    ObligationStatus,
    cancel_for_withdrawal,
    close_for_departure,
    creates_obligations,
    obligations_for,
)
from broker.services.ids import new_id
from broker.settings import Settings
from broker.store.obligations_repo import as_utc
from broker.store.uow import UnitOfWork

__all__ = [
    "DEPARTED_STATUSES",
    "DuePeriods",
    "cancel_for_item",
    "close_for_member",
    "create_obligations",
    "due_periods",
    "reconcile_obligations",
]

DEPARTED_STATUSES = frozenset(
    {MemberStatus.RESTRICTED, MemberStatus.WITHDRAWN, MemberStatus.EXPELLED}
)
"""Statuses under which a member owes nothing any more (charter art. 7, 8)."""


DuePeriods = Mapping[ItemKind, timedelta]
"""How long recipients have by default, per item kind (SPEC §4; the settings)."""


def due_periods(settings: Settings) -> DuePeriods:
    """The settings' default due periods per item kind (SPEC §4)."""
    return {
        ItemKind.ANALYSIS: settings.feedback_due_analysis,
        ItemKind.COUNTERMEASURE: settings.feedback_due_countermeasure,
    }


async def create_obligations(
    uow: UnitOfWork,
    facts: ItemFacts,
    recipients: Mapping[str, Body],
    due_at: datetime | None,
    defaults: DuePeriods,
    now: datetime,
) -> list[ObligationSpec]:
    """Store what `recipients` owe on `facts`, in the caller's unit of work.

    `recipients` are the bodies the item is delivered to (the routing's
    recipients). `due_at` is the item's `feedback_due`; without one the
    kind's default applies. Idempotent per member and item: a member that
    already has an obligation on the item (say, delivered again by a wider
    scope version) gets no second one. Each new obligation is also an
    `obligation` event for the owing member's live stream.
    """
    at = as_utc(now)
    owed, drafts = new_obligations(facts, recipients, due_at, defaults, at)
    if not owed:
        return []
    existing = await uow.obligations.members_owing(facts.id)
    fresh = [i for i, ob in enumerate(owed) if ob.member_id not in existing]
    if not fresh:
        return []
    await uow.obligations.add([owed[i] for i in fresh], at)
    await uow.feed.append([drafts[i] for i in fresh])
    return [_spec_of(owed[i]) for i in fresh]


def new_obligations(
    facts: ItemFacts,
    recipients: Mapping[str, Body],
    due_at: datetime | None,
    defaults: DuePeriods,
    at: datetime,
) -> tuple[list[Obligation], list[EventDraft]]:
    """The obligations and `obligation` events a first delivery of `facts` creates.

    No IO: the batched submission writer stores them with the item itself.
    """
    if not creates_obligations(facts.kind, facts.confidence):
        return [], []  # e.g. high-confidence countermeasures: nobody owes anything
    if due_at is None:
        default = defaults.get(facts.kind)
        if default is None:
            return [], []  # notices and early warnings create no obligation (broker.feedback)
        due_at = at + default
    bodies = [recipients[member_id] for member_id in sorted(recipients)]
    specs = obligations_for(
        facts.id, facts.provider_id, facts.kind, facts.confidence, bodies, as_utc(due_at)
    )
    owed = [Obligation.from_spec(new_id(), spec) for spec in specs]
    due_text = {ob.due_at: rfc3339(ob.due_at) for ob in owed}  # one due time per item
    drafts = [
        EventDraft(
            member_id=ob.member_id,
            kind=EventKind.OBLIGATION,
            item_id=ob.item_id,
            created_at=at,
            payload={
                "obligation_id": ob.id,
                "item_id": ob.item_id,
                "kind": ob.kind.value,
                "due_at": due_text[ob.due_at],
            },
        )
        for ob in owed
    ]
    return owed, drafts


def _spec_of(ob: Obligation) -> ObligationSpec:
    return ObligationSpec(
        member_id=ob.member_id, item_id=ob.item_id, kind=ob.kind, due_at=ob.due_at
    )


async def cancel_for_item(uow: UnitOfWork, item_id: str, now: datetime) -> int:
    """The provider withdrew `item_id`: its open obligations are cancelled.

    Answers already given stay (the ledger credits them, SPEC §4), but their
    comments are erased with the item's content: they discuss an item whose
    provider asked for it to be destroyed. Returns how many were cancelled.
    """
    cancelled = [
        ob.id
        for ob in await uow.obligations.open_on_item(item_id)
        if cancel_for_withdrawal(ob).status is ObligationStatus.CANCELLED
    ]
    count = await uow.obligations.lift(cancelled, ObligationStatus.CANCELLED, as_utc(now))
    await uow.obligations.erase_comments(item_id)
    return count


async def reconcile_obligations(
    uow: UnitOfWork,
    facts: ItemFacts,
    recipients: Mapping[str, Body],
    due_at: datetime | None,
    defaults: DuePeriods,
    now: datetime,
) -> tuple[list[ObligationSpec], int]:
    """A new scope version of `facts` reaches `recipients`: bring the obligations in line.

    For a scope change or a consent, in its unit of work. Members the item
    now reaches for the first time owe what `create_obligations` says; members
    it no longer reaches (a narrowed scope, charter art. 17(1)) cannot open it
    any more, so what they still owe is cancelled rather than left to count as
    missing. Answers given stay. Returns the new obligations and how many were
    cancelled.
    """
    created = await create_obligations(uow, facts, recipients, due_at, defaults, now)
    dropped = [
        ob.id
        for ob in await uow.obligations.open_on_item(facts.id, except_members=sorted(recipients))
        if cancel_for_withdrawal(ob).status is ObligationStatus.CANCELLED
    ]
    return created, await uow.obligations.lift(dropped, ObligationStatus.CANCELLED, as_utc(now))


async def close_for_member(uow: UnitOfWork, member_id: str, now: datetime) -> int:
    """`member_id` was restricted, withdrew or was expelled: its open obligations close.

    Closed, not missing: a member that receives nothing any more (charter
    art. 7, 8(2)) cannot be asked to answer, and the ledger does not count
    it against the member. Returns how many were closed.
    """
    closed = [
        ob.id
        for ob in await uow.obligations.open_of_member(member_id)
        if close_for_departure(ob).status is ObligationStatus.CLOSED
    ]
    return await uow.obligations.lift(closed, ObligationStatus.CLOSED, as_utc(now))
