"""The audit hash chain and its signed checkpoints (SPEC §5), as pure functions.

Every audit event carries the SHA-256 of the previous event's hash and its own
fields, so altering, deleting, inserting or reordering a stored event breaks the
chain. A chain alone does not stop someone who edits an event *and* recomputes
every later hash, nor someone who cuts the tail off; signed checkpoints (the
chain's size and head, signed with Ed25519 by the broker) close both holes and
can be checked offline.

Nothing here reads the clock, the database or a key file: times are passed in as
RFC 3339 strings and signing goes through a small :class:`Signer` the caller
builds from its key ring, so this module can be tested and audited on its own.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Literal, Protocol, TypeAlias, get_args

__all__ = [
    "CHECKPOINT_DOMAIN",
    "GENESIS",
    "OUTCOMES",
    "AuditChain",
    "AuditEvent",
    "Checkpoint",
    "JSONValue",
    "Outcome",
    "Signer",
    "checkpoint_message",
    "event_digest",
    "make_checkpoint",
]

JSONValue: TypeAlias = "bool | int | float | str | list[JSONValue] | dict[str, JSONValue] | None"
"""A value that survives a JSON round trip unchanged (what ``details`` may hold)."""

Outcome: TypeAlias = Literal["allowed", "denied", "error"]
"""How the audited action ended: done, refused by policy, or failed."""

OUTCOMES: Final[frozenset[str]] = frozenset(get_args(Outcome))
"""Every valid :data:`Outcome`, for run-time checks of input."""

GENESIS: Final[str] = "0" * 64
"""The ``prev_hash`` of the first event, and the head of an empty chain."""

CHECKPOINT_DOMAIN: Final[bytes] = b"council-audit-checkpoint-v1\n"
"""Prefix of every signed checkpoint message.

It keeps a checkpoint signature from ever being valid for anything else the
same key signs (and the reverse), and names the format version.
"""

_HEX_DIGITS: Final[frozenset[str]] = frozenset("0123456789abcdef")

# RFC 3339 in UTC, as the API promises: "Z" or "+00:00", optional fraction.
# Checked on the way in so that a naive datetime.isoformat() (no offset) is
# refused before it is sealed into the chain for ever.
_RFC3339_UTC: Final[re.Pattern[str]] = re.compile(
    r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
    r"T(?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)(?:\.\d{1,9})?(?:Z|\+00:00)",
    re.ASCII,
)

# One encoder, built once: json.dumps() with non-default options builds a new
# JSONEncoder on every call, which costs more than the hashing itself.
# allow_nan=False because NaN and Infinity are not JSON and have no canonical form.
_CANONICAL: Final[json.JSONEncoder] = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
# The same string escaping json uses with ensure_ascii=False (the C version when
# available); the hand-built encoding below must match _CANONICAL byte for byte.
_enc_str = json.encoder.encode_basestring


def _not_json(value: object) -> object:
    """Refuse a value json cannot encode, as JSONEncoder.default does."""
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _make_details_encoder() -> Callable[[object], str]:
    """Return a function encoding ``details`` exactly as :data:`_CANONICAL` would.

    JSONEncoder.encode builds a fresh C encoder on every call, which costs as
    much as the SHA-256 of the whole event; building it once halves the cost of
    ``details``. Falls back to _CANONICAL where the C accelerator is missing.
    """
    try:
        from _json import make_encoder
    except ImportError:  # pragma: no cover - CPython always has _json
        return _CANONICAL.encode
    # Same arguments JSONEncoder.iterencode passes, minus the circular-reference
    # markers: details are copied trees (see _copy_json), never cyclic.
    encoder = make_encoder(None, _not_json, _enc_str, None, ":", ",", True, False, False)

    def encode(value: object) -> str:
        return "".join(encoder(value, 0))

    return encode


_encode_details: Final[Callable[[object], str]] = _make_details_encoder()
_sha256 = hashlib.sha256
_fromhex = bytes.fromhex


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audited action: who did what to which item, how it ended, and its chain links.

    ``details`` holds JSON-able facts about the action (counts, scopes, key ids)
    and never item content: the secretariat reads the audit log and must not be
    able to read contents through it (SPEC §5). Built by :meth:`AuditChain.append`
    or :func:`broker.audit.codec.event_from_json`, which check the fields; the
    constructor itself does not, so that the store can load rows cheaply and the
    verifier, not the constructor, reports a tampered one. Not hashable, since
    ``details`` is a dict.
    """

    seq: int
    """Position in the chain, 1-based and consecutive."""
    id: str
    """Unique id of the event (ULID or UUID)."""
    at: str
    """When it happened, RFC 3339 UTC, as passed in by the caller."""
    actor_user_id: str | None
    """The user who acted, or None for the broker itself (timers, alarms)."""
    actor_member_id: str | None
    """The body the acting user acted for, or None."""
    action: str
    """What was done, dotted, e.g. ``item.read`` or ``member.update``."""
    item_id: str | None
    """The item acted on, if any."""
    subject_member_id: str | None
    """The member acted on (created, updated, receiving), if any."""
    outcome: Outcome
    """``allowed``, ``denied`` or ``error``."""
    reason: str | None
    """Why, in words, for denials and errors; None when there is nothing to say."""
    details: dict[str, JSONValue]
    """Further JSON-able facts about the action; never item content."""
    prev_hash: str
    """Hex SHA-256 ``hash`` of the previous event (:data:`GENESIS` for seq 1)."""
    hash: str
    """Hex :func:`event_digest` of ``prev_hash`` and every other field."""


