"""TAXII status resources (TAXII 2.1 §4.3): one per posted envelope."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from broker.domain.items import Receipt, SubmitResult
from broker.store.tables import taxii_statuses

__all__ = ["TaxiiRepository", "add_receipts_sync"]


def add_receipts_sync(conn: Connection, receipts: Sequence[tuple[Receipt, SubmitResult]]) -> None:
    """Store each receipt's status, made from the result its submission stored, in the
    submissions' transaction (`broker.store.submissions_repo`); prune expired ones first."""
    cutoffs = [r.prune_before for r, _ in receipts if r.prune_before is not None]
    if cutoffs:
        conn.execute(delete(taxii_statuses).where(taxii_statuses.c.created_at < min(cutoffs)))
    conn.execute(
        insert(taxii_statuses),
        [
            {"id": r.id, "user_id": r.user_id, "created_at": r.created_at, "body": r.body(result)}
            for r, result in receipts
        ],
    )


class TaxiiRepository:
    """The status resources of posted envelopes, on one unit of work's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add_status(
        self, status_id: str, user_id: str, created_at: datetime, body: dict[str, Any]
    ) -> None:
        """Store the status of an envelope `user_id` posted."""
        await self._conn.execute(
            insert(taxii_statuses).values(
                id=status_id, user_id=user_id, created_at=created_at, body=body
            )
        )

    async def status(
        self, status_id: str, user_id: str, not_before: datetime
    ) -> dict[str, Any] | None:
        """The status `status_id` if `user_id` posted it and it is newer than
        `not_before`, else None (absent, expired and another's look the same)."""
        query = select(taxii_statuses.c.body).where(
            taxii_statuses.c.id == status_id,
            taxii_statuses.c.user_id == user_id,
            taxii_statuses.c.created_at >= not_before,
        )
        body = (await self._conn.execute(query)).scalar_one_or_none()
        return dict(body) if body is not None else None

    async def prune(self, before: datetime) -> int:
        """Delete the statuses created before `before`; how many went."""
        result = await self._conn.execute(
            delete(taxii_statuses).where(taxii_statuses.c.created_at < before)
        )
        return int(result.rowcount or 0)
