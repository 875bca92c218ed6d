"""The sweeper's decisions: remind before the deadline, mark overdue after it (SPEC §4).

`sweep` only decides; the service sends the notifications and persists what
`apply` returns. All state lives in `Obligation.reminded_at` and
`Obligation.overdue_marked_at`, which the store keeps, so a sweeper that
restarts, or a second replica sweeping the same rows, decides nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeAlias, assert_never

from broker.feedback._state import Obligation
from broker.feedback._time import require_aware

__all__ = ["Overdue", "Reminder", "SweepAction", "apply", "next_action", "sweep"]


@dataclass(frozen=True, slots=True)
class Reminder:
    """Remind `member_id` that its answer on `item_id` falls due at `due_at`."""

    ob_id: str
    member_id: str
    item_id: str
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Overdue:
    """Mark the obligation overdue: `member_id` did not answer on `item_id` by `due_at`."""

    ob_id: str
    member_id: str
    item_id: str
    due_at: datetime


SweepAction: TypeAlias = Reminder | Overdue
"""One decision of the sweeper."""


def next_action(ob: Obligation, now: datetime, reminder_lead: timedelta) -> SweepAction | None:
    """What the sweeper should do about `ob` at `now`, if anything.

    Only open obligations are swept. From `due_at` on: `Overdue`, once. Within
    `reminder_lead` before `due_at`: `Reminder`, once. An obligation whose
    due time came before any reminder went out gets only the `Overdue`: a
    reminder of a deadline already missed would mislead.
    """
    at = require_aware(now, "now")
    if reminder_lead < timedelta(0):
        raise ValueError("reminder_lead cannot be negative")
    if not ob.is_open:
        return None
    if at >= ob.due_at:
        if ob.overdue_marked_at is None:
            return Overdue(ob.id, ob.member_id, ob.item_id, ob.due_at)
        return None
    if ob.reminded_at is None and at >= ob.due_at - reminder_lead:
        return Reminder(ob.id, ob.member_id, ob.item_id, ob.due_at)
    return None


def sweep(
    obligations: Iterable[Obligation], now: datetime, reminder_lead: timedelta
) -> list[SweepAction]:
    """The actions due at `now` over `obligations`, earliest deadline first (then by id).

    `ValueError` for a naive `now` or a negative `reminder_lead`.
    """
    actions = [
        action for ob in obligations if (action := next_action(ob, now, reminder_lead)) is not None
    ]
    return sorted(actions, key=lambda action: (action.due_at, action.ob_id))


def apply(ob: Obligation, action: SweepAction, now: datetime) -> Obligation:
    """`ob` with `action` recorded at `now`, ready to persist.

    Returns `ob` itself when the action no longer holds — it was answered,
    cancelled or closed since the sweep, another sweeper already recorded the
    action, or a reminder's deadline has passed meanwhile. The caller sends
    the notification only when the result is not `ob`, so applying twice
    notifies once. `ValueError` if `action` is about another obligation or
    `now` is naive.
    """
    at = require_aware(now, "now")
    if action.ob_id != ob.id:
        raise ValueError(f"action for obligation {action.ob_id} applied to {ob.id}")
    if not ob.is_open:
        return ob
    match action:
        case Reminder():
            if ob.reminded_at is None and at < ob.due_at:
                return replace(ob, reminded_at=at)
            return ob
        case Overdue():
            if ob.overdue_marked_at is None and at >= ob.due_at:
                return replace(ob, overdue_marked_at=at)
            return ob
        case _:  # pragma: no cover - exhaustiveness for the type checker
            assert_never(action)
