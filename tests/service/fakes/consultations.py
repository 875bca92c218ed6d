"""In memory: consultations and their messages."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from broker.domain.consultations import StoredConsultation, StoredMessage


class FakeConsultationRepository:
    """In memory: consultations and their messages, as
    `broker.store.consultations_repo.ConsultationRepository` keeps them."""

    def __init__(self) -> None:
        self.stored: dict[str, StoredConsultation] = {}
        self.threads: dict[str, list[StoredMessage]] = {}

    async def add(self, consultation: StoredConsultation) -> None:
        """Store a new consultation."""
        assert consultation.id not in self.stored
        self.stored[consultation.id] = consultation
        self.threads[consultation.id] = []

    async def get(self, consultation_id: str) -> StoredConsultation | None:
        """The consultation `consultation_id`, if there is one."""
        return self.stored.get(consultation_id)

    async def newest(
        self, limit: int, *, before: str | None = None, member_id: str | None = None
    ) -> list[StoredConsultation]:
        """Up to `limit` consultations, newest first, older than `before`; `member_id`'s only."""
        found = [
            c
            for i, c in sorted(self.stored.items(), reverse=True)
            if (before is None or i < before) and (member_id is None or c.member_id == member_id)
        ]
        return found[:limit]

    async def messages(self, consultation_id: str) -> list[StoredMessage]:
        """The thread, oldest first."""
        return sorted(self.threads.get(consultation_id, []), key=lambda m: m.id)

    async def add_message(self, message: StoredMessage) -> None:
        """Store a message and count it on its consultation."""
        self.threads[message.consultation_id].append(message)
        stored = self.stored[message.consultation_id]
        self.stored[stored.id] = dataclasses.replace(
            stored, last_message_at=message.created_at, messages=stored.messages + 1
        )

    async def reveal(self, consultation_id: str, at: datetime) -> None:
        """Record the reveal; a second one keeps the first."""
        stored = self.stored[consultation_id]
        if stored.revealed_at is None:
            self.stored[consultation_id] = dataclasses.replace(stored, revealed_at=at)
