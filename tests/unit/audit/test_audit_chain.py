"""The audit chain: event hashing, appending, and signed checkpoints."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from enum import StrEnum
from typing import Any

import pytest
from audit_builders import KeySigner, build_events, verifier_for
from hypothesis import given
from hypothesis import strategies as st

from broker.audit import (
    CHECKPOINT_DOMAIN,
    GENESIS,
    AuditChain,
    AuditEvent,
    checkpoint_message,
    event_digest,
    make_checkpoint,
)
from broker.audit.chain import _event_fields_digest

AT = "2025-01-31T09:00:00Z"


def _deep_list(depth: int) -> list[Any]:
    """A list nested depth times, deeper than Python's recursion limit allows to copy."""
    out: list[Any] = []
    for _ in range(depth):
        out = [out]
    return out


def _fields(e: AuditEvent) -> dict[str, Any]:
    return {f.name: getattr(e, f.name) for f in dataclasses.fields(e)}


def test_first_event_hash_is_sha256_of_genesis_bytes_and_canonical_json() -> None:
    """The first event's hash is SHA-256 over 32 zero bytes then its sorted, compact, UTF-8 JSON."""
    event = AuditChain().append(
        id="ev-1",
        at=AT,
        action="item.read",
        outcome="denied",
        actor_user_id="user-1",
        actor_member_id="member-1",
        item_id="item-1",
        reason="hors périmètre",
        details={"z": [1, 2.5, None], "a": {"ok": True}},
    )
    expected_json = (
        '{"action":"item.read","actor_member_id":"member-1","actor_user_id":"user-1",'
        '"at":"2025-01-31T09:00:00Z","details":{"a":{"ok":true},"z":[1,2.5,null]},'
        '"id":"ev-1","item_id":"item-1","outcome":"denied",'
        f'"prev_hash":"{GENESIS}","reason":"hors périmètre","seq":1,'
        '"subject_member_id":null}'
    )

    assert event.seq == 1
    assert event.prev_hash == GENESIS
    assert event.hash == hashlib.sha256(bytes(32) + expected_json.encode("utf-8")).hexdigest()


def test_chain_is_deterministic() -> None:
    """Two chains fed the same actions produce identical events and heads."""
    first, second = build_events(50), build_events(50)

    assert first == second
    assert first[-1].hash == build_events(50)[-1].hash


def test_each_event_links_to_the_previous_hash() -> None:
    """Seqs are 1, 2, 3... and each prev_hash is the previous event's hash."""
    events = build_events(20)

    assert [e.seq for e in events] == list(range(1, 21))
    assert [e.prev_hash for e in events] == [GENESIS] + [e.hash for e in events[:-1]]
    assert all(event_digest(e.prev_hash, _fields(e)) == e.hash for e in events)


def test_chain_resumes_from_stored_head_and_size() -> None:
    """A chain rebuilt from the last stored event appends exactly what the original would."""
    events = build_events(10)
    original = AuditChain()
    for e in events:
        original.append(id=e.id, at=e.at, action=e.action, outcome=e.outcome)
    resumed = AuditChain(head=original.head, size=original.size)

    assert resumed.append(id="x", at=AT, action="item.read", outcome="allowed") == original.append(
        id="x", at=AT, action="item.read", outcome="allowed"
    )
    assert resumed.head == original.head
    assert resumed.size == 11


def test_any_field_change_changes_the_hash() -> None:
    """Changing any one field of an event changes its digest."""
    event = build_events(3)[2]
    fields = _fields(event)
    base = event_digest(event.prev_hash, fields)
    changes: dict[str, Any] = {
        "seq": 4,
        "id": "ev-other",
        "at": "2025-01-31T09:00:04Z",
        "actor_user_id": None,
        "actor_member_id": "member-9",
        "action": "item.decrypt",
        "item_id": "item-9",
        "subject_member_id": "member-2",
        "outcome": "error",
        "reason": "x",
        "details": {"n": 4},
    }
    for name, value in changes.items():
        assert event_digest(event.prev_hash, {**fields, name: value}) != base, name
    assert event_digest("1" * 64, fields) != base