def _canonical_json(value: object) -> bytes:
    """Encode ``value`` as canonical JSON: sorted keys, compact, UTF-8, no NaN."""
    return _CANONICAL.encode(value).encode("utf-8")


def _check_time(value: object, what: str) -> str:
    """Return ``value`` if it is an RFC 3339 UTC time string, else raise ValueError."""
    if not isinstance(value, str) or _RFC3339_UTC.fullmatch(value) is None:
        raise ValueError(
            f"{what} must be an RFC 3339 UTC time like 2025-01-31T09:00:00Z, got {value!r}"
        )
    return value


def _check_hash(value: object, what: str) -> str:
    """Return ``value`` if it is a lowercase hex SHA-256, else raise ValueError."""
    if not isinstance(value, str) or len(value) != 64 or not _HEX_DIGITS.issuperset(value):
        raise ValueError(f"{what} must be 64 lowercase hex digits, got {value!r}")
    return value


def event_digest(prev_hash: str, fields: Mapping[str, object]) -> str:
    """Return the hex SHA-256 that an event with these fields must carry as ``hash``.

    The digest is taken over the 32 bytes of ``prev_hash`` followed by the
    canonical JSON (sorted keys, ``,``/``:`` separators, ``ensure_ascii=False``,
    UTF-8) of ``fields`` with ``prev_hash`` set to the argument and any ``hash``
    entry left out. ``fields`` uses the :class:`AuditEvent` field names. This is
    the normative definition; the chain and the verifier use a faster encoding
    that the tests hold equal to it.

    Raises ValueError if ``prev_hash`` is not 64 lowercase hex digits or a value
    cannot be encoded (NaN, a lone surrogate).
    """
    _check_hash(prev_hash, "prev_hash")
    body = {name: value for name, value in fields.items() if name != "hash"}
    body["prev_hash"] = prev_hash
    return _sha256(_fromhex(prev_hash) + _canonical_json(body)).hexdigest()


