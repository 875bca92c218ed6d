"""The verifier's inner loop hashes exactly the bytes of the reference encoding, memo or not.

:class:`broker.audit.walker.ChainWalker` rebuilds each event's canonical JSON by
hand and memoises the JSON of ``details`` (keyed by marshal output) and of the
few-valued string fields (keyed by their values). These properties hold its
fast path, ``_verify_run``, to the normative definition, ``json.dumps(...,
sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` over the event's
fields: an event passes exactly when its hash is the SHA-256 of those bytes,
including when the memo already holds a value that Python calls equal but JSON
writes differently. (What the fast path refuses, the walker checks again one
event at a time with the chain's own digest: test_audit_verify covers that.)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from enum import IntEnum
from typing import Any

import pytest
from audit_builders import KeySigner, build_events, checkpoints_for, edit, verifier_for
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.audit import GENESIS, AuditChain, AuditEvent, verify_events
from broker.audit.walker import (
    _MEMO_ENTRIES,
    _MEMO_FILL_TOO_FAST,
    _MEMO_KEY_BYTES,
    _MEMO_PAUSE,
    ChainWalker,
)

AT = "2025-01-31T09:00:00Z"
SIGNER = KeySigner("audit-walker")
VERIFY = verifier_for(SIGNER)

finite_floats = st.floats(allow_nan=False, allow_infinity=False)
json_leaf = st.none() | st.booleans() | st.integers() | finite_floats | st.text()
json_values = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
json_objects = st.dictionaries(st.text(), json_values, max_size=4)
optional_text = st.none() | st.text()


class Text(str):
    """A str subclass: json writes it by its text, marshal refuses it."""


class Number(IntEnum):
    """An int subclass: json writes it as the int, marshal refuses it."""

    ONE = 1


def canonical(value: object) -> bytes:
    """The normative canonical JSON of ``value``, as UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def reference_hash(fields: dict[str, Any]) -> str | None:
    """The hash an event with ``fields`` must carry, or None if JSON cannot encode them."""
    body = {name: value for name, value in fields.items() if name != "hash"}
    try:
        return hashlib.sha256(bytes.fromhex(body["prev_hash"]) + canonical(body)).hexdigest()
    except (UnicodeEncodeError, ValueError, TypeError):
        return None  # a lone surrogate cannot be UTF-8


def walker_after(*events: AuditEvent) -> ChainWalker:
    """A walker that has verified ``events`` (which must be a clean chain from genesis)."""
    walker = ChainWalker(events)
    assert walker.advance(-1) is None
    assert walker.n == len(events)
    return walker


def event(fields: dict[str, Any], hash_of: dict[str, Any] | None = None) -> AuditEvent:
    """An event with ``fields``, carrying the reference hash of ``hash_of`` (default: itself)."""
    digest = reference_hash(hash_of if hash_of is not None else fields)
    return AuditEvent(**fields, hash=digest or "0" * 64)


def draft_fields(
    group: dict[str, Any], details: object, seq: int, prev_hash: str
) -> dict[str, Any]:
    """The fields of event ``seq`` after ``prev_hash``, with ``group``'s few-valued fields."""
    return {
        **group,
        "seq": seq,
        "id": f"ev-{seq}",
        "at": AT,
        "item_id": f"item-{seq}" if seq % 3 else None,
        "details": details,
        "prev_hash": prev_hash,
    }


groups = st.fixed_dictionaries(
    {
        "action": st.text(),
        "actor_member_id": optional_text,
        "actor_user_id": optional_text,
        "outcome": st.sampled_from(["allowed", "denied", "error"]),
        "reason": optional_text,
        "subject_member_id": optional_text,
    }
)


@settings(max_examples=200)
@given(
    group_pool=st.lists(groups, min_size=1, max_size=3),
    details_pool=st.lists(json_objects, min_size=1, max_size=3),
    picks=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=12),
)
def test_walker_accepts_exactly_the_reference_hash_as_values_repeat(
    group_pool: list[dict[str, Any]],
    details_pool: list[dict[str, Any]],
    picks: list[tuple[int, int]],
) -> None:
    """Events drawn from small pools (so the memos hit) pass iff their hash is the reference.

    Once one event at a time, the memos learning as they go, and once as a
    single run, where a value new to the run misses every lookup made for it.
    """
    walker = ChainWalker(())
    head = GENESIS
    chain: list[AuditEvent] = []
    for seq, (g, d) in enumerate(picks, start=1):
        fields = draft_fields(
            group_pool[g % len(group_pool)], details_pool[d % len(details_pool)], seq, head
        )
        expected = reference_hash(fields)
        e = event(fields)
        if expected is None:  # unencodable: refused, not raised, and named by the walker
            assert not walker._verify_run([e])
            walker.events = iter([e])
            assert walker.advance(-1) is e
            assert walker.n == seq - 1
            break
        assert walker._verify_run([e])
        assert (walker.n, walker.head, walker.last) == (seq, expected, e)
        chain.append(e)
        head = expected

    in_one_run = ChainWalker(())
    assert not chain or in_one_run._verify_run(chain)
    assert in_one_run.head == head


