"""In memory: webhooks and dead letters."""

from __future__ import annotations


class FakeWebhookRepository:
    """In memory: webhooks and dead letters."""
