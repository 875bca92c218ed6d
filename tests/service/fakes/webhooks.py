"""In memory: webhooks and dead letters."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from broker.crypto import Envelope
from broker.domain.webhooks import DeadLetter, Webhook
from broker.store.webhooks_repo import DeliveryTarget


@dataclasses.dataclass
class FakeWebhook:
    """A stored webhook row: its secret sealed, its delivery state, who created it."""

    id: str
    member_id: str
    url: str
    secret: Envelope
    active: bool
    cursor: int
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    created_by: str


class FakeWebhookRepository:
    """In memory: webhooks and dead letters, as `WebhookRepository` keeps them."""

    def __init__(self) -> None:
        self.webhooks: dict[str, FakeWebhook] = {}
        self.dead_letters: list[tuple[str, str, DeadLetter]] = []  # (letter id, webhook id, ...)

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
        self.webhooks[webhook_id] = FakeWebhook(
            id=webhook_id,
            member_id=member_id,
            url=url,
            secret=secret,
            active=True,
            cursor=cursor,
            attempts=0,
            next_attempt_at=None,
            last_error=None,
            created_at=created_at,
            created_by=created_by,
        )

    async def of_member(self, member_id: str) -> list[Webhook]:
        """A member's webhooks by id, each with its dead letters in order."""
        return [
            Webhook(
                id=w.id,
                member_id=w.member_id,
                url=w.url,
                active=w.active,
                cursor=w.cursor,
                failing_attempts=w.attempts,
                next_attempt_at=w.next_attempt_at,
                last_error=w.last_error,
                created_at=w.created_at,
                dead_letters=tuple(
                    letter
                    for _, webhook_id, letter in sorted(self.dead_letters, key=lambda d: d[0])
                    if webhook_id == w.id
                ),
            )
            for w in sorted(self.webhooks.values(), key=lambda w: w.id)
            if w.member_id == member_id
        ]

    async def deactivate(self, webhook_id: str, member_id: str) -> bool:
        """Stop a member's webhook; False if the member has no webhook with that id."""
        hook = self.webhooks.get(webhook_id)
        if hook is None or hook.member_id != member_id:
            return False
        hook.active = False
        return True

    async def active(self) -> Sequence[DeliveryTarget]:
        """Every active webhook."""
        return [
            DeliveryTarget(
                id=w.id,
                member_id=w.member_id,
                url=w.url,
                secret=w.secret,
                cursor=w.cursor,
                attempts=w.attempts,
                next_attempt_at=w.next_attempt_at,
            )
            for w in self.webhooks.values()
            if w.active
        ]

    async def advance(self, webhook_id: str, cursor: int) -> None:
        """Delivered (or skipped) up to `cursor`: no retry pending, no error."""
        hook = self.webhooks[webhook_id]
        hook.cursor, hook.attempts, hook.next_attempt_at, hook.last_error = cursor, 0, None, None

    async def retry_later(
        self,
        webhook_id: str,
        *,
        cursor: int,
        attempts: int,
        next_attempt_at: datetime,
        error: str,
    ) -> None:
        """The event after `cursor` failed `attempts` times so far."""
        hook = self.webhooks[webhook_id]
        hook.cursor, hook.attempts = cursor, attempts
        hook.next_attempt_at, hook.last_error = next_attempt_at, error

    async def dead_letter(
        self, webhook_id: str, *, letter_id: str, seq: int, attempts: int, error: str, at: datetime
    ) -> None:
        """Give up on event `seq`: keep it as a dead letter and move past it."""
        self.dead_letters.append(
            (
                letter_id,
                webhook_id,
                DeadLetter(event_seq=seq, attempts=attempts, last_error=error, at=at),
            )
        )
        hook = self.webhooks[webhook_id]
        hook.cursor, hook.attempts, hook.next_attempt_at, hook.last_error = seq, 0, None, error
