"""Verification: a clean log passes; each kind of tampering is caught and named."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import pytest
from audit_builders import (
    KeySigner,
    build_events,
    checkpoints_for,
    edit,
    forged_event,
    rehash,
    relink_from,
    stream_events,
    verifier_for,
)

from broker.audit import (
    GENESIS,
    AuditChain,
    AuditEvent,
    Checkpoint,
    VerifyResult,
    make_checkpoint,
    verify_events,
)

SIGNER = KeySigner("audit-2025")
VERIFY = verifier_for(SIGNER)
EVENTS = build_events(12)


def _verify(
    events: list[AuditEvent], checkpoint_sizes: tuple[int, ...] = (4, 8, 12)
) -> VerifyResult:
    checkpoints = checkpoints_for(EVENTS, checkpoint_sizes, SIGNER)
    return verify_events(events, checkpoints, VERIFY)


def _assert_stopped_at(result: VerifyResult, kind: str, seq: int | None) -> None:
    """The result names the kind and seq, and vouches for exactly the events before it."""
    assert not result.ok
    assert result.first_problem is not None
    assert (result.first_problem.kind, result.first_problem.seq) == (kind, seq)
    if seq is not None:
        assert result.checked == seq - 1
        assert result.head == (EVENTS[seq - 2].hash if seq > 1 else GENESIS)


def test_clean_chain_with_checkpoints_verifies() -> None:
    """An untouched chain and its checkpoints verify, and the head is the last event's hash."""
    result = _verify(list(EVENTS))

    assert result == VerifyResult(
        ok=True, checked=12, head=EVENTS[-1].hash, first_problem=None, checkpoints_checked=3
    )


def test_empty_chain_verifies_with_and_without_a_genesis_checkpoint() -> None:
    """No events is a valid log; a checkpoint of size 0 must carry the genesis head."""
    assert verify_events([], [], VERIFY).ok
    result = verify_events([], checkpoints_for([], [0], SIGNER), VERIFY)
    assert result.ok
    assert result.checkpoints_checked == 1


def test_clean_chain_of_10k_events_verifies_from_a_stream() -> None:
    """10,000 events read once from a generator verify, with a checkpoint every 1,000."""
    events = build_events(10_000)
    checkpoints = checkpoints_for(events, range(1_000, 10_001, 1_000), SIGNER)

    result = verify_events(stream_events(10_000), checkpoints, VERIFY)

    assert result.ok
    assert result.checked == 10_000
    assert result.head == events[-1].hash
    assert result.checkpoints_checked == 10


def test_verification_memory_does_not_grow_with_the_log() -> None:
    """Verifying 20,000 streamed events allocates far less than holding them would."""
    tracemalloc.start()
    try:
        result = verify_events(stream_events(20_000), [], VERIFY)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.ok
    # Holding the events would take over 20 MB; a streaming pass needs a few kB.
    assert peak < 1_000_000


def test_verification_reads_the_events_once() -> None:
    """The events are consumed once, in order, so a database cursor or a file can feed them."""
    consumed: list[int] = []

    def once() -> Iterator[AuditEvent]:
        for e in EVENTS:
            consumed.append(e.seq)
            yield e

    assert verify_events(once(), [], VERIFY).ok
    assert consumed == list(range(1, 13))


def test_modified_field_is_named_with_its_seq_and_id() -> None:
    """Editing an event's action without touching hashes is reported as modified at that event."""
    events = list(EVENTS)
    events[6] = edit(events[6], action="item.list")

    result = _verify(events)

    _assert_stopped_at(result, "modified", 7)
    assert result.first_problem is not None
    assert result.first_problem.event_id == events[6].id
    assert "Event 7" in result.first_problem.message
    assert events[6].id in result.first_problem.message


@pytest.mark.parametrize(
    "field_change",
    [
        {"details": {"n": 999}},
        {"outcome": "error"},
        {"reason": "edited"},
        {"seq": 70},
        {"prev_hash": "f" * 64},
        {"hash": "e" * 64},
        {"prev_hash": "not hex"},
    ],
)
def test_modified_any_field_is_detected(field_change: dict[str, object]) -> None:
    """Changing any single field, the hashes included, is reported as modified at that seq."""
    events = list(EVENTS)
    events[4] = edit(events[4], **field_change)
    assert events[4] != EVENTS[4]

    _assert_stopped_at(_verify(events), "modified", 5)


