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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from broker.feedback import Obligation, ObligationStatus, Overdue, Reminder, apply, sweep
from broker.services.core import Core, rfc3339
from broker.store.audit_repo import append_events
from broker.store.obligations_repo import EventDraft, as_utc, insert_events, obligation_from_row
from broker.store.tables import obligations

__all__ = ["SweepReport", "Sweeper", "sweep_loop"]

log = structlog.get_logger("broker.sweeper")

_BATCH = 500  # obligations per transaction: a short write lock, a bounded memory


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What one pass did: reminders sent and obligations marked overdue."""

    reminded: int = 0
    overdue: int = 0


class Sweeper:
    """Sweeps stored obligations; one per broker process, any number per database."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.passes = 0
        self._passed = asyncio.Event()

    async def run_once(self, now: datetime | None = None) -> SweepReport:
        """Send every reminder and overdue mark due at `now` (default: the core's clock)."""
        at = as_utc(now or self.core.clock())
        lead = self.core.settings.reminder_lead
        reminded = overdue = 0
        after = ""
        while True:
            async with self.core.db.read() as conn:
                batch = await _candidates(conn, at, lead, after)
            if not batch:
                break
            after = batch[-1].id
            actions = sweep(batch, at, lead)
            if actions:
                by_id = {ob.id: ob for ob in batch}
                async with self.core.db.write() as conn:
                    done = await self._record(conn, by_id, actions, at)
                reminded += done.reminded
                overdue += done.overdue
            if len(batch) < _BATCH:
                break
        self.passes += 1
        self._passed.set()
        if reminded or overdue:
            log.info("obligations_swept", reminded=reminded, overdue=overdue)
        return SweepReport(reminded, overdue)

    async def wait_for_pass(self) -> int:
        """Wait until at least one pass has finished; returns how many have.

        Lets a caller (a readiness probe, a test) know the catch-up pass that
        follows a start has run, without polling.
        """
        await self._passed.wait()
        return self.passes

    async def _record(
        self,
        conn: AsyncConnection,
        by_id: dict[str, Obligation],
        actions: list[Reminder | Overdue],
        at: datetime,
    ) -> SweepReport:
        reminded = overdue = 0
        drafts: list[EventDraft] = []
        audits = []
        for action in actions:
            ob = by_id[action.ob_id]
            after = apply(ob, action, at)
            if after is ob:
                continue  # no longer holds (broker.feedback.apply): nothing to send
            if isinstance(action, Reminder):
                taken = await _mark(conn, ob.id, at, reminded_at=after.reminded_at)
                kind = "reminder"
            else:
                taken = await _mark(conn, ob.id, at, overdue_marked_at=after.overdue_marked_at)
                kind = "overdue"
            if not taken:
                continue  # another sweeper, or an answer, got there first
            if kind == "reminder":
                reminded += 1
            else:
                overdue += 1
                # An obligation falling overdue counts against the member in the
                # ledger (SPEC §4): worth a trace in the audit log.
                audits.append(
                    self.core.draft(
                        None,
                        "obligation.overdue",
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
        await insert_events(conn, drafts)
        await append_events(conn, audits)
        return SweepReport(reminded, overdue)


async def _candidates(
    conn: AsyncConnection, at: datetime, lead: timedelta, after: str
) -> list[Obligation]:
    """Open obligations that may need a reminder or an overdue mark at `at`, by id."""
    query = (
        select(obligations)
        .where(
            obligations.c.status == ObligationStatus.OPEN.value,
            obligations.c.id > after,
            or_(
                and_(obligations.c.overdue_marked_at.is_(None), obligations.c.due_at <= at),
                and_(
                    obligations.c.reminded_at.is_(None),
                    obligations.c.due_at <= at + lead,
                ),
            ),
        )
        .order_by(obligations.c.id)
        .limit(_BATCH)
    )
    return [obligation_from_row(row) for row in (await conn.execute(query)).all()]


async def _mark(conn: AsyncConnection, ob_id: str, at: datetime, **values: Any) -> bool:
    """Record a reminder or overdue mark only if nobody has; whether this call did."""
    (column,) = values
    guard = [
        obligations.c.id == ob_id,
        obligations.c.status == ObligationStatus.OPEN.value,
        obligations.c[column].is_(None),
    ]
    if column == "reminded_at":
        # broker.feedback.apply: a reminder of a deadline already passed would mislead.
        guard.append(obligations.c.due_at > at)
    else:
        guard.append(obligations.c.due_at <= at)
    result = await conn.execute(
        update(obligations).where(*guard).values(**{column: as_utc(values[column])})
    )
    return bool(result.rowcount == 1)


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
