"""Creating, cancelling and closing obligations inside the item and member use cases.

These run INSIDE the caller's write transaction (`ItemService.submit`,
`ItemService.withdraw`, `MemberService.update_member`), so an item and the
obligations it creates, or a withdrawal and the obligations it cancels, commit
together or not at all. Who owes what is decided by the pure
`broker.feedback` package; this module only stores its answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from broker.domain import Body, EventDraft, EventKind, ItemFacts, ItemKind, MemberStatus
from broker.feedback import (
    Obligation,
    ObligationSpec,
    ObligationStatus,
    cancel_for_withdrawal,
    close_for_departure,
    creates_obligations,
    obligations_for,
)
from broker.services.core import Core, new_id, rfc3339
from broker.store.obligations_repo import (
    as_utc,
    insert_events,
    obligation_from_row,
    obligation_row,
)
from broker.store.tables import obligations

__all__ = [
    "DEPARTED_STATUSES",
    "cancel_for_item",
    "close_for_member",
    "create_obligations",
    "default_due_periods",
    "reconcile_obligations",
]

DEPARTED_STATUSES = frozenset(
    {MemberStatus.RESTRICTED, MemberStatus.WITHDRAWN, MemberStatus.EXPELLED}
)
"""Statuses under which a member owes nothing any more (charter art. 7, 8)."""


def default_due_periods(core: Core) -> dict[ItemKind, timedelta]:
    """How long recipients have by default, per item kind (SPEC §4; settings)."""
    return {
        ItemKind.ANALYSIS: core.settings.feedback_due_analysis,
        ItemKind.COUNTERMEASURE: core.settings.feedback_due_countermeasure,
    }


async def create_obligations(
    conn: AsyncConnection,
    core: Core,
    facts: ItemFacts,
    recipients: Mapping[str, Body],
    due_at: datetime | None,
    *,
    now: datetime | None = None,
) -> list[ObligationSpec]:
    """Store what `recipients` owe on `facts`, in the caller's transaction.

    `recipients` are the bodies the item is delivered to (the routing's
    recipients). `due_at` is the item's `feedback_due`; without one the
    kind's default from the settings applies. Idempotent per member and item:
    a member that already has an obligation on the item (say, delivered again
    by a wider scope version) gets no second one. Each new obligation is
    also an `obligation` event for the owing member's live stream.
    """
    at = as_utc(now or core.clock())
    owed, drafts = new_obligations(core, facts, recipients, due_at, at)
    if not owed:
        return []
    existing = set(
        (
            await conn.execute(
                select(obligations.c.member_id).where(obligations.c.item_id == facts.id)
            )
        ).scalars()
    )
    fresh = [i for i, ob in enumerate(owed) if ob.member_id not in existing]
    if not fresh:
        return []
    await conn.execute(obligations.insert(), [obligation_row(owed[i], at) for i in fresh])
    await insert_events(conn, [drafts[i] for i in fresh])
    return [_spec_of(owed[i]) for i in fresh]


def new_obligations(
    core: Core,
    facts: ItemFacts,
    recipients: Mapping[str, Body],
    due_at: datetime | None,
    at: datetime,
) -> tuple[list[Obligation], list[EventDraft]]:
    """The obligations and `obligation` events a first delivery of `facts` creates.

    No IO: the batched submission writer stores them with the item itself.
    """
    if not creates_obligations(facts.kind, facts.confidence):
        return [], []  # e.g. high-confidence countermeasures: nobody owes anything
    if due_at is None:
        default = default_due_periods(core).get(facts.kind)
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


async def cancel_for_item(conn: AsyncConnection, core: Core, item_id: str, now: datetime) -> int:
    """The provider withdrew `item_id`: its open obligations are cancelled.

    Answers already given stay (the ledger credits them, SPEC §4), but their
    comments are erased with the item's content: they discuss an item whose
    provider asked for it to be destroyed. Returns how many were cancelled.
    """
    rows = (
        await conn.execute(
            select(obligations).where(
                obligations.c.item_id == item_id,
                obligations.c.status == ObligationStatus.OPEN.value,
            )
        )
    ).all()
    cancelled = [
        ob.id
        for ob in map(obligation_from_row, rows)
        if cancel_for_withdrawal(ob).status is ObligationStatus.CANCELLED
    ]
    count = await _lift(conn, cancelled, ObligationStatus.CANCELLED, now)
    await conn.execute(
        update(obligations)
        .where(obligations.c.item_id == item_id, obligations.c.comment.is_not(None))
        .values(comment=None, comment_wrapped_key=None, comment_kek_version=None)
    )
    return count


async def reconcile_obligations(
    conn: AsyncConnection,
    core: Core,
    facts: ItemFacts,
    recipients: Mapping[str, Body],
    due_at: datetime | None,
    now: datetime,
) -> tuple[list[ObligationSpec], int]:
    """A new scope version of `facts` reaches `recipients`: bring the obligations in line.

    For `ItemService._new_version` (scope change, consent), in its write
    transaction. Members the item now reaches for the first time owe what
    `create_obligations` says; members it no longer reaches (a narrowed scope,
    charter art. 17(1)) cannot open it any more, so what they still owe is
    cancelled rather than left to count as missing. Answers given stay.
    Returns the new obligations and how many were cancelled.
    """
    created = await create_obligations(conn, core, facts, recipients, due_at, now=now)
    rows = (
        await conn.execute(
            select(obligations).where(
                obligations.c.item_id == facts.id,
                obligations.c.status == ObligationStatus.OPEN.value,
                obligations.c.member_id.not_in(sorted(recipients)),
            )
        )
    ).all()
    dropped = [
        ob.id
        for ob in map(obligation_from_row, rows)
        if cancel_for_withdrawal(ob).status is ObligationStatus.CANCELLED
    ]
    return created, await _lift(conn, dropped, ObligationStatus.CANCELLED, now)


async def close_for_member(conn: AsyncConnection, core: Core, member_id: str, now: datetime) -> int:
    """`member_id` was restricted, withdrew or was expelled: its open obligations close.

    Closed, not missing: a member that receives nothing any more (charter
    art. 7, 8(2)) cannot be asked to answer, and the ledger does not count
    it against the member. Returns how many were closed.
    """
    rows = (
        await conn.execute(
            select(obligations).where(
                obligations.c.member_id == member_id,
                obligations.c.status == ObligationStatus.OPEN.value,
            )
        )
    ).all()
    closed = [
        ob.id
        for ob in map(obligation_from_row, rows)
        if close_for_departure(ob).status is ObligationStatus.CLOSED
    ]
    return await _lift(conn, closed, ObligationStatus.CLOSED, now)


async def _lift(
    conn: AsyncConnection, ids: list[str], status: ObligationStatus, now: datetime
) -> int:
    if not ids:
        return 0
    # `status == open` again: an answer committed since the select above wins.
    result = await conn.execute(
        update(obligations)
        .where(obligations.c.id.in_(ids), obligations.c.status == ObligationStatus.OPEN.value)
        .values(status=status.value, closed_at=as_utc(now))
    )
    return int(result.rowcount)
