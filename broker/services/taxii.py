"""TAXII status resources: what became of each envelope a caller posted.

TAXII 2.1 §4.3 and docs/taxii.md: a status is shown to the caller that
posted it and to no one else, survives a restart (it is stored) and is kept
for at least `retention` (24 hours), then pruned. Everything else the TAXII
edge does goes through the services every other edge uses: reading and
listing (`ItemService`), posting (`SubmissionService`), answering
(`FeedbackService`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from broker import tlp
from broker.domain import Actor, Confidence, ItemFacts, ItemKind, Scope, Tlp
from broker.domain.items import Receipt, SubmitResult
from broker.errors import NotFound
from broker.services.clock import Clock
from broker.services.directory import Directory
from broker.services.ids import new_id
from broker.store.uow import Store, UnitOfWork

__all__ = ["STATUS_RETENTION", "TaxiiService"]

STATUS_RETENTION = timedelta(hours=24)
"""How long a status resource is kept (TAXII 2.1 §4.3.1: SHOULD be at least 24 hours)."""
_PRUNE_EVERY = timedelta(minutes=10)


class TaxiiService:
    """Stored status resources of posted envelopes (one caller's each), and
    whether a posted scope stays within its collection's."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        directory: Directory,
        retention: timedelta = STATUS_RETENTION,
    ) -> None:
        self._store = store
        self._clock = clock
        self._directory = directory
        self._retention = retention
        self._pruned_at: datetime | None = None

    async def narrows(
        self,
        actor: Actor,
        kind: ItemKind,
        confidence: Confidence,
        requested: Scope,
        default: Scope,
    ) -> bool:
        """Whether `requested` reaches no body `default` would not (docs/taxii.md:
        an object's scope may narrow its collection's, never widen it).

        Compared by reach over today's bodies for an item of `kind` and `confidence`, the routing
        rule itself (`tlp.recipients_for`; labels and secrecy aside, which limit
        both alike), so named members inside the default's groups narrow and a
        named member outside them widens.
        """
        bodies = (await self._directory.bodies()).values()

        def reach(scope: Scope) -> frozenset[str]:
            facts = ItemFacts(
                id="",
                provider_id=actor.member_id,
                kind=kind,
                confidence=confidence,
                tlp=Tlp.CLEAR,
                secret=False,
                scope=scope,
            )
            return tlp.recipients_for(facts, bodies).recipients

        return reach(requested) <= reach(default)

    def receipt(self, actor: Actor, describe: Callable[[SubmitResult], dict[str, Any]]) -> Receipt:
        """The status of an envelope that becomes a submission, for the submission
        to store in its own transaction (`SubmitDraft.receipt`): `describe`
        makes the status (without `id`) from the result stored."""
        now = self._clock()
        status_id = new_id().lower()
        return Receipt(
            id=status_id,
            user_id=actor.user_id,
            created_at=now,
            body=lambda result: {"id": status_id, **describe(result)},
            prune_before=self._prune_before(now),
        )

    async def save(self, actor: Actor, body: dict[str, Any]) -> dict[str, Any]:
        """Store `body` (a status resource without `id`) for `actor`; the stored status.

        For an envelope that made no submission (refused, answers, definitions
        only). Written in a shared durable transaction (group commit), so
        concurrent posts share one commit.
        """
        now = self._clock()
        status = {"id": new_id().lower(), **body}
        prune_before = self._prune_before(now)

        async def write(uow: UnitOfWork) -> None:
            if prune_before is not None:
                await uow.taxii.prune(prune_before)
            await uow.taxii.add_status(status["id"], actor.user_id, now, status)

        await self._store.grouped(write)
        return status

    def _prune_before(self, now: datetime) -> datetime | None:
        """When a write should also delete the expired statuses: at most once every
        `_PRUNE_EVERY`, so the table holds about a day of posts and needs no
        sweeper of its own."""
        if self._pruned_at is not None and now - self._pruned_at < _PRUNE_EVERY:
            return None
        self._pruned_at = now
        return now - self._retention

    async def get(self, actor: Actor, status_id: str) -> dict[str, Any]:
        """The caller's status `status_id`, or 404 for one absent, expired or another's."""
        now = self._clock()
        async with self._store.read() as uow:
            status = await uow.taxii.status(status_id[:64], actor.user_id, now - self._retention)
        if status is None:
            raise NotFound("no status with that id")
        return status
