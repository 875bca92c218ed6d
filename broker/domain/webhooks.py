"""Member webhooks as their member's administrators see them (docs/api.md "Delivery")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

__all__ = ["DeadLetter", "Webhook", "WebhookRegistration", "redact_url"]

REDACTED = "redacted"


def redact_url(url: str) -> str:
    """`url` fit for logs and the audit trail: its userinfo (credentials) and query
    string (often a token) replaced by a marker, its fragment dropped."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
        query = REDACTED if parts.query else ""
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return REDACTED  # not even a URL: nothing of it is kept


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event a webhook gave up on after its last retry: kept for the member's admin."""

    event_seq: int
    attempts: int
    last_error: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Webhook:
    """A registered webhook with its delivery state: where it is in the feed, how its
    next event is failing, and the events it gave up on (never its secret)."""

    id: str
    member_id: str
    url: str
    active: bool
    cursor: int
    failing_attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    dead_letters: tuple[DeadLetter, ...] = ()


@dataclass(frozen=True, slots=True)
class WebhookRegistration:
    """A webhook just registered, with its signing secret: the one time it is shown."""

    id: str
    member_id: str
    url: str
    secret: str
    created_at: datetime
