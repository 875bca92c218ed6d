"""Webhooks, their delivery positions and dead letters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from broker.crypto import Envelope
from broker.domain.webhooks import DeadLetter, Webhook
from broker.store.tables import webhook_dead_letters, webhooks

__all__ = ["DeliveryTarget", "WebhookRepository"]


@dataclass(frozen=True, slots=True)
class DeliveryTarget:
    """An active webhook as the dispatcher needs it: where to send, its sealed
    secret, and where it is in the feed."""

    id: str
    member_id: str
    url: str
    secret: Envelope
    cursor: int
    attempts: int
    next_attempt_at: datetime | None


def _utc(moment: datetime) -> datetime:
    # SQLite hands `DateTime(timezone=True)` back naive; the broker writes UTC only.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _utc_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else _utc(moment)


def _target(row: Any) -> DeliveryTarget:
    return DeliveryTarget(
        id=row.id,
        member_id=row.member_id,
        url=row.url,
        secret=Envelope(
            nonce=row.secret_nonce,
            ciphertext=row.secret_ciphertext,
            wrapped_key=row.secret_wrapped_key,
            kek_version=int(row.secret_kek_version),
        ),
        cursor=int(row.cursor),
        attempts=int(row.attempts),
        next_attempt_at=_utc_or_none(row.next_attempt_at),
    )


class WebhookRepository:
    """Webhooks, their delivery positions and dead letters, on one unit of work's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(
        self,
        *,
        webhook_id: str,
        member_id: str,
        url: str,
        secret: Envelope,
        cursor: int,
        created_at: datetime,
        created_by: str,
    ) -> None:
        """Register an active webhook whose deliveries start after `cursor`."""
        await self._conn.execute(
            insert(webhooks).values(
                id=webhook_id,
                member_id=member_id,
                url=url,
                secret_nonce=secret.nonce,
                secret_ciphertext=secret.ciphertext,
                secret_wrapped_key=secret.wrapped_key,
                secret_kek_version=secret.kek_version,
                active=True,
                cursor=cursor,
                attempts=0,
                created_at=created_at,
                created_by=created_by,
            )
        )

    async def of_member(self, member_id: str) -> list[Webhook]:
        """A member's webhooks by id, each with its dead letters in order."""
        rows = (
            await self._conn.execute(
                select(webhooks).where(webhooks.c.member_id == member_id).order_by(webhooks.c.id)
            )
        ).all()
        dead = (
            await self._conn.execute(
                select(webhook_dead_letters)
                .where(webhook_dead_letters.c.webhook_id.in_([r.id for r in rows]))
                .order_by(webhook_dead_letters.c.id)
            )
        ).all()
        letters: dict[str, list[DeadLetter]] = {}
        for d in dead:
            letters.setdefault(d.webhook_id, []).append(
                DeadLetter(
                    event_seq=int(d.event_seq),
                    attempts=int(d.attempts),
                    last_error=d.last_error,
                    at=_utc(d.created_at),
                )
            )
        return [
            Webhook(
                id=r.id,
                member_id=r.member_id,
                url=r.url,
                active=bool(r.active),
                cursor=int(r.cursor),
                failing_attempts=int(r.attempts),
                next_attempt_at=_utc_or_none(r.next_attempt_at),
                last_error=r.last_error,
                created_at=_utc(r.created_at),
                dead_letters=tuple(letters.get(r.id, ())),
            )
            for r in rows
        ]

    async def deactivate(self, webhook_id: str, member_id: str) -> bool:
        """Stop a member's webhook; False if the member has no webhook with that id."""
        result = await self._conn.execute(
            update(webhooks)
            .where(webhooks.c.id == webhook_id, webhooks.c.member_id == member_id)
            .values(active=False)
        )
        return bool(result.rowcount)

    async def active(self) -> Sequence[DeliveryTarget]:
        """Every active webhook."""
        rows = (await self._conn.execute(select(webhooks).where(webhooks.c.active.is_(True)))).all()
        return [_target(row) for row in rows]

    async def advance(self, webhook_id: str, cursor: int) -> None:
        """Delivered (or skipped) up to `cursor`: no retry pending, no error."""
        await self._conn.execute(
            update(webhooks)
            .where(webhooks.c.id == webhook_id)
            .values(cursor=cursor, attempts=0, next_attempt_at=None, last_error=None)
        )

    async def retry_later(
        self,
        webhook_id: str,
        *,
        cursor: int,
        attempts: int,
        next_attempt_at: datetime,
        error: str,
    ) -> None:
        """The event after `cursor` failed `attempts` times so far: try again at
        `next_attempt_at`."""
        await self._conn.execute(
            update(webhooks)
            .where(webhooks.c.id == webhook_id)
            .values(
                cursor=cursor, attempts=attempts, next_attempt_at=next_attempt_at, last_error=error
            )
        )

    async def dead_letter(
        self, webhook_id: str, *, letter_id: str, seq: int, attempts: int, error: str, at: datetime
    ) -> None:
        """Give up on event `seq`: keep it as a dead letter and move past it."""
        await self._conn.execute(
            insert(webhook_dead_letters).values(
                id=letter_id,
                webhook_id=webhook_id,
                event_seq=seq,
                attempts=attempts,
                last_error=error,
                created_at=at,
            )
        )
        await self._conn.execute(
            update(webhooks)
            .where(webhooks.c.id == webhook_id)
            .values(cursor=seq, attempts=0, next_attempt_at=None, last_error=error)
        )
