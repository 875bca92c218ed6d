"""The audit log as docs/api.md shows it: pages of events, checkpoints, export lines."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from broker.audit import AuditEvent, Checkpoint, checkpoint_to_json, event_to_json
from broker.domain.audit import AuditPage

__all__ = ["audit_page_view", "checkpoint_view", "export_line", "keys_line", "keys_view"]


def audit_page_view(page: AuditPage) -> dict[str, Any]:
    """A page of events with its cursor: the last seq shown (audit cursors are seqs)."""
    return {
        "items": [event_to_json(event) for event in page.events],
        "next_cursor": str(page.next_seq) if page.next_seq is not None else None,
    }


def checkpoint_view(checkpoint: Checkpoint) -> dict[str, Any]:
    """A signed checkpoint (`GET /v1/audit/checkpoints/latest`)."""
    return {
        "size": checkpoint.size,
        "head": checkpoint.head,
        "signature": checkpoint.signature,
        "key_id": checkpoint.key_id,
        "at": checkpoint.at,
    }


def export_line(record: AuditEvent | Checkpoint) -> bytes:
    """One JSON Lines record of the export (`broker.audit.codec`'s objects, keys sorted)."""
    obj = checkpoint_to_json(record) if isinstance(record, Checkpoint) else event_to_json(record)
    return json.dumps(obj, sort_keys=True, ensure_ascii=False).encode() + b"\n"


def keys_view(public: Mapping[str, bytes], current: str) -> dict[str, Any]:
    """The checkpoint public keys (`GET /v1/audit/keys`; saved, `audit verify --public-key`)."""
    return {
        "type": "keys",
        "algorithm": "Ed25519",
        "current": current,
        "keys": [
            {"key_id": key_id, "public_key": base64.b64encode(raw).decode()}
            for key_id, raw in sorted(public.items())
        ],
    }


def keys_line(public: Mapping[str, bytes], current: str) -> bytes:
    """The export's first line: the public keys its checkpoints were signed with.

    Informative only: a verifier checks signatures against keys it got another
    way (`--public-key`, the key ring), never against keys a forger could edit.
    """
    return json.dumps(keys_view(public, current), sort_keys=True).encode() + b"\n"