def _event_fields_digest(e: AuditEvent) -> str:
    """Recompute what ``e.hash`` must be from ``e``'s other fields.

    Equal to :func:`event_digest` but several times faster, because every append
    runs it: the keys are written in sorted order by hand and each string goes
    through json's own escaper instead of encoding a dict. The verifier's inner
    loop, :class:`broker.audit.walker.ChainWalker`, writes the same bytes with
    memoised parts. ``seq`` must be exactly an int, so a bool or an int subclass
    cannot print differently from what json would write. Raises TypeError or
    ValueError on values that are not what the fields promise.
    """
    seq = e.seq
    if type(seq) is not int:
        raise TypeError(f"seq must be an int, got {type(seq).__name__}")
    actor_member_id = e.actor_member_id
    actor_user_id = e.actor_user_id
    item_id = e.item_id
    reason = e.reason
    subject_member_id = e.subject_member_id
    details = e.details
    prev_hash = e.prev_hash
    body = (
        f'{{"action":{_enc_str(e.action)}'
        f',"actor_member_id":{"null" if actor_member_id is None else _enc_str(actor_member_id)}'
        f',"actor_user_id":{"null" if actor_user_id is None else _enc_str(actor_user_id)}'
        f',"at":{_enc_str(e.at)}'
        f',"details":{"{}" if type(details) is dict and not details else _encode_details(details)}'
        f',"id":{_enc_str(e.id)}'
        f',"item_id":{"null" if item_id is None else _enc_str(item_id)}'
        f',"outcome":{_enc_str(e.outcome)}'
        f',"prev_hash":{_enc_str(prev_hash)}'
        f',"reason":{"null" if reason is None else _enc_str(reason)}'
        f',"seq":{seq}'
        f',"subject_member_id":'
        f"{'null' if subject_member_id is None else _enc_str(subject_member_id)}}}"
    )
    return _sha256(_fromhex(prev_hash) + body.encode("utf-8")).hexdigest()


