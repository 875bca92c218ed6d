"""Webhooks, their delivery positions and dead letters."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["WebhookRepository"]


class WebhookRepository:
    """Webhooks, their delivery positions and dead letters, on one unit of work's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
