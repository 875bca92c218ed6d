"""Violation reports (charter art. 29): rows of sealed text."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from broker.crypto import Envelope
from broker.domain.reports import ReportKind, ReportStatus, StoredReport
from broker.store.envelopes import envelope_columns, envelope_of
from broker.store.obligations_repo import as_utc
from broker.store.tables import reports

__all__ = ["ReportRepository"]


def _report(row: Any) -> StoredReport:
    return StoredReport(
        id=row.id,
        member_id=row.member_id,
        user_id=row.user_id,
        kind=ReportKind(row.kind),
        status=ReportStatus(row.status),
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        sealed=envelope_of(row),
    )


class ReportRepository:
    """Violation reports, on one unit of work's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, report: StoredReport) -> None:
        """Store a new report."""
        await self._conn.execute(
            reports.insert().values(
                id=report.id,
                member_id=report.member_id,
                user_id=report.user_id,
                kind=report.kind.value,
                status=report.status.value,
                created_at=report.created_at,
                updated_at=report.updated_at,
                **envelope_columns(report.sealed),
            )
        )

    async def get(self, report_id: str) -> StoredReport | None:
        """The report `report_id`, if there is one."""
        row = (
            await self._conn.execute(select(reports).where(reports.c.id == report_id))
        ).one_or_none()
        return None if row is None else _report(row)

    async def newest(
        self, limit: int, *, before: str | None = None, user_id: str | None = None
    ) -> list[StoredReport]:
        """Up to `limit` reports, newest first, older than the id `before`; only those
        filed by `user_id` if given."""
        query = select(reports).order_by(reports.c.id.desc()).limit(limit)
        if user_id is not None:
            query = query.where(reports.c.user_id == user_id)
        if before is not None:
            query = query.where(reports.c.id < before)
        return [_report(r) for r in (await self._conn.execute(query)).all()]

    async def update(
        self, report_id: str, status: ReportStatus, sealed: Envelope, at: datetime
    ) -> bool:
        """Set a report's status and its re-sealed content, only if it is not closed
        (a racing update that closed it first wins); whether it changed."""
        result = await self._conn.execute(
            update(reports)
            .where(reports.c.id == report_id, reports.c.status != ReportStatus.CLOSED.value)
            .values(status=status.value, updated_at=at, **envelope_columns(sealed))
        )
        return bool(result.rowcount)
