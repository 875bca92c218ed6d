"""Consultations and their messages as docs/api.md JSON; a party the reader may not know is null."""

from __future__ import annotations

from typing import Any

from broker.domain.consultations import Consultation, ConsultationPage, Message, Party
from broker.domain.timestamps import rfc3339, rfc3339_or_none

__all__ = ["consultation_json", "consultation_page_json", "message_json"]


def _party_json(party: Party | None) -> dict[str, Any] | None:
    return None if party is None else {"member_id": party.member_id, "name": party.name}


def message_json(message: Message) -> dict[str, Any]:
    """One message of a thread (`POST /v1/consultations/{id}/replies`)."""
    return {
        "id": message.id,
        "body": message.body,
        "created_at": rfc3339(message.created_at),
        "from_consulter": message.from_consulter,
        "author": _party_json(message.author),
    }


def consultation_json(consultation: Consultation) -> dict[str, Any]:
    """A consultation with its body and thread (`GET /v1/consultations/{id}`)."""
    return {
        "id": consultation.id,
        "title": consultation.title,
        "body": consultation.body,
        "created_at": rfc3339(consultation.created_at),
        "last_message_at": rfc3339(consultation.last_message_at),
        "messages": consultation.messages,
        # The SDK's field: whether the consulter is shown to the tier-one group.
        "reveal_identity": consultation.revealed_at is not None,
        "revealed_at": rfc3339_or_none(consultation.revealed_at),
        "role": consultation.role.value,
        "mine": consultation.mine,
        "consulter": _party_json(consultation.consulter),
        "replies": [message_json(m) for m in consultation.replies],
    }


_LISTED_WITHOUT = ("body", "replies")  # a listing shows the thread's counters only


def consultation_page_json(page: ConsultationPage) -> dict[str, Any]:
    """`GET /v1/consultations`: consultations without body or thread, newest first."""
    return {
        "items": [
            {k: v for k, v in consultation_json(c).items() if k not in _LISTED_WITHOUT}
            for c in page.items
        ],
        "next_cursor": page.next_cursor,
    }
