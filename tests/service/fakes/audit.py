"""In memory: the audit chain (drafts in order)."""

from __future__ import annotations

from collections.abc import Sequence

from broker.domain import AuditDraft


class FakeAuditRepository:
    """In memory: the audit chain (drafts in order)."""

    def __init__(self) -> None:
        self.drafts: list[AuditDraft] = []

    async def append(self, drafts: Sequence[AuditDraft]) -> None:
        """Keep `drafts` in order."""
        self.drafts.extend(drafts)