def twins(value: object) -> st.SearchStrategy[object]:
    """Values Python calls equal to ``value`` (or nearly), which JSON may or may not tell apart."""
    if isinstance(value, bool):
        return st.sampled_from([value, int(value), float(value), not value])
    if isinstance(value, int):
        options: list[object] = [value, value + 1, Text(str(value))]
        if abs(value) < 2**53:
            options.append(float(value))
        if value in (0, 1):
            options.extend([bool(value), Number.ONE])
        return st.sampled_from(options)
    if isinstance(value, float):
        options = [value, -value]
        if value.is_integer():
            options.append(int(value))
        return st.sampled_from(options)
    if isinstance(value, str):
        return st.sampled_from([value, Text(value), value + "x"])
    if isinstance(value, list):
        items = st.tuples(*[twins(v) for v in value])
        return items.map(list) | items
    if isinstance(value, dict):
        return st.fixed_dictionaries({k: twins(v) for k, v in value.items()}).map(
            lambda d: dict(reversed(d.items()))  # another insertion order: the same JSON
        ) | st.fixed_dictionaries({Text(k): twins(v) for k, v in value.items()})
    return st.just(value)


@settings(max_examples=300)
@given(details=json_objects, data=st.data())
def test_details_memo_never_confuses_values_that_json_tells_apart(
    details: dict[str, Any], data: st.DataObject
) -> None:
    """With ``details`` memoised, a twin in its place verifies iff it has the very same JSON.

    The twin carries the hash of the genuine event, as an attacker who swapped
    ``true`` for ``1`` or ``0.0`` for ``-0.0`` in the stored JSON would leave it.
    """
    twin = data.draw(twins(details))
    group = {
        "action": "item.read",
        "actor_member_id": "member-1",
        "actor_user_id": "user-1",
        "outcome": "allowed",
        "reason": None,
        "subject_member_id": None,
    }
    genuine = draft_fields(group, details, 1, GENESIS)
    if reference_hash(genuine) is None:
        return
    walker = walker_after(event(genuine))  # the memo now holds details
    second = draft_fields(group, details, 2, walker.head)
    forged = event({**second, "details": twin}, hash_of=second)
    try:
        same_json = canonical(twin) == canonical(details)
    except (UnicodeEncodeError, ValueError):
        same_json = False

    assert walker._verify_run([forged]) == same_json


@given(
    fields=st.fixed_dictionaries(
        {
            "action": st.text(),
            "actor_member_id": optional_text,
            "actor_user_id": optional_text,
            "outcome": st.text(),
            "reason": optional_text,
            "subject_member_id": optional_text,
        }
    ),
    twin_field=st.sampled_from(
        ["action", "actor_member_id", "actor_user_id", "outcome", "reason", "subject_member_id"]
    ),
    twin=st.sampled_from([None, "", "null", 0, False, Text("x")]),
)
def test_group_memo_never_confuses_values_that_json_tells_apart(
    fields: dict[str, Any], twin_field: str, twin: object
) -> None:
    """With a group memoised, changing one of its fields verifies iff the JSON is unchanged."""
    genuine = draft_fields(fields, {}, 1, GENESIS)
    if reference_hash(genuine) is None:
        return
    walker = walker_after(event(genuine))  # the memo now holds the group
    second = draft_fields(fields, {}, 2, walker.head)
    forged = event({**second, twin_field: twin}, hash_of=second)
    try:
        same_json = canonical(twin) == canonical(fields[twin_field])
    except (UnicodeEncodeError, ValueError):
        same_json = False

    # Only str and None may stand in these fields (as _event_fields_digest
    # demands), so a twin of another type is refused even where json agrees.
    assert walker._verify_run([forged]) == (same_json and (twin is None or isinstance(twin, str)))


@pytest.mark.parametrize("stored", [None, [], "", 0, False])
def test_empty_details_replaced_by_another_empty_value_is_caught(stored: object) -> None:
    """``{}`` stored back as null, [], "", 0 or false changes the JSON: the hash no longer fits."""
    chain = AuditChain()
    events = [
        chain.append(id=f"e{i}", at=AT, action="item.read", outcome="allowed") for i in range(3)
    ]
    tampered = [events[0], edit(events[1], details=stored), events[2]]

    result = verify_events(tampered, checkpoints_for(events, [3], SIGNER), VERIFY)

    assert result.first_problem is not None
    assert (result.first_problem.kind, result.first_problem.seq) == ("modified", 2)


def _chain_of(details_for: Any, count: int, reason_for: Any = lambda i: None) -> list[AuditEvent]:
    """A clean chain of ``count`` events with the details and reasons the callables give."""
    chain = AuditChain()
    return [
        chain.append(
            id=f"e{i}",
            at=AT,
            action="item.read",
            outcome="denied",
            actor_user_id=f"user-{i % 7}",
            reason=reason_for(i),
            details=details_for(i),
        )
        for i in range(count)
    ]


