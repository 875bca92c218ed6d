"""The SDK's audit verifier against chains the broker's own audit code builds: it accepts
every honest export, and names the first modified, deleted, reordered or truncated event
and any checkpoint signed by a key it was not given."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.audit.chain import AuditChain, make_checkpoint
from broker.audit.codec import checkpoint_to_json, event_to_json
from clients.sdk import public_keys, verify_audit_export


@dataclass
class _Signer:
    key: Ed25519PrivateKey
    key_id: str = "audit-1"

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data)


SIGNER = _Signer(Ed25519PrivateKey.generate())
KEYS = public_keys(
    {
        "type": "keys",
        "algorithm": "Ed25519",
        "keys": [
            {
                "key_id": "audit-1",
                "public_key": base64.b64encode(SIGNER.key.public_key().public_bytes_raw()).decode(),
            }
        ],
    }
)

# Quotes, escapes, controls and non-ASCII: what canonical JSON must encode byte for byte.
_TEXT = st.text(alphabet='ab"\\\n\x00é€😀', max_size=8)
# A check of one implementation against the other, beside the real broker's export in
# tests/e2e/test_council_cli_setup.py: a few hundred examples, whatever the profile.
_FEW = settings(max_examples=300, deadline=None)
_EVENTS = st.lists(
    st.fixed_dictionaries(
        {
            "action": st.sampled_from(["item.read", "item.submit", "member.update"]),
            "outcome": st.sampled_from(["allowed", "denied", "error"]),
            "reason": st.none() | _TEXT,
            "details": st.dictionaries(_TEXT, st.integers() | _TEXT | st.booleans(), max_size=3),
        }
    ),
    min_size=2,
    max_size=6,
)


def _export(events: list[dict[str, Any]], checkpoint_at: int) -> list[dict[str, Any]]:
    """The export the broker would write: checkpoints first, then the events."""
    chain = AuditChain()
    records = [
        event_to_json(chain.append(id=f"ev-{n}", at=f"2026-11-20T17:00:{n:02d}.000000Z", **fields))
        for n, fields in enumerate(events)
    ]
    heads = [r["hash"] for r in records]
    size = min(checkpoint_at, len(records))
    checkpoint = make_checkpoint(size, heads[size - 1], "2026-11-20T18:00:00Z", SIGNER)
    # A JSON round trip, as the export travels.
    return [json.loads(json.dumps(r)) for r in [checkpoint_to_json(checkpoint), *records]]


@_FEW
@given(_EVENTS, st.integers(min_value=1, max_value=6))
def test_an_honest_export_verifies(events: list[dict[str, Any]], at: int) -> None:
    """Whatever the events hold, the broker's export passes, covered up to its checkpoint."""
    records = _export(events, at)
    result = verify_audit_export(records, KEYS)
    assert result.ok, result.problem
    assert result.events == len(events) and result.covered == min(at, len(events))


@_FEW
@given(_EVENTS, st.data())
def test_a_modified_event_is_named(events: list[dict[str, Any]], data: st.DataObject) -> None:
    """Changing any one field of any one event is caught at that event."""
    records = _export(events, len(events))
    index = data.draw(st.integers(min_value=1, max_value=len(events)))
    field = data.draw(st.sampled_from(["action", "outcome", "reason", "at", "details"]))
    before = records[index][field]
    records[index][field] = {"x": 1} if field == "details" and before != {"x": 1} else "changed"
    if records[index][field] == before:
        return
    result = verify_audit_export(records, KEYS)
    assert not result.ok and result.problem_seq == index
    assert (
        result.problem == f"event {index} (ev-{index - 1}) was modified: its hash does not match it"
    )


def test_deleted_reordered_and_truncated_events_are_named() -> None:
    """A gap, a swap and a cut-off end each fail with their own sentence."""
    events = [{"action": "item.read", "outcome": "allowed"} for _ in range(5)]
    records = _export(events, 5)
    gap = verify_audit_export([r for r in records if r.get("seq") != 3], KEYS)
    assert gap.problem == "event 3 is missing (the next line is event 4)"
    swapped = [*records[:2], records[3], records[2], *records[4:]]
    assert verify_audit_export(swapped, KEYS).problem == (
        "event 2 is missing (the next line is event 3)"
    )
    cut = verify_audit_export(records[:-2], KEYS)
    assert cut.problem == (
        "a checkpoint vouches for 5 events but the export has 3: events were removed from its end"
    )


def test_a_checkpoint_needs_a_key_it_was_given() -> None:
    """A checkpoint signed by another key, or altered, is refused."""
    records = _export([{"action": "item.read", "outcome": "allowed"}] * 3, 3)
    other = _Signer(Ed25519PrivateKey.generate())
    forged = checkpoint_to_json(
        make_checkpoint(3, records[-1]["hash"], "2026-11-20T18:00:00Z", other)
    )
    result = verify_audit_export([forged, *records[1:]], KEYS)
    assert result.problem == "the checkpoint of 3 events is not signed by a known key"
    records[0]["size"] = 2
    assert not verify_audit_export(records, KEYS).ok
