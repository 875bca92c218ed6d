"""Builders for the audit tests: Ed25519 signers, a verifier, chains and tampering.

Keys come from ``cryptography`` directly, not from ``broker.crypto``, so the
audit core is tested on its own. The tamper helpers do exactly what an attacker
with write access to the store could do: change fields (with or without
recomputing hashes), drop, add and move events.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broker.audit import (
    GENESIS,
    AuditChain,
    AuditEvent,
    Checkpoint,
    event_digest,
    make_checkpoint,
)

ACTIONS = (
    "item.read",
    "item.list",
    "item.decrypt",
    "item.submit",
    "item.scope_change",
    "member.update",
    "audit.export",
)


class KeySigner:
    """A :class:`broker.audit.Signer` over an in-memory Ed25519 key."""

    def __init__(self, key_id: str = "audit-key-1") -> None:
        self.key_id = key_id
        self.private_key = Ed25519PrivateKey.generate()

    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` with the private key."""
        return self.private_key.sign(data)


def verifier_for(*signers: KeySigner) -> Callable[[str, bytes, bytes], bool]:
    """Return a ``verify(key_id, data, signature)`` that knows ``signers``' public keys."""
    public = {s.key_id: s.private_key.public_key() for s in signers}

    def verify(key_id: str, data: bytes, signature: bytes) -> bool:
        key = public.get(key_id)
        if key is None:
            return False
        try:
            key.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    return verify


def time_at(i: int) -> str:
    """An RFC 3339 UTC time i seconds (under 30 days) after 2025-01-01T00:00:00Z."""
    return f"2025-01-{1 + i // 86400:02d}T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z"


def append_event(chain: AuditChain, i: int) -> AuditEvent:
    """Append the i-th event of a plain, varied test chain."""
    return chain.append(
        id=f"ev-{i:06d}",
        at=time_at(i),
        action=ACTIONS[i % len(ACTIONS)],
        outcome="denied" if i % 11 == 0 else "allowed",
        actor_user_id=f"user-{i % 5}",
        actor_member_id=f"member-{i % 3}",
        item_id=f"item-{i % 17}" if i % 4 else None,
        reason="outside the item's share scope" if i % 11 == 0 else None,
        details={"n": i, "scope": "tlp:amber"} if i % 2 else None,
    )


def build_events(n: int) -> list[AuditEvent]:
    """A clean chain of n events."""
    chain = AuditChain()
    return [append_event(chain, i) for i in range(1, n + 1)]


def stream_events(n: int) -> Iterator[AuditEvent]:
    """The same clean chain as :func:`build_events`, made one event at a time."""
    chain = AuditChain()
    for i in range(1, n + 1):
        yield append_event(chain, i)


def checkpoints_for(
    events: Sequence[AuditEvent], sizes: Sequence[int], signer: KeySigner
) -> list[Checkpoint]:
    """Signed checkpoints of ``events`` at each of ``sizes``."""
    out = []
    for size in sizes:
        head = events[size - 1].hash if size else GENESIS
        out.append(make_checkpoint(size, head, time_at(100_000 + size), signer))
    return out


def rehash(e: AuditEvent) -> AuditEvent:
    """``e`` with its hash recomputed from its (possibly edited) fields."""
    fields = {f.name: getattr(e, f.name) for f in dataclasses.fields(e)}
    return dataclasses.replace(e, hash=event_digest(e.prev_hash, fields))


def edit(e: AuditEvent, **changes: Any) -> AuditEvent:
    """``e`` with fields changed and its hash left as it was."""
    return dataclasses.replace(e, **changes)


def relink_from(events: Sequence[AuditEvent], start: int) -> list[AuditEvent]:
    """Recompute prev_hash and hash of every event from index ``start`` on.

    What an attacker who edited an event does to hide it from the hash chain.
    """
    out = list(events[:start])
    head = out[-1].hash if out else GENESIS
    for e in events[start:]:
        fixed = rehash(dataclasses.replace(e, prev_hash=head))
        out.append(fixed)
        head = fixed.hash
    return out


def forged_event(
    seq: int, prev_hash: str, event_id: str = "forged-1", *, action: str = "item.read"
) -> AuditEvent:
    """A self-consistent event the broker never wrote."""
    draft = AuditEvent(
        seq=seq,
        id=event_id,
        at=time_at(50_000),
        actor_user_id="user-mallory",
        actor_member_id="member-0",
        action=action,
        item_id="item-1",
        subject_member_id=None,
        outcome="allowed",
        reason=None,
        details={},
        prev_hash=prev_hash,
        hash="",
    )
    return rehash(draft)
