"""Consultations and their messages (SPEC §4, charter art. 16)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from broker.domain.consultations import StoredConsultation, StoredMessage
from broker.store.envelopes import envelope_columns, envelope_of
from broker.store.obligations_repo import as_utc
from broker.store.tables import consultation_messages, consultations

__all__ = ["ConsultationRepository"]


def _consultation(row: Any) -> StoredConsultation:
    return StoredConsultation(
        id=row.id,
        member_id=row.member_id,
        user_id=row.user_id,
        revealed_at=None if row.revealed_at is None else as_utc(row.revealed_at),
        created_at=as_utc(row.created_at),
        last_message_at=as_utc(row.last_message_at),
        messages=int(row.messages),
        sealed=envelope_of(row),
    )


def _message(row: Any) -> StoredMessage:
    return StoredMessage(
        id=row.id,
        consultation_id=row.consultation_id,
        author_member_id=row.author_member_id,
        author_user_id=row.author_user_id,
        from_consulter=bool(row.from_consulter),
        created_at=as_utc(row.created_at),
        sealed=envelope_of(row),
    )


class ConsultationRepository:
    """Consultations and their messages (SPEC §4, charter art. 16), on one unit of
    work's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, consultation: StoredConsultation) -> None:
        """Store a new consultation."""
        await self._conn.execute(
            consultations.insert().values(
                id=consultation.id,
                member_id=consultation.member_id,
                user_id=consultation.user_id,
                revealed_at=consultation.revealed_at,
                created_at=consultation.created_at,
                last_message_at=consultation.last_message_at,
                messages=consultation.messages,
                **envelope_columns(consultation.sealed),
            )
        )

    async def get(self, consultation_id: str) -> StoredConsultation | None:
        """The consultation `consultation_id`, if there is one."""
        query = select(consultations).where(consultations.c.id == consultation_id)
        row = (await self._conn.execute(query)).one_or_none()
        return None if row is None else _consultation(row)

    async def newest(
        self, limit: int, *, before: str | None = None, member_id: str | None = None
    ) -> list[StoredConsultation]:
        """Up to `limit` consultations, newest first, older than the id `before`;
        only `member_id`'s if given."""
        query = select(consultations).order_by(consultations.c.id.desc()).limit(limit)
        if member_id is not None:
            query = query.where(consultations.c.member_id == member_id)
        if before is not None:
            query = query.where(consultations.c.id < before)
        return [_consultation(r) for r in (await self._conn.execute(query)).all()]

    async def messages(self, consultation_id: str) -> list[StoredMessage]:
        """The thread of `consultation_id`, oldest first."""
        query = (
            select(consultation_messages)
            .where(consultation_messages.c.consultation_id == consultation_id)
            .order_by(consultation_messages.c.id)
        )
        return [_message(r) for r in (await self._conn.execute(query)).all()]

    async def add_message(self, message: StoredMessage) -> None:
        """Store a message and count it on its consultation, as of its time."""
        await self._conn.execute(
            consultation_messages.insert().values(
                id=message.id,
                consultation_id=message.consultation_id,
                author_member_id=message.author_member_id,
                author_user_id=message.author_user_id,
                from_consulter=message.from_consulter,
                created_at=message.created_at,
                **envelope_columns(message.sealed),
            )
        )
        await self._conn.execute(
            update(consultations)
            .where(consultations.c.id == message.consultation_id)
            .values(last_message_at=message.created_at, messages=consultations.c.messages + 1)
        )

    async def reveal(self, consultation_id: str, at: datetime) -> None:
        """Record that the consulter revealed itself at `at` (a second time keeps the first)."""
        await self._conn.execute(
            update(consultations)
            .where(consultations.c.id == consultation_id, consultations.c.revealed_at.is_(None))
            .values(revealed_at=at)
        )
