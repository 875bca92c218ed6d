"""Writing audit events: the drafts every use case makes, and denials (SPEC §5)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog

from broker.audit import Outcome
from broker.domain import Actor, AuditAction, AuditDraft
from broker.domain.timestamps import rfc3339
from broker.errors import BrokerError
from broker.services.clock import Clock
from broker.services.ids import new_id
from broker.store.uow import Store, UnitOfWork

__all__ = ["Auditor"]

log = structlog.get_logger("broker.services")


class Auditor:
    """Makes audit drafts and appends them in a transaction of their own when a
    use case has none (a denial, an alarm, a read)."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def draft(
        self,
        actor: Actor | None,
        action: AuditAction,
        outcome: Outcome = "allowed",
        *,
        item_id: str | None = None,
        subject_member_id: str | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        item_refs: Sequence[str] = (),
        at: datetime | None = None,
    ) -> AuditDraft:
        """An audit event by `actor` (None: the system itself)."""
        return AuditDraft(
            id=new_id(),
            at=rfc3339(at or self._clock()),
            action=action,
            outcome=outcome,
            actor_user_id=actor.user_id if actor else None,
            actor_member_id=actor.member_id if actor else None,
            item_id=item_id,
            subject_member_id=subject_member_id,
            reason=reason,
            details=details or {},
            item_refs=item_refs,
        )

    async def record(self, *drafts: AuditDraft) -> None:
        """Append `drafts` in a shared durable transaction of their own (group commit)."""

        async def append(uow: UnitOfWork) -> None:
            await uow.audit.append(drafts)

        await self._store.grouped(append)

    async def deny(self, error: BrokerError, *drafts: AuditDraft) -> BrokerError:
        """Audit a denial, then hand back the error to raise (SPEC §3 rule 10)."""
        await self.record(*drafts)
        log.info(
            "access_denied",
            action=str(drafts[0].action) if drafts else None,
            reason=drafts[0].reason if drafts else None,
        )
        return error
