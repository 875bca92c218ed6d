"""Checking an audit export on the member's side: the hash chain and the signed checkpoints.

The export (``GET /v1/audit/export``) is JSON Lines: a ``keys`` line, the
checkpoints, then every event in chain order. Each event's ``hash`` is the
SHA-256 of the 32 bytes of ``prev_hash`` followed by the canonical JSON
(sorted keys, ``,``/``:`` separators, UTF-8, non-ASCII kept) of its other
fields; event 1 follows 64 zeros. A checkpoint is an Ed25519 signature, by
``key_id``, of ``council-audit-checkpoint-v1\\n`` followed by the canonical JSON
of ``{"at", "head", "size"}``: the chain had ``size`` events ending in ``head``.

The keys that verify the signatures come from elsewhere (a saved
``GET /v1/audit/keys`` answer), never from the export's own first line, which
whoever edited the export could have edited too.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["AuditVerification", "public_keys", "verify_audit_export"]

GENESIS = "0" * 64
CHECKPOINT_DOMAIN = b"council-audit-checkpoint-v1\n"
_EVENT_FIELDS = (
    "seq",
    "id",
    "at",
    "actor_user_id",
    "actor_member_id",
    "action",
    "item_id",
    "subject_member_id",
    "outcome",
    "reason",
    "details",
    "prev_hash",
)
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class AuditVerification:
    """What checking an export found: ``problem`` is None when everything holds."""

    events: int
    head: str
    checkpoints: int
    covered: int
    """How many events the newest valid checkpoint vouches for."""
    problem: str | None = None
    problem_seq: int | None = None
    key_ids: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """Whether the chain links, every hash matches and every checkpoint is signed."""
        return self.problem is None


def public_keys(document: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    """The Ed25519 keys of a ``GET /v1/audit/keys`` document, by key id; ValueError if malformed."""
    keys = document.get("keys")
    if document.get("algorithm") != "Ed25519" or not isinstance(keys, list):
        raise ValueError("not an audit keys document (GET /v1/audit/keys)")
    found: dict[str, Ed25519PublicKey] = {}
    for entry in keys:
        if not isinstance(entry, dict):
            raise ValueError("a key entry is not an object")
        key_id, raw = entry.get("key_id"), entry.get("public_key")
        if not isinstance(key_id, str) or not isinstance(raw, str):
            raise ValueError("a key entry lacks key_id or public_key")
        found[key_id] = Ed25519PublicKey.from_public_bytes(base64.b64decode(raw, validate=True))
    return found


def _event_hash(record: Mapping[str, Any]) -> str:
    body = {name: record.get(name) for name in _EVENT_FIELDS}
    prev = str(body["prev_hash"])
    return hashlib.sha256(bytes.fromhex(prev) + _CANONICAL.encode(body).encode()).hexdigest()


def _signed(record: Mapping[str, Any], keys: Mapping[str, Ed25519PublicKey]) -> bool:
    key = keys.get(str(record.get("key_id")))
    if key is None:
        return False
    message = CHECKPOINT_DOMAIN + _CANONICAL.encode(
        {"at": record.get("at"), "head": record.get("head"), "size": record.get("size")}
    ).encode("utf-8")
    try:
        key.verify(bytes.fromhex(str(record.get("signature"))), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_audit_export(
    records: Iterable[Mapping[str, Any]], keys: Mapping[str, Ed25519PublicKey]
) -> AuditVerification:
    """Check every event's link and hash and every checkpoint's signature and head.

    Stops at the first problem and names it (with the event's ``seq``).
    """
    heads: dict[int, str] = {0: GENESIS}
    checkpoints: list[Mapping[str, Any]] = []
    head, count = GENESIS, 0

    def broken(message: str, seq: int | None) -> AuditVerification:
        return AuditVerification(count, head, len(checkpoints), 0, message, seq)

    for record in records:
        kind = record.get("type")
        if kind == "keys":
            continue  # informative only: see the module's docstring
        if kind == "checkpoint":
            if not _signed(record, keys):
                return broken(
                    f"the checkpoint of {record.get('size')} events is not signed by a known key",
                    None,
                )
            checkpoints.append(record)
            continue
        if kind != "event":
            return broken(f"a line of type {kind!r} is neither an event nor a checkpoint", None)
        seq = record.get("seq")
        if seq != count + 1:
            return broken(f"event {count + 1} is missing (the next line is event {seq})", count + 1)
        if record.get("prev_hash") != head:
            return broken(
                f"event {seq} ({record.get('id')}) does not follow event {count}: "
                "an event was inserted, deleted or reordered",
                count + 1,
            )
        try:
            digest = _event_hash(record)
        except (TypeError, ValueError):
            digest = ""
        if record.get("hash") != digest:
            return broken(
                f"event {seq} ({record.get('id')}) was modified: its hash does not match it",
                count + 1,
            )
        head, count = digest, count + 1
        heads[count] = head
    covered = 0
    for checkpoint in checkpoints:
        size = checkpoint.get("size")
        if not isinstance(size, int) or size > count:
            return broken(
                f"a checkpoint vouches for {size} events but the export has {count}: "
                "events were removed from its end",
                None,
            )
        if heads[size] != checkpoint.get("head"):
            return broken(
                f"the signed checkpoint of {size} events does not match event {size}: "
                "events up to it were changed",
                size,
            )
        covered = max(covered, size)
    ids = tuple(sorted({str(c.get("key_id")) for c in checkpoints}))
    return AuditVerification(count, head, len(checkpoints), covered, None, None, ids)
