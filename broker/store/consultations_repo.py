"""Consultations and their messages (SPEC §4, charter art. 16)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["ConsultationRepository"]


class ConsultationRepository:
    """Consultations and their messages (SPEC §4, charter art. 16), on one unit of
    work's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
