"""In memory: the deliverable-event feed."""

from __future__ import annotations

from collections.abc import Iterable

from broker.domain import EventDraft


class FakeFeedRepository:
    """In memory: the deliverable-event feed."""

    def __init__(self) -> None:
        self.events: list[EventDraft] = []

    async def append(self, drafts: Iterable[EventDraft]) -> None:
        """Keep `drafts` in order."""
        self.events.extend(drafts)
