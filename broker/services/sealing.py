"""Binding an item's routing facts to its ciphertext.

The data key is wrapped with the item's id, provider, kind, confidence, TLP,
secret flag, scope version, scope and source ceilings as associated data: a
change to any of them in the database makes the item fail to open (an
integrity alarm), never a silent read with weakened rules.

The associated data has its own canonical form, defined here and independent
of how the store keeps the same facts: every stored item was sealed with it,
so it must never change byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
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
from broker.domain import ItemFacts, SourceConstraint
from broker.domain.items import ItemContent, StoredItem
from broker.errors import IntegrityAlarm
from broker.services.keyring import Keys

__all__ = ["content_aad", "key_aad", "open_content", "rebind_key", "seal_content"]


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
            "constraints": _ceilings(facts.constraints),
            "derived_from": list(facts.derived_from),
        }
    )


def _ceilings(constraints: Iterable[SourceConstraint]) -> list[dict[str, Any]]:
    # Source ceilings (art. 17(3)) in a stable order: by provider, then source.
    return sorted(
        (
            {
                "source_id": c.source_id,
                "provider_id": c.provider_id,
                "scope": c.scope.to_json(),
                "tlp": str(c.tlp),
                "secret": c.secret,
            }
            for c in constraints
        ),
        key=lambda c: (c["provider_id"], c["source_id"]),
    )


def seal_content(ring: KeyRing, facts: ItemFacts, content: ItemContent) -> Envelope:
    """Encrypt an item's content under a fresh data key bound to its facts (version 1)."""
    plaintext = {
        "title": content.title,
        "body": content.body,
        "stix": content.stix,
        "victim": content.victim,
    }
    return seal(
        ring,
        canonical_json(plaintext),
        content_aad=content_aad(facts.id),
        key_aad=key_aad(facts, 1),
    )


def open_content(keys: Keys, stored: StoredItem) -> ItemContent:
    """Decrypt a stored item, or raise IntegrityAlarm if anything bound to it changed
    (or its content is gone)."""
    if (
        stored.wrapped_key is None
        or stored.ciphertext is None
        or stored.nonce is None
        or stored.kek_version is None
    ):
        raise IntegrityAlarm("the item's content is missing")
    envelope = Envelope(
        nonce=stored.nonce,
        ciphertext=stored.ciphertext,
        wrapped_key=stored.wrapped_key,
        kek_version=stored.kek_version,
    )
    try:
        plaintext = open_envelope(
            keys.ring_for(stored.kek_version),
            envelope,
            content_aad=content_aad(stored.id),
            key_aad=key_aad(stored.facts, stored.scope_version),
        )
    except IntegrityFailure as exc:
        raise IntegrityAlarm() from exc
    content: dict[str, Any] = json.loads(plaintext)
    return ItemContent(
        title=content["title"],
        body=content.get("body"),
        stix=content.get("stix"),
        victim=content.get("victim"),
    )


def rebind_key(
    keys: Keys, stored: StoredItem, new: ItemFacts, new_version: int
) -> tuple[bytes, int]:
    """Re-wrap the data key for a new scope version (the content is untouched)."""
    if stored.wrapped_key is None or stored.kek_version is None:
        raise IntegrityAlarm("the item's content is missing")
    try:
        return rewrap(
            keys.ring_for(stored.kek_version),
            stored.wrapped_key,
            stored.kek_version,
            old_key_aad=key_aad(stored.facts, stored.scope_version),
            new_key_aad=key_aad(new, new_version),
        )
    except IntegrityFailure as exc:
        raise IntegrityAlarm() from exc