def test_null_and_the_string_null_hash_differently() -> None:
    """An absent reason (null) and the string "null" give different hashes."""
    chain_a, chain_b = AuditChain(), AuditChain()
    a = chain_a.append(id="e", at=AT, action="item.read", outcome="allowed", reason=None)
    b = chain_b.append(id="e", at=AT, action="item.read", outcome="allowed", reason="null")

    assert a.hash != b.hash


finite_floats = st.floats(allow_nan=False, allow_infinity=False)
json_leaf = st.none() | st.booleans() | st.integers() | finite_floats | st.text()
json_values = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
optional_text = st.none() | st.text()


@given(
    seq=st.integers(min_value=1, max_value=2**63),
    id=st.text(),
    at=st.text(),
    actor_user_id=optional_text,
    actor_member_id=optional_text,
    action=st.text(),
    item_id=optional_text,
    subject_member_id=optional_text,
    outcome=st.sampled_from(["allowed", "denied", "error"]),
    reason=optional_text,
    details=st.dictionaries(st.text(), json_values, max_size=4),
    prev_hash=st.binary(min_size=32, max_size=32).map(bytes.hex),
)
def test_fast_encoding_matches_the_normative_digest(**fields: Any) -> None:
    """The hand-built encoding hashes exactly as the json.dumps reference does, for any values."""
    event = AuditEvent(**fields, hash="")
    reference = json.dumps(
        {**fields},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8", "surrogatepass")
    try:
        expected = hashlib.sha256(bytes.fromhex(fields["prev_hash"]) + reference).hexdigest()
        expected_ok = True
        reference.decode("utf-8")  # lone surrogates cannot be UTF-8: both sides must refuse
    except UnicodeDecodeError:
        expected_ok = False

    if expected_ok:
        assert _event_fields_digest(event) == expected
        assert event_digest(fields["prev_hash"], fields) == expected
    else:
        with pytest.raises(ValueError):
            _event_fields_digest(event)
        with pytest.raises(ValueError):
            event_digest(fields["prev_hash"], fields)


def test_details_are_copied_so_later_mutation_cannot_alter_an_event() -> None:
    """Changing the dict passed as details after append leaves the event and its hash intact."""
    details: dict[str, Any] = {"scopes": ["tlp:amber"], "inner": {"n": 1}}
    event = AuditChain().append(
        id="e", at=AT, action="item.read", outcome="allowed", details=details
    )
    details["scopes"].append("tlp:clear")
    details["inner"]["n"] = 2

    assert event.details == {"scopes": ["tlp:amber"], "inner": {"n": 1}}
    assert event_digest(event.prev_hash, _fields(event)) == event.hash


def test_details_containing_themselves_are_refused() -> None:
    """A details dict that contains itself is a ValueError, not a crash."""
    details: dict[str, Any] = {}
    details["self"] = details

    with pytest.raises(ValueError, match="contain themselves"):
        AuditChain().append(id="e", at=AT, action="item.read", outcome="allowed", details=details)


def test_details_tuples_and_enums_become_plain_json_values() -> None:
    """Tuples become lists and enum members plain strings, as after a JSON round trip."""

    class Colour(StrEnum):
        AMBER = "amber"

    details: Any = {"pair": (1, 2), "tlp": Colour.AMBER}  # not JSONValue: the point
    event = AuditChain().append(
        id="e", at=AT, action="item.read", outcome="allowed", details=details
    )

    assert event.details == {"pair": [1, 2], "tlp": "amber"}
    assert type(event.details["tlp"]) is str


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": ""}, "id must be a non-empty string"),
        ({"action": ""}, "action must be a non-empty string"),
        ({"at": "2025-01-31 09:00:00"}, "at must be an RFC 3339 UTC time"),
        ({"at": "2025-01-31T09:00:00"}, "at must be an RFC 3339 UTC time"),
        ({"at": "2025-01-31T09:00:00+09:00"}, "at must be an RFC 3339 UTC time"),
        ({"at": "2025-01-31T36:00:00Z"}, "at must be an RFC 3339 UTC time"),
        ({"at": "2025-13-01T09:00:00Z"}, "at must be an RFC 3339 UTC time"),
        ({"outcome": "maybe"}, "outcome must be one of"),
        ({"actor_user_id": 7}, "actor_user_id must be a string or null"),
        ({"reason": b"bytes"}, "reason must be a string or null"),
        ({"details": {"x": float("nan")}}, "details.x is nan"),
        ({"details": {1: "x"}}, "details has a non-string key 1"),
        ({"details": {"when": object()}}, "details.when holds a object"),
        ({"details": ["not", "an", "object"]}, "details must be a JSON object"),
        ({"details": {"deep": _deep_list(5000)}}, "nested too deeply"),
    ],
)
def test_append_refuses_what_the_export_could_not_carry(
    changes: dict[str, Any], message: str
) -> None:
    """Append raises ValueError naming the bad field, and the chain does not move."""
    chain = AuditChain()
    chain.append(id="ok", at=AT, action="item.read", outcome="allowed")
    head, size = chain.head, chain.size
    call: dict[str, Any] = {"id": "e", "at": AT, "action": "item.read", "outcome": "allowed"}

    with pytest.raises(ValueError, match=message):
        chain.append(**{**call, **changes})
    assert (chain.head, chain.size) == (head, size)


