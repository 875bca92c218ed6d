"""Sealing a resolution's texts: the council's deliberations stay out of the database.

A resolution's title, text and purpose, the chair's reason for refusing it
(art. 11(9)) and each seat's reason for recusing itself (art. 11(6)) are
sealed together, like an item's content: one envelope under a fresh data key
wrapped by the key ring (`broker.crypto.seal`), so the database and its
backups hold none of them, and `council-broker keys rotate` re-wraps them with
the rest. A reason added later re-seals the whole under a new data key.

What the governance rules decide on (kind, subject, seats, votes, status,
tally) stays in the clear: it is the council's metadata, as an item's routing
facts are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from broker.crypto import Envelope, IntegrityFailure, canonical_json, open_envelope, seal
from broker.domain.resolutions import Resolution
from broker.errors import IntegrityAlarm
from broker.services.keyring import Keys

__all__ = ["ResolutionTexts", "open_texts", "resolution_key_aad", "seal_texts", "texts_of"]


@dataclass(frozen=True, slots=True)
class ResolutionTexts:
    """Everything written in words on a resolution."""

    title: str
    text: str | None = None
    purpose: str | None = None
    refusal_reason: str | None = None
    # Each recused seat's reason, by voter id.
    recusals: Mapping[str, str] = field(default_factory=dict)


def _aad(resolution_id: str) -> tuple[bytes, bytes]:
    content = canonical_json({"purpose": "resolution-texts", "resolution": resolution_id})
    key = canonical_json({"purpose": "resolution-texts-key", "resolution": resolution_id})
    return content, key


def resolution_key_aad(resolution_id: str) -> bytes:
    """The associated data a resolution's data key is wrapped with (key rotation)."""
    return _aad(resolution_id)[1]


def seal_texts(keys: Keys, resolution_id: str, texts: ResolutionTexts) -> Envelope:
    """`texts` sealed for resolution `resolution_id`, under a fresh data key."""
    content_aad, key_aad = _aad(resolution_id)
    plaintext = {
        "title": texts.title,
        "text": texts.text,
        "purpose": texts.purpose,
        "refusal_reason": texts.refusal_reason,
        "recusals": dict(texts.recusals),
    }
    return seal(keys.ring, canonical_json(plaintext), content_aad=content_aad, key_aad=key_aad)


def texts_of(resolution: Resolution) -> ResolutionTexts:
    """The texts of an opened resolution (or of one stored before the seal)."""
    return ResolutionTexts(
        title=resolution.title,
        text=resolution.text,
        purpose=resolution.purpose,
        refusal_reason=resolution.refusal_reason,
        recusals={b.voter_id: b.reason for b in resolution.ballots if b.reason is not None},
    )


def open_texts(keys: Keys, resolution: Resolution) -> Resolution:
    """`resolution` with its texts in their fields (and its recusals' reasons); one
    stored before the seal has them there already. IntegrityAlarm if the seal
    does not open."""
    env = resolution.sealed
    if env is None:
        return resolution
    content_aad, key_aad = _aad(resolution.id)
    try:
        plaintext = open_envelope(
            keys.ring_for(env.kek_version), env, content_aad=content_aad, key_aad=key_aad
        )
    except IntegrityFailure as exc:
        raise IntegrityAlarm() from exc
    data: dict[str, Any] = json.loads(plaintext)
    recusals: dict[str, str] = data.get("recusals") or {}
    return replace(
        resolution,
        title=data["title"],
        text=data.get("text"),
        purpose=data.get("purpose"),
        refusal_reason=data.get("refusal_reason"),
        ballots=tuple(
            replace(b, reason=recusals[b.voter_id]) if b.voter_id in recusals else b
            for b in resolution.ballots
        ),
    )