def _copy_json(value: object, path: str) -> JSONValue:
    """Return a deep copy of ``value`` if it is JSON-able, else raise ValueError.

    Copying is what makes a stored event immutable in practice: a caller that
    later mutates the dict it passed cannot change an event whose hash is
    already computed. Tuples become lists and enum members plain values, as they
    would after a JSON round trip, so an event equals its decoded export.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path} is {value!r}, which JSON cannot carry")
        return float.__float__(value)
    if isinstance(value, dict):
        out: dict[str, JSONValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path} has a non-string key {key!r}")
            out[key] = _copy_json(item, f"{path}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [_copy_json(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise ValueError(f"{path} holds a {type(value).__name__}, which is not JSON")


def _check_outcome(value: object) -> Outcome:
    """Return ``value`` if it is a valid :data:`Outcome`, else raise ValueError."""
    if value == "allowed" or value == "denied" or value == "error":
        # Spelled out rather than `in OUTCOMES` so that mypy narrows the type.
        return value
    raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}, got {value!r}")


def _check_optional_str(value: object, name: str) -> str | None:
    """Return ``value`` if it is a str or None, else raise ValueError."""
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a string or null, got {type(value).__name__}")
    return value


def _copy_details(details: object) -> dict[str, JSONValue]:
    """Return a JSON-able deep copy of ``details`` (None meaning empty)."""
    if details is None:
        return {}
    if not isinstance(details, Mapping):
        raise ValueError(f"details must be a JSON object, got {type(details).__name__}")
    try:
        copied = _copy_json(dict(details), "details")
    except RecursionError:
        raise ValueError("details are nested too deeply, or contain themselves") from None
    assert isinstance(copied, dict)  # a dict goes in, so a dict comes out
    return copied


class AuditChain:
    """The head of the audit chain: turns actions into linked :class:`AuditEvent` s.

    It holds only the last hash and the size, so the store can rebuild it from
    its last stored event (``AuditChain(head=last.hash, size=last.seq)``) inside
    the transaction that appends, under whatever lock serialises appends; if the
    transaction fails, the caller drops this object rather than undoing it.
    Not thread-safe, on purpose: two writers appending to one head would fork
    the chain, and the lock that prevents that belongs to the store.
    """

    __slots__ = ("_head", "_size")

    def __init__(self, head: str = GENESIS, size: int = 0) -> None:
        """Start at ``head`` after ``size`` events (the empty chain by default).

        Raises ValueError if ``head`` is not a hex SHA-256, ``size`` is negative,
        or one of them says the chain is empty and the other does not.
        """
        _check_hash(head, "head")
        if type(size) is not int or size < 0:
            raise ValueError(f"size must be a non-negative int, got {size!r}")
        if (size == 0) != (head == GENESIS):
            raise ValueError("an empty chain has the genesis head, and only an empty chain")
        self._head = head
        self._size = size

    @property
    def head(self) -> str:
        """The hash of the last event appended (:data:`GENESIS` when empty)."""
        return self._head

    @property
    def size(self) -> int:
        """How many events the chain holds: the seq of the last one."""
        return self._size

    def append(
        self,
        *,
        id: str,  # the event field is called id in the API and the export
        at: str,
        action: str,
        outcome: Outcome,
        actor_user_id: str | None = None,
        actor_member_id: str | None = None,
        item_id: str | None = None,
        subject_member_id: str | None = None,
        reason: str | None = None,
        details: Mapping[str, JSONValue] | None = None,
    ) -> AuditEvent:
        """Build the next event, link it to the head, advance the head and return it.

        Raises ValueError on input the export could not carry faithfully: an
        empty ``id`` or ``action``, an ``at`` that is not RFC 3339 UTC, an unknown
        ``outcome``, a non-string id field, or ``details`` that are not JSON.
        On error the chain is unchanged.
        """
        for name, text in (("id", id), ("action", action)):
            if not isinstance(text, str) or not text:
                raise ValueError(f"{name} must be a non-empty string, got {text!r}")
        _check_time(at, "at")
        _check_outcome(outcome)
        _check_optional_str(actor_user_id, "actor_user_id")
        _check_optional_str(actor_member_id, "actor_member_id")
        _check_optional_str(item_id, "item_id")
        _check_optional_str(subject_member_id, "subject_member_id")
        _check_optional_str(reason, "reason")
        copied = _copy_details(details)
        seq = self._size + 1
        event = AuditEvent(
            seq=seq,
            id=id,
            at=at,
            actor_user_id=actor_user_id,
            actor_member_id=actor_member_id,
            action=action,
            item_id=item_id,
            subject_member_id=subject_member_id,
            outcome=outcome,
            reason=reason,
            details=copied,
            prev_hash=self._head,
            hash="",
        )
        digest = _event_fields_digest(event)
        # Sealing the event here, before anyone else holds it, lets append and
        # the verifier share one encoder: two copies of it could drift apart.
        object.__setattr__(event, "hash", digest)
        # Advance only once everything above has succeeded, so a bad call
        # leaves the chain where it was.
        self._head = digest
        self._size = seq
        return event


class Signer(Protocol):
    """Something that signs checkpoint messages with an Ed25519 key it names."""

    @property
    def key_id(self) -> str:
        """The id a verifier uses to find the matching public key."""
        ...

    def sign(self, data: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``data``."""
        ...


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement that the chain had ``size`` events ending in ``head`` at ``at``.

    ``signature`` is the lowercase hex Ed25519 signature, by key ``key_id``, of
    :func:`checkpoint_message` ``(size, head, at)``.
    """

    size: int
    """How many events the checkpoint covers (the seq of the last one)."""
    head: str
    """The hash of event ``size`` (:data:`GENESIS` when ``size`` is 0)."""
    at: str
    """When it was made, RFC 3339 UTC."""
    key_id: str
    """Which broker signing key signed it."""
    signature: str
    """Hex Ed25519 signature of :func:`checkpoint_message` ``(size, head, at)``."""


def checkpoint_message(size: int, head: str, at: str) -> bytes:
    """Return the exact bytes a checkpoint signature covers.

    :data:`CHECKPOINT_DOMAIN` followed by the canonical JSON of
    ``{"at", "head", "size"}``; JSON rather than joined strings so that no
    choice of ``at`` can make two different checkpoints sign the same bytes.
    Raises ValueError on a negative size, a head that is not a hex SHA-256, or
    an ``at`` that is not RFC 3339 UTC.
    """
    if type(size) is not int or size < 0:
        raise ValueError(f"size must be a non-negative int, got {size!r}")
    _check_hash(head, "head")
    _check_time(at, "at")
    return CHECKPOINT_DOMAIN + _canonical_json({"at": at, "head": head, "size": size})


def make_checkpoint(chain_size: int, head: str, at: str, signer: Signer) -> Checkpoint:
    """Sign the chain's current ``chain_size`` and ``head`` as of ``at`` with ``signer``.

    Raises ValueError on the input :func:`checkpoint_message` refuses.
    """
    message = checkpoint_message(chain_size, head, at)
    return Checkpoint(
        size=chain_size,
        head=head,
        at=at,
        key_id=signer.key_id,
        signature=signer.sign(message).hex(),
    )