def test_append_accepts_fractional_seconds_and_plus_zero_offset() -> None:
    """Times with fractions of a second and a +00:00 offset are RFC 3339 UTC and accepted."""
    chain = AuditChain()
    chain.append(id="a", at="2025-01-31T09:00:00.123456Z", action="item.read", outcome="allowed")
    chain.append(id="b", at="2025-01-31T09:00:00+00:00", action="item.read", outcome="allowed")

    assert chain.size == 2


@pytest.mark.parametrize(
    ("head", "size"),
    [(GENESIS, 1), ("a" * 64, 0), ("A" * 64, 3), ("abc", 3), ("a" * 64, -1)],
)
def test_chain_refuses_an_impossible_starting_state(head: str, size: int) -> None:
    """A chain cannot start from a malformed head, a negative size, or genesis with events."""
    with pytest.raises(ValueError):
        AuditChain(head=head, size=size)


def test_checkpoint_message_is_domain_separated_canonical_json() -> None:
    """The signed bytes are the domain prefix then the canonical JSON of at, head and size."""
    message = checkpoint_message(3, "ab" * 32, AT)

    assert message.startswith(CHECKPOINT_DOMAIN)
    assert message == (
        b"council-audit-checkpoint-v1\n" + f'{{"at":"{AT}","head":"{"ab" * 32}","size":3}}'.encode()
    )
    assert checkpoint_message(3, "ab" * 32, AT) != checkpoint_message(4, "ab" * 32, AT)


def test_make_checkpoint_signs_the_message_with_the_signer() -> None:
    """A checkpoint carries the signer's key id and a hex signature that verifies."""
    signer = KeySigner("k1")
    events = build_events(5)
    checkpoint = make_checkpoint(5, events[-1].hash, AT, signer)
    verify = verifier_for(signer)

    assert (checkpoint.size, checkpoint.head, checkpoint.at) == (5, events[-1].hash, AT)
    assert checkpoint.key_id == "k1"
    signature = bytes.fromhex(checkpoint.signature)
    assert verify("k1", checkpoint_message(5, events[-1].hash, AT), signature)
    assert not verify("k1", checkpoint_message(6, events[-1].hash, AT), signature)


@pytest.mark.parametrize(
    ("size", "head", "at"),
    [(-1, GENESIS, AT), (1, "xyz", AT), (1, "a" * 64, "yesterday"), (True, "a" * 64, AT)],
)
def test_make_checkpoint_refuses_malformed_input(size: int, head: str, at: str) -> None:
    """A negative or non-int size, a malformed head or a non-RFC-3339 time is a ValueError."""
    with pytest.raises(ValueError):
        make_checkpoint(size, head, at, KeySigner())
