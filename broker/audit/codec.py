"""The audit export format: JSON Lines of events and checkpoints.

This is what ``GET /v1/audit/export`` streams and what ``council-broker audit
verify --export FILE`` reads: one JSON object per line, ``"type": "event"`` or
``"type": "checkpoint"``, with exactly the fields of :class:`AuditEvent` or
:class:`Checkpoint`. :func:`verify_events` needs the checkpoints before it reads
the events, so a writer should put the checkpoints first and only those whose
size is at most the number of events it exports (a checkpoint made while the
export streams would otherwise look like a truncation).

Decoding is strict: a missing, unknown or duplicate field, or a value of the
wrong shape, is a ValueError naming the event and the field, because a field the
hash does not cover would let a tampered export say more than was signed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final

from broker.audit.chain import (
    AuditEvent,
    Checkpoint,
    JSONValue,
    _check_hash,
    _check_optional_str,
    _check_outcome,
    _check_time,
    _copy_details,
)

__all__ = [
    "checkpoint_from_json",
    "checkpoint_to_json",
    "event_from_json",
    "event_to_json",
    "from_json_line",
    "to_json_line",
]

_EVENT_FIELDS: Final[tuple[str, ...]] = (
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
    "hash",
)
_CHECKPOINT_FIELDS: Final[tuple[str, ...]] = ("size", "head", "at", "key_id", "signature")

# Compact, and NaN refused: what we write must be what from_json_line accepts.
_LINE_ENCODER: Final[json.JSONEncoder] = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def event_to_json(e: AuditEvent) -> dict[str, JSONValue]:
    """Return ``e`` as the JSON object of the export, with ``"type": "event"``.

    ``details`` is copied, so changing the result cannot change the event.
    """
    return {
        "type": "event",
        "seq": e.seq,
        "id": e.id,
        "at": e.at,
        "actor_user_id": e.actor_user_id,
        "actor_member_id": e.actor_member_id,
        "action": e.action,
        "item_id": e.item_id,
        "subject_member_id": e.subject_member_id,
        "outcome": e.outcome,
        "reason": e.reason,
        "details": _copy_details(e.details),
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def checkpoint_to_json(cp: Checkpoint) -> dict[str, JSONValue]:
    """Return ``cp`` as the JSON object of the export, with ``"type": "checkpoint"``.

    Without ``type`` it is also the body of ``GET /v1/audit/checkpoints/latest``.
    """
    return {
        "type": "checkpoint",
        "size": cp.size,
        "head": cp.head,
        "at": cp.at,
        "key_id": cp.key_id,
        "signature": cp.signature,
    }


def _check_fields(d: object, kind: str, fields: tuple[str, ...]) -> Mapping[str, object]:
    """Return ``d`` if it is an object with exactly ``fields`` (and maybe ``type``)."""
    if not isinstance(d, Mapping):
        raise ValueError(f"an audit {kind} must be a JSON object, got {type(d).__name__}")
    if "type" in d and d["type"] != kind:
        raise ValueError(f"expected an object of type {kind!r}, got type {d['type']!r}")
    missing = [name for name in fields if name not in d]
    unknown = sorted(str(name) for name in d if name not in fields and name != "type")
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown {', '.join(unknown)}")
        raise ValueError(f"audit {kind} fields: {'; '.join(parts)}")
    return d


def _non_empty_str(value: object, name: str) -> str:
    """Return ``value`` if it is a non-empty string, else raise ValueError."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _non_negative_int(value: object, name: str) -> int:
    """Return ``value`` if it is an int (not a bool) of at least 0."""
    if type(value) is not int or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def event_from_json(d: Mapping[str, object]) -> AuditEvent:
    """Build an :class:`AuditEvent` from its export object, checking every field.

    ``type`` may be absent; if present it must be ``"event"``. Does not check
    the hash (that is :func:`verify_events`' job), only that each field has the
    shape the chain writes. Raises ValueError naming the event and the field.
    """
    d = _check_fields(d, "event", _EVENT_FIELDS)
    name = f"audit event {d['seq']!r}"
    if isinstance(d["id"], str):
        name += f" (id {d['id']})"
    try:
        seq = _non_negative_int(d["seq"], "seq")
        if seq < 1:
            raise ValueError("seq must be at least 1, got 0")
        return AuditEvent(
            seq=seq,
            id=_non_empty_str(d["id"], "id"),
            at=_check_time(d["at"], "at"),
            actor_user_id=_check_optional_str(d["actor_user_id"], "actor_user_id"),
            actor_member_id=_check_optional_str(d["actor_member_id"], "actor_member_id"),
            action=_non_empty_str(d["action"], "action"),
            item_id=_check_optional_str(d["item_id"], "item_id"),
            subject_member_id=_check_optional_str(d["subject_member_id"], "subject_member_id"),
            outcome=_check_outcome(d["outcome"]),
            reason=_check_optional_str(d["reason"], "reason"),
            details=_copy_details(d["details"]),
            prev_hash=_check_hash(d["prev_hash"], "prev_hash"),
            hash=_check_hash(d["hash"], "hash"),
        )
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def checkpoint_from_json(d: Mapping[str, object]) -> Checkpoint:
    """Build a :class:`Checkpoint` from its export object, checking every field.

    ``type`` may be absent (as in ``GET /v1/audit/checkpoints/latest``); if
    present it must be ``"checkpoint"``. Does not check the signature (that is
    :func:`verify_events`' job). Raises ValueError naming the field.
    """
    d = _check_fields(d, "checkpoint", _CHECKPOINT_FIELDS)
    try:
        signature = _non_empty_str(d["signature"], "signature")
        try:
            bytes.fromhex(signature)
        except ValueError:
            raise ValueError("signature must be hex") from None
        return Checkpoint(
            size=_non_negative_int(d["size"], "size"),
            head=_check_hash(d["head"], "head"),
            at=_check_time(d["at"], "at"),
            key_id=_non_empty_str(d["key_id"], "key_id"),
            signature=signature,
        )
    except ValueError as exc:
        raise ValueError(f"audit checkpoint of size {d['size']!r}: {exc}") from None


def to_json_line(record: AuditEvent | Checkpoint) -> str:
    """Return one line of the export for ``record``, ending in a newline."""
    obj = event_to_json(record) if isinstance(record, AuditEvent) else checkpoint_to_json(record)
    return _LINE_ENCODER.encode(obj) + "\n"


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """Build a JSON object, refusing a key given twice.

    json.loads would silently keep the last value; a line a person reads one way
    and the verifier another is exactly what an audit export must not allow.
    """
    obj: dict[str, object] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"key {key!r} appears twice")
        obj[key] = value
    return obj


def from_json_line(line: str | bytes) -> AuditEvent | Checkpoint:
    """Parse one line of the export into an event or a checkpoint.

    Raises ValueError with a message for a person on anything else: invalid
    JSON, a missing or unknown ``type``, or a malformed record.
    """
    try:
        obj = json.loads(line, object_pairs_hook=_no_duplicate_keys)
    except RecursionError:
        raise ValueError("the line is nested too deeply to be an audit record") from None
    except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(f"not a valid JSON object: {exc}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"an audit record must be a JSON object, got {type(obj).__name__}")
    kind = obj.get("type")
    if kind == "event":
        return event_from_json(obj)
    if kind == "checkpoint":
        return checkpoint_from_json(obj)
    raise ValueError(f"an audit record needs type 'event' or 'checkpoint', got {kind!r}")
