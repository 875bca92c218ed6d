"""Binding an item's routing facts to its ciphertext.

The data key is wrapped with the item's id, provider, kind, confidence, TLP,
secret flag, scope version, scope and source ceilings as associated data: a
change to any of them in the database makes the item fail to open (an
integrity alarm), never a silent read with weakened rules.
"""

from __future__ import annotations

import json
from typing import Any

from broker.crypto import (
    Envelope,
    IntegrityFailure,
    KeyRing,
    canonical_json,
    open_envelope,
    rewrap,
    seal,
)
from broker.domain import ItemFacts
from broker.errors import IntegrityAlarm
from broker.store.items_repo import constraints_to_json


def content_aad(item_id: str) -> bytes:
    """Associated data of the content ciphertext: the item it belongs to."""
    return canonical_json({"purpose": "item-content", "item": item_id})


def key_aad(facts: ItemFacts, scope_version: int) -> bytes:
    """Associated data of the wrapped data key: every fact routing depends on."""
    return canonical_json(
        {
            "purpose": "item-key",
            "item": facts.id,
            "provider": facts.provider_id,
            "kind": str(facts.kind),
            "confidence": str(facts.confidence),
            "tlp": str(facts.tlp),
            "secret": facts.secret,
            "scope_version": scope_version,
            "scope": facts.scope.to_json(),
            "constraints": constraints_to_json(facts.constraints),
            "derived_from": list(facts.derived_from),
        }
    )


def seal_content(ring: KeyRing, facts: ItemFacts, content: dict[str, Any]) -> Envelope:
    """Encrypt an item's content under a fresh data key bound to its facts (version 1)."""
    return seal(
        ring,
        canonical_json(content),
        content_aad=content_aad(facts.id),
        key_aad=key_aad(facts, 1),
    )


def open_content(ring: KeyRing, row: Any, facts: ItemFacts) -> dict[str, Any]:
    """Decrypt a stored item, or raise IntegrityAlarm if anything bound to it changed."""
    if row.wrapped_key is None or row.ciphertext is None or row.nonce is None:
        raise IntegrityAlarm("the item's content is missing")
    envelope = Envelope(
        nonce=row.nonce,
        ciphertext=row.ciphertext,
        wrapped_key=row.wrapped_key,
        kek_version=int(row.kek_version),
    )
    try:
        plaintext = open_envelope(
            ring,
            envelope,
            content_aad=content_aad(facts.id),
            key_aad=key_aad(facts, int(row.scope_version)),
        )
    except IntegrityFailure as exc:
        raise IntegrityAlarm() from exc
    content: dict[str, Any] = json.loads(plaintext)
    return content


def rebind_key(
    ring: KeyRing, row: Any, old: ItemFacts, new: ItemFacts, new_version: int
) -> tuple[bytes, int]:
    """Re-wrap the data key for a new scope version (the content is untouched)."""
    try:
        return rewrap(
            ring,
            row.wrapped_key,
            int(row.kek_version),
            old_key_aad=key_aad(old, int(row.scope_version)),
            new_key_aad=key_aad(new, new_version),
        )
    except IntegrityFailure as exc:
        raise IntegrityAlarm() from exc
