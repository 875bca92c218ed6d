"""Private consultations as stored and as a reader sees them (charter art. 16(3), SPEC §4).

A consultation's consulter is known to the coordinator only unless it
reveals itself: `Party` is None wherever the reader may not learn who it is.
The API's views turn these into JSON (`broker.api.views.consultations`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from broker.crypto import Envelope
from broker.tlp import ConsultationRole

__all__ = [
    "Consultation",
    "ConsultationPage",
    "Message",
    "Party",
    "StoredConsultation",
    "StoredMessage",
]


@dataclass(frozen=True, slots=True)
class StoredConsultation:
    """A consultation as stored: who asked, its counters, its title and body sealed.

    The seal binds the asking member and user (broker.services.consultations),
    so rewriting who asked breaks it.
    """

    id: str
    member_id: str
    user_id: str
    revealed_at: datetime | None
    created_at: datetime
    last_message_at: datetime
    messages: int
    sealed: Envelope


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message of a consultation thread as stored, its text sealed."""

    id: str
    consultation_id: str
    author_member_id: str
    author_user_id: str
    from_consulter: bool
    created_at: datetime
    sealed: Envelope


@dataclass(frozen=True, slots=True)
class Party:
    """A member taking part in a consultation, as the reader may know it."""

    member_id: str
    name: str | None


@dataclass(frozen=True, slots=True)
class Message:
    """One message as the reader sees it; `author` None if it would unmask the consulter."""

    id: str
    body: str
    created_at: datetime
    from_consulter: bool
    author: Party | None


@dataclass(frozen=True, slots=True)
class Consultation:
    """A consultation as the reader sees it: `consulter` None unless the reader may know.

    `replies` is empty in a listing, which shows the thread's counters only.
    """

    id: str
    title: str | None
    body: str | None
    created_at: datetime
    last_message_at: datetime
    messages: int
    revealed_at: datetime | None
    role: ConsultationRole
    consulter: Party | None
    replies: tuple[Message, ...] = ()

    @property
    def mine(self) -> bool:
        """Whether the reader's member asked."""
        return self.role is ConsultationRole.CONSULTER


@dataclass(frozen=True, slots=True)
class ConsultationPage:
    """A page of consultations, newest first, and where the next starts."""

    items: tuple[Consultation, ...]
    next_cursor: str | None
