"""Sealing feedback comments and consultations, as items are sealed (SPEC §2).

Each comment, consultation and consultation message gets a fresh data key
wrapped by the key ring (`broker.crypto.seal`). The associated data binds the
ciphertext to the row it belongs to — and, for a consultation, to who asked —
so moving a ciphertext to another row, or rewriting who asked, makes it fail
to open (an integrity alarm), never a silent read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from broker.crypto import (
    Envelope,
    IntegrityFailure,
    KeyRing,
    canonical_json,
    open_envelope,
    seal,
)
from broker.errors import IntegrityAlarm

__all__ = [
    "SealedComment",
    "comment_key_aad",
    "consultation_key_aad",
    "message_key_aad",
    "open_comment",
    "open_consultation",
    "open_message",
    "seal_comment",
    "seal_consultation",
    "seal_message",
]

RingFor = Callable[[int | None], KeyRing]
"""`Core.ring_for`: the ring, reloaded if a newer key version turned up."""

_NONCE = 12  # AES-GCM nonce length (broker.crypto)

SealedComment = tuple[bytes, bytes, int]
"""What the obligations table stores: nonce || ciphertext, wrapped key, key version."""


def _comment_aad(ob_id: str, item_id: str, member_id: str) -> tuple[bytes, bytes]:
    content = canonical_json({"purpose": "feedback-comment", "obligation": ob_id})
    key = canonical_json(
        {
            "purpose": "feedback-comment-key",
            "obligation": ob_id,
            "item": item_id,
            "member": member_id,
        }
    )
    return content, key


def comment_key_aad(row: Any) -> bytes:
    """The associated data a stored obligation's comment key is wrapped with."""
    return _comment_aad(row.id, row.item_id, row.member_id)[1]


def seal_comment(
    ring: KeyRing, ob_id: str, item_id: str, member_id: str, text: str
) -> SealedComment:
    """Encrypt a feedback comment for one obligation (member and item bound in)."""
    content_aad, key_aad = _comment_aad(ob_id, item_id, member_id)
    env = seal(ring, text.encode("utf-8"), content_aad=content_aad, key_aad=key_aad)
    return env.nonce + env.ciphertext, env.wrapped_key, env.kek_version


def open_comment(ring_for: RingFor, row: Any) -> str | None:
    """The comment of a stored obligation row, None if it has none (or it was erased)."""
    if row.comment is None or row.comment_wrapped_key is None:
        return None
    content_aad, key_aad = _comment_aad(row.id, row.item_id, row.member_id)
    version = int(row.comment_kek_version)
    env = Envelope(
        nonce=bytes(row.comment[:_NONCE]),
        ciphertext=bytes(row.comment[_NONCE:]),
        wrapped_key=bytes(row.comment_wrapped_key),
        kek_version=version,
    )
    return _open(ring_for(version), env, content_aad, key_aad).decode("utf-8")


def _consultation_aad(consultation_id: str, member_id: str, user_id: str) -> tuple[bytes, bytes]:
    content = canonical_json({"purpose": "consultation", "consultation": consultation_id})
    # Who asked is bound in: rewriting it in the database breaks the seal (art. 16(3)).
    key = canonical_json(
        {
            "purpose": "consultation-key",
            "consultation": consultation_id,
            "member": member_id,
            "user": user_id,
        }
    )
    return content, key


def consultation_key_aad(row: Any) -> bytes:
    """The associated data a stored consultation's key is wrapped with."""
    return _consultation_aad(row.id, row.member_id, row.user_id)[1]


def seal_consultation(
    ring: KeyRing, consultation_id: str, member_id: str, user_id: str, content: dict[str, Any]
) -> Envelope:
    """Encrypt a consultation's title and body."""
    content_aad, key_aad = _consultation_aad(consultation_id, member_id, user_id)
    return seal(ring, canonical_json(content), content_aad=content_aad, key_aad=key_aad)


def open_consultation(ring_for: RingFor, row: Any) -> dict[str, Any]:
    """A stored consultation's title and body, or IntegrityAlarm."""
    content_aad, key_aad = _consultation_aad(row.id, row.member_id, row.user_id)
    content: dict[str, Any] = json.loads(
        _open(ring_for(int(row.kek_version)), _env(row), content_aad, key_aad)
    )
    return content


def _message_aad(
    message_id: str, consultation_id: str, author_member_id: str, from_consulter: bool
) -> tuple[bytes, bytes]:
    content = canonical_json({"purpose": "consultation-message", "message": message_id})
    key = canonical_json(
        {
            "purpose": "consultation-message-key",
            "message": message_id,
            "consultation": consultation_id,
            "author": author_member_id,
            "from_consulter": from_consulter,
        }
    )
    return content, key


def message_key_aad(row: Any) -> bytes:
    """The associated data a stored consultation message's key is wrapped with."""
    return _message_aad(
        row.id, row.consultation_id, row.author_member_id, bool(row.from_consulter)
    )[1]


def seal_message(
    ring: KeyRing,
    message_id: str,
    consultation_id: str,
    author_member_id: str,
    from_consulter: bool,
    body: str,
) -> Envelope:
    """Encrypt one message of a consultation thread."""
    content_aad, key_aad = _message_aad(
        message_id, consultation_id, author_member_id, from_consulter
    )
    return seal(ring, body.encode("utf-8"), content_aad=content_aad, key_aad=key_aad)


def open_message(ring_for: RingFor, row: Any) -> str:
    """A stored consultation message's text, or IntegrityAlarm."""
    content_aad, key_aad = _message_aad(
        row.id, row.consultation_id, row.author_member_id, bool(row.from_consulter)
    )
    return _open(ring_for(int(row.kek_version)), _env(row), content_aad, key_aad).decode("utf-8")


def _env(row: Any) -> Envelope:
    return Envelope(
        nonce=bytes(row.nonce),
        ciphertext=bytes(row.ciphertext),
        wrapped_key=bytes(row.wrapped_key),
        kek_version=int(row.kek_version),
    )


def _open(ring: KeyRing, env: Envelope, content_aad: bytes, key_aad: bytes) -> bytes:
    try:
        return open_envelope(ring, env, content_aad=content_aad, key_aad=key_aad)
    except IntegrityFailure as exc:
        raise IntegrityAlarm() from exc
