"""Property: any single tampering of a checkpointed log is detected, at or before its place.

The bound, stated precisely: let p be the first 1-based position at which the
stored sequence of events differs from the original one (for a deletion of
event i that is i; for a tail cut, the first missing seq; for an exact copy
stored right next to its original, the position of the second of the two,
since the two are indistinguishable). Then verification is not ok, names a
seq, and that seq is at most p; every event before it was vouched for
(``checked == seq - 1``). The log always ends with a signed checkpoint, as the
broker's does after each batch; without one a cut tail is undetectable (see
test_audit_verify).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from audit_builders import (
    ACTIONS,
    KeySigner,
    checkpoints_for,
    edit,
    forged_event,
    rehash,
    relink_from,
    time_at,
    verifier_for,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.audit import GENESIS, AuditChain, AuditEvent, verify_events

SIGNER = KeySigner("audit-prop")
VERIFY = verifier_for(SIGNER)

ids = st.text(st.characters(codec="utf-8"), min_size=1, max_size=8)


@st.composite
def chains(draw: st.DrawFn) -> list[AuditEvent]:
    """Random chains of 1 to 25 events with random ids, actors, outcomes and details."""
    chain = AuditChain()
    events = []
    for i in range(draw(st.integers(min_value=1, max_value=25))):
        events.append(
            chain.append(
                id=f"{i}-{draw(ids)}",  # unique, as the broker's ULIDs are
                at=time_at(i),
                action=draw(st.sampled_from(ACTIONS)),
                outcome=draw(st.sampled_from(["allowed", "denied", "error"])),
                actor_user_id=draw(st.none() | ids),
                item_id=draw(st.none() | ids),
                reason=draw(st.none() | st.text(max_size=10)),
                details=draw(st.dictionaries(ids, st.integers() | ids, max_size=2)),
            )
        )
    return events


@dataclass(frozen=True)
class Tamper:
    """One tampering: its name, the kinds of problem it may be reported as, and what it does."""

    name: str
    kinds: frozenset[str]
    apply: Callable[[list[AuditEvent]], list[AuditEvent]]


FIELD_EDITS: dict[str, Callable[[AuditEvent], object]] = {
    "seq": lambda e: e.seq + 1,
    "id": lambda e: e.id + "x",
    "at": lambda e: "2030-01-01T00:00:00Z",
    "actor_user_id": lambda e: None if e.actor_user_id else "user-x",
    "action": lambda e: "item.withdraw",
    "item_id": lambda e: (e.item_id or "") + "x",
    "outcome": lambda e: "error" if e.outcome != "error" else "allowed",
    "reason": lambda e: (e.reason or "") + "x",
    "details": lambda e: {**e.details, "tampered": True},
    "prev_hash": lambda e: "f" * 64 if e.prev_hash != "f" * 64 else "e" * 64,
    "hash": lambda e: "f" * 64,
}


@st.composite
def tampers(draw: st.DrawFn, n: int) -> Tamper:
    """A random single tampering of a chain of n events."""
    i = draw(st.integers(min_value=0, max_value=n - 1))  # a 0-based index
    choices = ["modify", "modify+rehash", "modify+relink", "delete", "insert", "copy"]
    kind = draw(st.sampled_from([*choices, "swap", "move"] if n > 1 else choices))
    if kind == "modify":
        name = draw(st.sampled_from(sorted(FIELD_EDITS)))

        def modify(events: list[AuditEvent]) -> list[AuditEvent]:
            out = list(events)
            out[i] = edit(out[i], **{name: FIELD_EDITS[name](out[i])})
            return out

        return Tamper(f"modify {name} of event {i + 1}", frozenset({"modified"}), modify)
    if kind in ("modify+rehash", "modify+relink"):

        def modify_rehash(events: list[AuditEvent]) -> list[AuditEvent]:
            out = list(events)
            out[i] = rehash(edit(out[i], reason=(out[i].reason or "") + "x"))
            return relink_from(out, i + 1) if kind == "modify+relink" else out

        # A relinked chain is only caught by a checkpoint; an edit whose own
        # hash alone is recomputed breaks the link to the next event.
        expected = {"bad_checkpoint"} if kind == "modify+relink" else {"modified", "bad_checkpoint"}
        return Tamper(f"{kind} event {i + 1}", frozenset(expected), modify_rehash)
    if kind == "delete":
        return Tamper(
            f"delete event {i + 1}",
            frozenset({"deleted", "truncated"}),
            lambda events: events[:i] + events[i + 1 :],
        )
    if kind == "insert":
        seq = draw(st.integers(min_value=1, max_value=n + 2))
        linked = draw(st.booleans())

        def insert(events: list[AuditEvent]) -> list[AuditEvent]:
            prev = events[i - 1].hash if i else GENESIS
            forged = forged_event(seq, prev if linked else "ab" * 32, "forged")
            return [*events[:i], forged, *events[i:]]

        # A forged event claiming the place of the last one is only told apart
        # from it by the final checkpoint.
        expected = {"inserted", "bad_checkpoint"}
        return Tamper(
            f"insert seq {seq} (linked={linked}) before event {i + 1}", frozenset(expected), insert
        )
    if kind == "copy":
        src = draw(st.integers(min_value=0, max_value=n - 1))
        at = draw(st.integers(min_value=0, max_value=n))
        return Tamper(
            f"copy event {src + 1} to position {at + 1}",
            frozenset({"inserted"}),
            lambda events: [*events[:at], events[src], *events[at:]],
        )
    j = draw(st.integers(min_value=0, max_value=n - 2))
    j += j >= i  # any index but i
    if kind == "swap":

        def swap(events: list[AuditEvent]) -> list[AuditEvent]:
            out = list(events)
            out[i], out[j] = out[j], out[i]
            return out

        return Tamper(f"swap events {i + 1} and {j + 1}", frozenset({"reordered"}), swap)

    def move(events: list[AuditEvent]) -> list[AuditEvent]:
        out = list(events)
        out.insert(j, out.pop(i))
        return out

    return Tamper(f"move event {i + 1} to position {j + 1}", frozenset({"reordered"}), move)


def first_difference(original: list[AuditEvent], stored: list[AuditEvent]) -> int | None:
    """The first 1-based position where the two differ, or None if they are equal."""
    for pos in range(max(len(original), len(stored))):
        if pos >= len(original) or pos >= len(stored) or original[pos] != stored[pos]:
            return pos + 1
    return None


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_single_tamper_is_detected_at_or_before_its_position(data: st.DataObject) -> None:
    """Any one tampering is reported as its kind, at a seq no later than the first change."""
    events = data.draw(chains())
    n = len(events)
    sizes = sorted(data.draw(st.sets(st.integers(min_value=1, max_value=n), max_size=3)) | {n})
    checkpoints = checkpoints_for(events, sizes, SIGNER)
    assert verify_events(events, checkpoints, VERIFY).ok

    tamper = data.draw(tampers(n))
    stored = tamper.apply(events)
    p = first_difference(events, stored)
    assert p is not None, tamper.name

    result = verify_events(iter(stored), checkpoints, VERIFY)

    problem = result.first_problem
    assert not result.ok, tamper.name
    assert problem is not None
    assert problem.seq is not None, (tamper.name, problem)
    assert problem.seq <= p, (tamper.name, p, problem)
    assert problem.kind in tamper.kinds, (tamper.name, problem)
    assert result.checked == problem.seq - 1
    assert result.head == (events[problem.seq - 2].hash if problem.seq > 1 else GENESIS)
