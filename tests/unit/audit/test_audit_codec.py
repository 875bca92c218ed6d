"""The JSON Lines export: round trips, and clear refusals of malformed records."""

from __future__ import annotations

import json
from typing import Any

import pytest
from audit_builders import KeySigner, build_events, checkpoints_for, verifier_for

from broker.audit import (
    AuditEvent,
    Checkpoint,
    checkpoint_from_json,
    checkpoint_to_json,
    event_from_json,
    event_to_json,
    from_json_line,
    to_json_line,
    verify_events,
)

SIGNER = KeySigner("audit-2025")
EVENTS = build_events(6)
CHECKPOINT = checkpoints_for(EVENTS, [6], SIGNER)[0]


def test_event_round_trips_through_json() -> None:
    """event_from_json(event_to_json(e)) is e, and the object says type "event"."""
    for event in EVENTS:
        obj = event_to_json(event)
        assert obj["type"] == "event"
        assert event_from_json(obj) == event


def test_event_to_json_lists_exactly_the_event_fields() -> None:
    """An exported event carries type plus every AuditEvent field, nothing else."""
    assert set(event_to_json(EVENTS[0])) == {
        "type",
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
    }


def test_event_to_json_copies_details() -> None:
    """Mutating the exported details leaves the event untouched."""
    event = EVENTS[0]
    obj = event_to_json(event)
    details = obj["details"]
    assert isinstance(details, dict)
    details["n"] = -1

    assert event.details == {"n": 1, "scope": "tlp:amber"}


def test_checkpoint_round_trips_through_json() -> None:
    """checkpoint_from_json(checkpoint_to_json(c)) is c, and the object says type "checkpoint"."""
    obj = checkpoint_to_json(CHECKPOINT)

    assert obj["type"] == "checkpoint"
    assert checkpoint_from_json(obj) == CHECKPOINT


def test_type_may_be_omitted_as_in_the_latest_checkpoint_endpoint() -> None:
    """Objects without "type" decode, as GET /v1/audit/checkpoints/latest returns them."""
    cp = {k: v for k, v in checkpoint_to_json(CHECKPOINT).items() if k != "type"}
    ev = {k: v for k, v in event_to_json(EVENTS[0]).items() if k != "type"}

    assert checkpoint_from_json(cp) == CHECKPOINT
    assert event_from_json(ev) == EVENTS[0]


def test_export_lines_round_trip_and_verify() -> None:
    """An export of checkpoints then events, one JSON object per line, parses back and verifies."""
    lines = [to_json_line(CHECKPOINT)] + [to_json_line(e) for e in EVENTS]
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in lines)

    records = [from_json_line(line) for line in lines]
    checkpoints = [r for r in records if isinstance(r, Checkpoint)]
    events = (r for r in records if isinstance(r, AuditEvent))

    assert records == [CHECKPOINT, *EVENTS]
    assert verify_events(events, checkpoints, verifier_for(SIGNER)).ok


def test_export_lines_keep_non_ascii_text_readable() -> None:
    """Non-ASCII reasons are written as UTF-8, not \\u escapes, and survive the round trip."""
    from broker.audit import AuditChain

    event = AuditChain().append(
        id="e", at="2025-01-31T09:00:00Z", action="item.read", outcome="denied", reason="範囲外"
    )
    line = to_json_line(event)

    assert "範囲外" in line
    assert from_json_line(line.encode("utf-8")) == event


def _event_obj(**changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = dict(event_to_json(EVENTS[2]))
    obj.update(changes)
    return obj


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (_event_obj(type="checkpoint"), "expected an object of type 'event'"),
        (_event_obj(extra=1), "unknown extra"),
        ({k: v for k, v in _event_obj().items() if k != "hash"}, "missing hash"),
        (_event_obj(seq="3"), r"audit event '3' \(id ev-000003\): seq must be a non-negative"),
        (_event_obj(seq=True), "seq must be a non-negative integer"),
        (_event_obj(seq=0), "seq must be at least 1"),
        (_event_obj(seq=3.0), "seq must be a non-negative integer"),
        (_event_obj(id=""), "id must be a non-empty string"),
        (_event_obj(at="31/01/2025"), "at must be an RFC 3339 UTC time"),
        (_event_obj(outcome="ok"), "outcome must be one of"),
        (_event_obj(actor_user_id=5), "actor_user_id must be a string or null"),
        (_event_obj(details=[]), "details must be a JSON object"),
        (_event_obj(details={"x": float("nan")}), "details.x is nan"),
        (_event_obj(prev_hash="ABC"), "prev_hash must be 64 lowercase hex digits"),
        (_event_obj(hash="0" * 63 + "G"), "hash must be 64 lowercase hex digits"),
        ([1, 2], "an audit event must be a JSON object"),
    ],
)
def test_malformed_event_is_refused_with_a_clear_message(obj: Any, message: str) -> None:
    """A malformed event object raises ValueError naming the event and the field."""
    with pytest.raises(ValueError, match=message):
        event_from_json(obj)


def _checkpoint_obj(**changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = dict(checkpoint_to_json(CHECKPOINT))
    obj.update(changes)
    return obj


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (_checkpoint_obj(type="event"), "expected an object of type 'checkpoint'"),
        (_checkpoint_obj(size=-1), "size must be a non-negative integer"),
        (_checkpoint_obj(head="x"), "head must be 64 lowercase hex digits"),
        (_checkpoint_obj(at=""), "at must be an RFC 3339 UTC time"),
        (_checkpoint_obj(key_id=""), "key_id must be a non-empty string"),
        (_checkpoint_obj(signature="xyz"), "signature must be hex"),
        ({"size": 1}, "missing head, at, key_id, signature"),
    ],
)
def test_malformed_checkpoint_is_refused_with_a_clear_message(obj: Any, message: str) -> None:
    """A malformed checkpoint object raises ValueError naming the field."""
    with pytest.raises(ValueError, match=message):
        checkpoint_from_json(obj)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "not a valid JSON object"),
        ("{not json", "not a valid JSON object"),
        ("[1]", "must be a JSON object, got list"),
        ('{"type": "note"}', "needs type 'event' or 'checkpoint', got 'note'"),
        ("{}", "needs type 'event' or 'checkpoint', got None"),
        ('{"type": "event", "type": "checkpoint"}', "key 'type' appears twice"),
        (b"\xff\xfe", "not a valid JSON object"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply|not a valid JSON object"),
    ],
)
def test_malformed_line_is_refused_with_a_clear_message(line: str | bytes, message: str) -> None:
    """A line that is not an audit record raises ValueError, never another exception."""
    with pytest.raises(ValueError, match=message):
        from_json_line(line)


def test_duplicate_key_inside_an_event_is_refused() -> None:
    """A line repeating a field (one value for a reader, another for json.loads) is refused."""
    line = to_json_line(EVENTS[0]).rstrip("\n")
    doubled = line[:-1] + ',"outcome":"denied"}'
    json.loads(doubled)  # plain json would quietly take the last value

    with pytest.raises(ValueError, match="key 'outcome' appears twice"):
        from_json_line(doubled)
