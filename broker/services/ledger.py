"""The contribution ledger: who supplied and answered what in a period (SPEC §4).

docs/api.md `GET /v1/ledger?period=`. The counts, scores and flags are the pure
`broker.feedback.ledger`'s; this module gathers the period's submissions and
obligations and audits the read.
"""

from __future__ import annotations

from broker.domain import Actor, AuditAction
from broker.domain.obligations import Ledger, LedgerEntry
from broker.errors import Forbidden, InvalidInput
from broker.feedback import CURRENT_WEEK, ContributionPolicy, ledger, parse_period
from broker.services.auditor import Auditor
from broker.services.clock import Clock
from broker.settings import Settings
from broker.store.uow import Store

__all__ = ["LedgerService", "contribution_policy"]


def contribution_policy(settings: Settings) -> ContributionPolicy:
    """The task force's thresholds from the settings (charter art. 24(5))."""
    return ContributionPolicy(
        min_original_submissions_tier_one=settings.contribution_min_original_submissions,
        min_on_time_ratio=settings.contribution_min_on_time_ratio,
    )


class LedgerService:
    """The contribution ledger for the coordinator and each member, audited."""

    def __init__(
        self, *, store: Store, clock: Clock, auditor: Auditor, policy: ContributionPolicy
    ) -> None:
        self._store = store
        self._clock = clock
        self._auditor = auditor
        self._policy = policy

    async def ledger(self, actor: Actor, period: str | None) -> Ledger:
        """The contribution ledger for a period (docs/api.md `GET /v1/ledger?period=`).

        The coordinator sees every task-force member's row; a member sees its
        own (general members have no duties and so no row). Members below the
        task force's thresholds are flagged for status review (SPEC §4).
        """
        if actor.is_secretariat:
            raise await self._auditor.deny(
                Forbidden("the ledger is the coordinator's and each member's own"),
                self._auditor.draft(actor, AuditAction.LEDGER_READ, "denied", reason="secretariat"),
            )
        now = self._clock()
        try:
            start, end = parse_period(period, now)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="period") from None
        async with self._store.read() as uow:
            everyone = await uow.members.bodies_with_handlers(now)
            members = (
                list(everyone.values()) if actor.is_coordinator else [everyone[actor.member_id]]
            )
            wanted = {m.id for m in members}
            submissions = await uow.obligations.original_submissions(start, end, wanted)
            owed = await uow.obligations.falling_in(start, end, wanted)
            names = await uow.members.names(sorted(wanted))
        rows = ledger(members, submissions, owed, start, end, now, self._policy)
        name = period or CURRENT_WEEK
        await self._auditor.record(
            self._auditor.draft(
                actor, AuditAction.LEDGER_READ, details={"period": name, "rows": len(rows)}
            )
        )
        return Ledger(
            period=name,
            start=start,
            end=end,
            policy=self._policy,
            entries=tuple(
                LedgerEntry(row, everyone[row.member_id], names.get(row.member_id)) for row in rows
            ),
        )