def test_deleted_middle_event_is_named_as_missing() -> None:
    """Removing event 7 reports it deleted at seq 7 and names the event stored in its place."""
    events = [e for e in EVENTS if e.seq != 7]

    result = _verify(events)

    _assert_stopped_at(result, "deleted", 7)
    assert result.first_problem is not None
    assert result.first_problem.event_id is None
    assert "Event 7 is missing" in result.first_problem.message
    assert EVENTS[7].id in result.first_problem.message


def test_deleted_run_of_events_is_named_as_a_range() -> None:
    """Removing events 5 to 7 reports seq 5 deleted and says 5 to 7 are missing."""
    events = [e for e in EVENTS if not 5 <= e.seq <= 7]

    result = _verify(events)

    _assert_stopped_at(result, "deleted", 5)
    assert result.first_problem is not None
    assert "Events 5 to 7 are missing" in result.first_problem.message


def test_deleted_tail_covered_by_a_checkpoint_is_truncation() -> None:
    """Cutting events 10 to 12 is caught by the checkpoint of size 12 as truncation at seq 10."""
    result = _verify(EVENTS[:9])

    _assert_stopped_at(result, "truncated", 10)
    assert result.first_problem is not None
    assert result.first_problem.checkpoint is not None
    assert result.first_problem.checkpoint.size == 12
    assert "events 10 to 12 are missing" in result.first_problem.message
    assert result.checkpoints_checked == 2


def test_deleted_tail_past_the_last_checkpoint_is_not_detectable() -> None:
    """Events after the last checkpoint can be cut without trace; checkpoints must be frequent."""
    assert _verify(EVENTS[:10], checkpoint_sizes=(4, 8)).ok


def test_inserted_forged_event_linked_into_the_chain_is_named() -> None:
    """A forged event claiming seq 6 and linked to event 5 is reported as inserted at seq 6."""
    forged = forged_event(6, EVENTS[4].hash)
    events = [*EVENTS[:5], forged, *EVENTS[5:]]

    result = _verify(events)

    _assert_stopped_at(result, "inserted", 6)
    assert result.first_problem is not None
    assert result.first_problem.event_id == forged.id


@pytest.mark.parametrize(
    ("seq", "linked"),
    [(6, False), (3, True), (3, False), (9, False), (9, True)],
    ids=["same-seq-unlinked", "old-seq-linked", "old-seq", "future-seq", "future-seq-linked"],
)
def test_inserted_forged_event_with_any_seq_is_named(seq: int, linked: bool) -> None:
    """A forged event stored before event 6, whatever seq it claims, is reported inserted at 6."""
    forged = forged_event(seq, EVENTS[4].hash if linked else "ab" * 32)
    events = [*EVENTS[:5], forged, *EVENTS[5:]]

    result = _verify(events)

    _assert_stopped_at(result, "inserted", 6)
    assert result.first_problem is not None
    assert result.first_problem.event_id == forged.id


def test_inserted_copy_of_an_event_is_named() -> None:
    """A duplicate of event 3 stored after event 9 is reported as inserted at seq 10."""
    events = [*EVENTS[:9], EVENTS[2], *EVENTS[9:]]

    _assert_stopped_at(_verify(events), "inserted", 10)


def test_inserted_copy_of_a_later_event_is_not_mistaken_for_reordering() -> None:
    """A copy of event 9 stored before event 4 is an insertion at seq 4, not a move."""
    events = [*EVENTS[:3], EVENTS[8], *EVENTS[3:]]

    _assert_stopped_at(_verify(events), "inserted", 4)


@pytest.mark.parametrize(("a", "b"), [(5, 6), (3, 10), (11, 12), (1, 2)])
def test_swapped_events_are_reported_reordered_at_the_first(a: int, b: int) -> None:
    """Swapping events a and b is reported as reordered at seq a, naming event a."""
    events = list(EVENTS)
    events[a - 1], events[b - 1] = events[b - 1], events[a - 1]

    result = _verify(events)

    _assert_stopped_at(result, "reordered", a)
    assert result.first_problem is not None
    assert result.first_problem.event_id == EVENTS[a - 1].id


