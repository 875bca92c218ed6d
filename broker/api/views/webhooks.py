"""Webhooks as docs/api.md shows them to their member's admin."""

from __future__ import annotations

from typing import Any

from broker.domain.timestamps import rfc3339, rfc3339_or_none
from broker.domain.webhooks import DeadLetter, Webhook, WebhookRegistration

__all__ = ["dead_letter_view", "registration_view", "removed_view", "webhook_view"]


def registration_view(registration: WebhookRegistration) -> dict[str, Any]:
    """A registered webhook with its signing secret (shown this once)."""
    return {
        "id": registration.id,
        "member_id": registration.member_id,
        "url": registration.url,
        "secret": registration.secret,
        "created_at": rfc3339(registration.created_at),
    }


def dead_letter_view(letter: DeadLetter) -> dict[str, Any]:
    """An event given up on; its id is the feed cursor, as in the stream."""
    return {
        "event_id": str(letter.event_seq),
        "attempts": letter.attempts,
        "last_error": letter.last_error,
        "at": rfc3339(letter.at),
    }


def webhook_view(webhook: Webhook) -> dict[str, Any]:
    """A webhook with its delivery state (never its secret)."""
    return {
        "id": webhook.id,
        "member_id": webhook.member_id,
        "url": webhook.url,
        "active": webhook.active,
        "cursor": str(webhook.cursor),
        "failing_attempts": webhook.failing_attempts,
        "next_attempt_at": rfc3339_or_none(webhook.next_attempt_at),
        "last_error": webhook.last_error,
        "dead_letters": [dead_letter_view(d) for d in webhook.dead_letters],
        "created_at": rfc3339(webhook.created_at),
    }


def removed_view(webhook_id: str) -> dict[str, Any]:
    """A webhook just stopped."""
    return {"id": webhook_id, "active": False}