def test_memos_stay_bounded_and_skip_large_values() -> None:
    """However many distinct values a log holds, each memo keeps at most _MEMO_ENTRIES."""
    big = "x" * _MEMO_KEY_BYTES
    events = _chain_of(
        lambda i: {"n": i % 3000} if i % 2 else {"big": big, "n": i % 5},
        6000,
        reason_for=lambda i: big if i % 3 == 0 else f"reason {i % 2000}",
    )
    walker = walker_after(*events)

    assert len(walker._details.entries) <= _MEMO_ENTRIES
    assert len(walker._groups.entries) <= _MEMO_ENTRIES
    assert all(len(key) <= _MEMO_KEY_BYTES for key in walker._details.entries)
    assert all(big not in group for group in walker._groups.entries)


def test_details_memo_pauses_where_values_never_repeat_and_resumes_after() -> None:
    """Unique details switch the memo off for a while; the log verifies across the switch."""
    unique_until = _MEMO_FILL_TOO_FAST
    count = unique_until + _MEMO_PAUSE + 500
    events = _chain_of(lambda i: {"n": i} if i < unique_until else {"kind": "repeat"}, count)
    walker = ChainWalker(events)

    assert walker.advance(unique_until) is None
    assert walker._details.use_from > walker.n  # paused: every lookup had missed
    assert walker.advance(-1) is None
    assert walker.n == count
    assert walker._details.entries  # back on after the pause, memoising the repeats
    assert verify_events(events, checkpoints_for(events, [count], SIGNER), VERIFY).ok


LONG = build_events(600)  # runs of _RUN_EVENTS: the tampering lands inside the second run


@pytest.mark.parametrize(
    ("tamper", "kind"),
    [
        (lambda es: [*es[:299], edit(es[299], details={"n": 1}), *es[300:]], "modified"),
        (lambda es: [*es[:299], *es[300:]], "deleted"),
        (lambda es: [*es[:299], es[300], es[299], *es[301:]], "reordered"),
        (lambda es: [*es[:299], es[299], es[299], *es[300:]], "inserted"),
    ],
    ids=["modified", "deleted", "reordered", "inserted"],
)
def test_tampering_inside_a_run_is_named_at_its_event(tamper: Any, kind: str) -> None:
    """An event gone wrong in the middle of a run is named as exactly, and as, before."""
    checkpoints = checkpoints_for(LONG, [600], SIGNER)

    result = verify_events(tamper(list(LONG)), checkpoints, VERIFY)

    assert result.first_problem is not None
    assert result.first_problem.kind == kind
    assert result.first_problem.seq == (301 if kind == "inserted" else 300)
    assert result.checked == result.first_problem.seq - 1


def test_what_the_fast_path_refuses_is_decided_event_by_event() -> None:
    """A prev_hash that is a str subclass with the right text verifies, as it always did.

    The fast path writes prev_hash as stored, so it takes plain str only; the
    walker then goes over the run one event at a time with the chain's digest.
    """
    events = list(LONG[:300])
    events[200] = edit(events[200], prev_hash=Text(events[200].prev_hash))
    walker = ChainWalker(())

    assert not walker._verify_run(events[:256])
    assert verify_events(events, checkpoints_for(LONG, [300], SIGNER), VERIFY).ok


def test_prev_hash_that_only_the_hashed_bytes_link_is_caught() -> None:
    """An event hashed over the right previous hash but storing another is not a link.

    The fast path writes prev_hash as stored and hashes after the head's raw
    bytes, so only its comparison of prev_hash with the head catches this.
    """
    events = list(LONG[:300])
    genuine = events[200]
    fields = {f.name: getattr(genuine, f.name) for f in dataclasses.fields(genuine)}
    del fields["hash"]
    fields["prev_hash"] = "1" * 64
    forged_hash = hashlib.sha256(bytes.fromhex(genuine.prev_hash) + canonical(fields)).hexdigest()
    events[200] = AuditEvent(**fields, hash=forged_hash)

    assert not ChainWalker(())._verify_run(events[:201])
    result = verify_events(events, checkpoints_for(LONG, [300], SIGNER), VERIFY)
    assert result.first_problem is not None
    assert (result.first_problem.kind, result.first_problem.seq, result.checked) == (
        "modified",
        201,
        200,
    )


def test_event_with_a_wrong_seq_but_its_own_hash_and_link_is_caught_at_its_place() -> None:
    """A self-consistent, linked event claiming another seq is named where it is stored."""
    events = list(LONG[:300])
    genuine = events[200]
    fields = {f.name: getattr(genuine, f.name) for f in dataclasses.fields(genuine)}
    del fields["hash"]
    fields["seq"] = 250
    events[200] = event(fields)

    assert not ChainWalker(())._verify_run(events[:201])
    result = verify_events(events, checkpoints_for(LONG, [300], SIGNER), VERIFY)
    assert result.first_problem is not None
    assert (result.first_problem.seq, result.checked) == (201, 200)
