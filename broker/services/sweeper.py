"""The obligation sweeper: reminders before the deadline, the overdue mark after it.

SPEC §4: "The broker reminds before the deadline, marks overdue after it".
`broker.feedback.sweep` decides; `Sweeper.run_once` persists each decision
with a conditional update (`WHERE reminded_at IS NULL`, `WHERE
overdue_marked_at IS NULL`) and writes the event only when that update took,
in one transaction. Hence:

- restart-safe: all the sweeper remembers is in the obligation rows, so a
  broker that restarts picks up where the last one stopped (and catches up at
  once: `sweep_loop` sweeps as soon as it starts);
- idempotent: two replicas, or two passes racing in one process, remind and
  mark each obligation once — the second conditional update matches no row.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import structlog

from broker.domain import AuditAction, AuditDraft, EventDraft, EventKind
from broker.domain.obligations import SweepReport
from broker.domain.timestamps import rfc3339
from broker.feedback import Obligation, Overdue, Reminder, apply, sweep
from broker.services.auditor import Auditor
from broker.services.clock import Clock
from broker.store.obligations_repo import as_utc
from broker.store.uow import Store, UnitOfWork

__all__ = ["Sweeper", "sweep_loop"]

log = structlog.get_logger("broker.sweeper")

_BATCH = 500  # obligations per transaction: a short write lock, a bounded memory


class Sweeper:
    """Sweeps stored obligations; one per broker process, any number per database."""

    def __init__(
        self, *, store: Store, clock: Clock, auditor: Auditor, reminder_lead: timedelta
    ) -> None:
        self._store = store
        self._clock = clock
        self._auditor = auditor
        self._lead = reminder_lead

    async def run_once(self, now: datetime | None = None) -> SweepReport:
        """Send every reminder and overdue mark due at `now` (default: the clock's now)."""
        at = as_utc(now or self._clock())
        reminded = overdue = 0
        after = ""
        while True:
            async with self._store.read() as uow:
                batch = await uow.obligations.to_sweep(at, self._lead, after, _BATCH)
            if not batch:
                break
            after = batch[-1].id
            actions = sweep(batch, at, self._lead)
            if actions:
                by_id = {ob.id: ob for ob in batch}
                async with self._store.write() as uow:
                    done = await self._record(uow, by_id, actions, at)
                reminded += done.reminded
                overdue += done.overdue
            if len(batch) < _BATCH:
                break
        if reminded or overdue:
            log.info("obligations_swept", reminded=reminded, overdue=overdue)
        return SweepReport(reminded, overdue)

    async def _record(
        self,
        uow: UnitOfWork,
        by_id: dict[str, Obligation],
        actions: list[Reminder | Overdue],
        at: datetime,
    ) -> SweepReport:
        reminded = overdue = 0
        drafts: list[EventDraft] = []
        audits: list[AuditDraft] = []
        for action in actions:
            ob = by_id[action.ob_id]
            if apply(ob, action, at) is ob:
                continue  # no longer holds (broker.feedback.apply): nothing to send
            if isinstance(action, Reminder):
                taken = await uow.obligations.mark_reminded(ob.id, at)
                kind = EventKind.REMINDER
            else:
                taken = await uow.obligations.mark_overdue(ob.id, at)
                kind = EventKind.OVERDUE
            if not taken:
                continue  # another sweeper, or an answer, got there first
            if kind is EventKind.REMINDER:
                reminded += 1
            else:
                overdue += 1
                # An obligation falling overdue counts against the member in the
                # ledger (SPEC §4): worth a trace in the audit log.
                audits.append(
                    self._auditor.draft(
                        None,
                        AuditAction.OBLIGATION_OVERDUE,
                        item_id=ob.item_id,
                        subject_member_id=ob.member_id,
                        details={"obligation_id": ob.id, "due_at": rfc3339(ob.due_at)},
                        at=at,
                    )
                )
            drafts.append(
                EventDraft(
                    member_id=ob.member_id,
                    kind=kind,
                    item_id=ob.item_id,
                    created_at=at,
                    payload={
                        "obligation_id": ob.id,
                        "item_id": ob.item_id,
                        "kind": ob.kind.value,
                        "due_at": rfc3339(ob.due_at),
                    },
                )
            )
        await uow.feed.append(drafts)
        await uow.audit.append(audits)
        return SweepReport(reminded, overdue)


async def sweep_loop(sweeper: Sweeper, interval: timedelta) -> None:
    """Sweep at once, then every `interval`, until cancelled (an app `cleanup_ctx` task).

    The first pass runs immediately so that a broker that was down catches
    up on the reminders and overdue marks it missed.
    """
    while True:
        try:
            await sweeper.run_once()
        except Exception:
            # A failed pass (database briefly away) is retried on the next tick;
            # nothing was half-done, each batch is one transaction.
            log.exception("obligation_sweep_failed")
        await asyncio.sleep(interval.total_seconds())