def test_event_moved_later_is_reported_reordered_where_it_belongs() -> None:
    """Event 3 moved after event 8 is reported reordered at seq 3."""
    events = [e for e in EVENTS if e.seq != 3]
    events.insert(7, EVENTS[2])

    _assert_stopped_at(_verify(events), "reordered", 3)


def test_edit_with_own_hash_recomputed_is_named_at_the_broken_link() -> None:
    """Editing event 6 and recomputing only its hash is reported modified at seq 6."""
    events = list(EVENTS)
    events[5] = rehash(edit(events[5], actor_user_id="user-innocent"))

    result = _verify(events)

    _assert_stopped_at(result, "modified", 6)
    assert result.first_problem is not None
    assert result.first_problem.event_id == EVENTS[5].id
    assert EVENTS[6].id in result.first_problem.message


def test_edit_with_all_later_hashes_recomputed_is_caught_by_the_checkpoint() -> None:
    """Editing event 6 and relinking every later event is caught by the checkpoint at 8."""
    events = list(EVENTS)
    events[5] = edit(events[5], actor_user_id="user-innocent")
    events = relink_from(events, 5)

    assert verify_events(events, [], VERIFY).ok  # the chain alone cannot tell
    result = _verify(events)

    # Checkpoint 4 still matches, so the edit is somewhere in events 5 to 8.
    _assert_stopped_at(result, "bad_checkpoint", 5)
    assert result.first_problem is not None
    assert result.first_problem.checkpoint is not None
    assert result.first_problem.checkpoint.size == 8
    assert "one of events 5 to 8" in result.first_problem.message
    assert result.checkpoints_checked == 1


def test_forged_checkpoint_signature_is_named() -> None:
    """A checkpoint of size 8 signed by an unknown key is a bad checkpoint naming size 8."""
    mallory = KeySigner("audit-2025")  # same key id, different key
    checkpoints = [
        *checkpoints_for(EVENTS, [4], SIGNER),
        make_checkpoint(8, EVENTS[7].hash, "2025-02-01T00:00:00Z", mallory),
        *checkpoints_for(EVENTS, [12], SIGNER),
    ]

    result = verify_events(EVENTS, checkpoints, VERIFY)

    assert not result.ok
    assert result.first_problem is not None
    assert result.first_problem.kind == "bad_checkpoint"
    assert result.first_problem.seq is None
    assert result.first_problem.checkpoint == checkpoints[1]
    assert "checkpoint of 8 events" in result.first_problem.message
    assert result.checked == 8
    assert result.checkpoints_checked == 1


@pytest.mark.parametrize(
    "forge",
    [
        lambda cp: Checkpoint(cp.size, cp.head, cp.at, "unknown-key", cp.signature),
        lambda cp: Checkpoint(cp.size + 1, cp.head, cp.at, cp.key_id, cp.signature),
        lambda cp: Checkpoint(cp.size, cp.head, "2030-01-01T00:00:00Z", cp.key_id, cp.signature),
        lambda cp: Checkpoint(cp.size, cp.head, cp.at, cp.key_id, "zz"),
        lambda cp: Checkpoint(cp.size, cp.head, cp.at, cp.key_id, "00" * 64),
    ],
    ids=["unknown-key", "size-changed", "time-changed", "not-hex", "zero-signature"],
)
def test_altered_checkpoint_fails_its_signature(forge: object) -> None:
    """A checkpoint whose key, size, time or signature was altered does not verify."""
    assert callable(forge)
    forged = forge(checkpoints_for(EVENTS, [8], SIGNER)[0])

    result = verify_events(EVENTS, [forged], VERIFY)

    assert not result.ok
    assert result.first_problem is not None
    assert result.first_problem.kind == "bad_checkpoint"


def test_signed_checkpoint_with_wrong_head_names_the_range() -> None:
    """A validly signed checkpoint whose head disagrees with the chain is a bad checkpoint."""
    wrong = make_checkpoint(8, "cd" * 32, "2025-02-01T00:00:00Z", SIGNER)

    result = verify_events(EVENTS, [wrong], VERIFY)

    _assert_stopped_at(result, "bad_checkpoint", 1)
    assert result.first_problem is not None
    assert "one of events 1 to 8" in result.first_problem.message


def test_forged_checkpoint_past_the_end_is_a_bad_checkpoint_not_truncation() -> None:
    """An unverifiable checkpoint claiming more events than exist does not prove truncation."""
    mallory = KeySigner("audit-2025")
    forged = make_checkpoint(20, "cd" * 32, "2025-02-01T00:00:00Z", mallory)

    result = verify_events(EVENTS, [forged], VERIFY)

    assert result.first_problem is not None
    assert result.first_problem.kind == "bad_checkpoint"
    assert result.checked == 12


def test_malformed_checkpoint_size_is_reported_first() -> None:
    """A checkpoint with a negative size has no place in the chain and is reported at once."""
    good = checkpoints_for(EVENTS, [8], SIGNER)[0]
    bad = Checkpoint(-3, good.head, good.at, good.key_id, good.signature)

    result = verify_events(EVENTS, [good, bad], VERIFY)

    assert result.first_problem is not None
    assert result.first_problem.kind == "bad_checkpoint"
    assert result.checked == 0


def test_checkpoints_may_come_in_any_order() -> None:
    """Checkpoints are matched by size whatever order they are given in."""
    checkpoints = checkpoints_for(EVENTS, [12, 4, 8, 8], SIGNER)

    result = verify_events(EVENTS, checkpoints, VERIFY)

    assert result.ok
    assert result.checkpoints_checked == 4


def test_first_problem_in_log_order_wins() -> None:
    """With an edited event 3 and a truncated tail, the edit at seq 3 is reported."""
    events = list(EVENTS[:9])
    events[2] = edit(events[2], reason="x")

    _assert_stopped_at(_verify(events), "modified", 3)


def test_first_event_not_starting_from_genesis_is_named() -> None:
    """An event 1 re-hashed onto a non-genesis prev_hash is reported modified at seq 1."""
    events = list(EVENTS)
    events[0] = rehash(edit(events[0], prev_hash="ab" * 32))

    _assert_stopped_at(_verify(events), "modified", 1)


def test_event_with_wrong_field_types_is_reported_not_raised() -> None:
    """An event whose seq is not an int is reported as modified rather than crashing."""
    events = list(EVENTS)
    events[3] = edit(events[3], seq="4")

    _assert_stopped_at(_verify(events), "modified", 4)


def test_messages_keep_the_exact_ids() -> None:
    """Problem messages quote ULID-style upper-case ids unchanged."""
    chain = AuditChain()
    events = [
        chain.append(
            id=f"01JQ7ZK{i}ABCDEF",
            at=f"2025-01-31T09:00:0{i}Z",
            action="item.read",
            outcome="allowed",
        )
        for i in range(4)
    ]
    events[1], events[2] = events[2], events[1]

    result = verify_events(events, [], VERIFY)

    assert result.first_problem is not None
    assert result.first_problem.kind == "reordered"
    assert "01JQ7ZK1ABCDEF" in result.first_problem.message
    assert "01JQ7ZK2ABCDEF" in result.first_problem.message
    assert result.first_problem.message[0].isupper()


def test_inserted_garbage_event_before_the_real_one_is_named() -> None:
    """An extra event that matches no hash, stored before the genuine event 6, is inserted at 6."""
    garbage = edit(forged_event(6, EVENTS[4].hash), hash="0" * 64)
    events = [*EVENTS[:5], garbage, *EVENTS[5:]]

    result = _verify(events)

    _assert_stopped_at(result, "inserted", 6)
    assert result.first_problem is not None
    assert result.first_problem.event_id == garbage.id


def test_broken_link_after_a_checkpoint_blames_the_later_event() -> None:
    """When a checkpoint vouches for event 4, a re-hashed event 5 that does not link is named."""
    events = list(EVENTS)
    events[4] = rehash(edit(events[4], prev_hash="ab" * 32))

    result = _verify(events)

    _assert_stopped_at(result, "modified", 5)
    assert result.first_problem is not None
    assert result.first_problem.event_id == EVENTS[4].id
    assert "checkpoint vouches" in result.first_problem.message


def test_event_holding_a_non_json_value_is_reported_not_raised() -> None:
    """An event built by hand with a non-JSON value in details is reported as modified."""
    events = list(EVENTS)
    events[2] = edit(events[2], details={"when": object()})

    _assert_stopped_at(_verify(events), "modified", 3)
