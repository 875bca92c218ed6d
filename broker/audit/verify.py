"""Offline verification of the audit chain and its signed checkpoints.

:func:`verify_events` reads events once, in stored order, keeping only a run of
a few hundred of them, the current head, bounded memos of repeated encodings and
the checkpoints in memory, so a log of any length can be checked from a database
cursor or an export file. It stops at the first problem and names it: which
kind of tampering it looks like, and at which seq. The kinds are a best
explanation from what is stored, not a proof of what an attacker did: an edit
whose hashes were all recomputed looks like a genuine chain until a signed
checkpoint disagrees with it.

What cannot be detected, by design: events appended after the last checkpoint
can be removed from the tail without trace, and a forged event appended at the
end with correct links looks genuine until a checkpoint covers the real tail.
Frequent checkpoints bound both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal, TypeAlias, TypeGuard

from broker.audit.chain import GENESIS, AuditEvent, Checkpoint, checkpoint_message
from broker.audit.chain import _event_fields_digest as _digest_of
from broker.audit.walker import ChainWalker

__all__ = [
    "Problem",
    "ProblemKind",
    "SignatureVerifier",
    "VerifyResult",
    "verify_events",
]

ProblemKind: TypeAlias = Literal[
    "modified", "deleted", "inserted", "reordered", "bad_checkpoint", "truncated"
]
"""What a verification problem looks like (see :class:`Problem`)."""

SignatureVerifier: TypeAlias = Callable[[str, bytes, bytes], bool]
"""``verify(key_id, data, signature) -> bool``: checks an Ed25519 signature.

It must return False, not raise, for an unknown key id or a bad signature.
"""


@dataclass(frozen=True, slots=True)
class Problem:
    """The first thing found wrong with the audit log, for a person to act on.

    ``seq`` is where the log stops being trustworthy: every event before it
    verified (so ``VerifyResult.checked == seq - 1``). By kind:

    - ``modified``: event ``seq`` (``event_id``) does not match its own hash, or
      it and its predecessor no longer link (one was edited and its own hash
      recomputed; the message names both).
    - ``deleted``: event ``seq`` is missing (``event_id`` is None; the message
      names the event stored in its place).
    - ``inserted``: an extra event (``event_id``) is stored where event ``seq``
      belongs.
    - ``reordered``: event ``seq`` (``event_id``) is stored later than its place.
    - ``truncated``: events from ``seq`` on are missing although a signed
      ``checkpoint`` covers them.
    - ``bad_checkpoint``: ``checkpoint`` is signed but disagrees with the chain,
      so some event from ``seq`` to ``checkpoint.size`` was edited and every
      later hash recomputed; or its signature does not verify, in which case no
      event is implicated and ``seq`` is None.
    """

    kind: ProblemKind
    """Which kind of tampering the evidence points to."""
    seq: int | None
    """The first seq in doubt; None when no event is implicated."""
    event_id: str | None
    """The id of the event the problem is about, when there is one to name."""
    message: str
    """One or two sentences for a person, naming the events involved."""
    checkpoint: Checkpoint | None = None
    """The checkpoint involved, for ``bad_checkpoint`` and ``truncated``."""


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of :func:`verify_events`."""

    ok: bool
    """True when every event and every checkpoint verified."""
    checked: int
    """How many events, from the start, verified before the first problem (all when ok)."""
    head: str
    """The hash of the last of the ``checked`` events (:data:`GENESIS` if none)."""
    first_problem: Problem | None
    """What stopped the verification; None when ok."""
    checkpoints_checked: int
    """How many checkpoints had a valid signature and matched the chain."""


class _Stop(Exception):
    """Raised inside :func:`verify_events` to stop at the first problem."""

    def __init__(self, problem: Problem, checked: int, head: str) -> None:
        super().__init__(problem.message)
        self.problem = problem
        self.checked = checked
        self.head = head


def _self_consistent(e: AuditEvent) -> bool:
    """True if ``e.hash`` is the digest of ``e``'s other fields."""
    try:
        return _digest_of(e) == e.hash
    except (TypeError, ValueError, RecursionError):
        # A field of the wrong type, a malformed prev_hash or a cyclic details
        # cannot have been written by the chain: the event was altered.
        return False


def _belongs_at(e: AuditEvent | None, seq: int, head: str) -> TypeGuard[AuditEvent]:
    """True if ``e`` is a genuine-looking event ``seq`` following ``head``."""
    return e is not None and e.seq == seq and e.prev_hash == head and _self_consistent(e)


def _sentence(text: str) -> str:
    """``text`` with its first letter upper-cased (str.capitalize would lower ids)."""
    return text[:1].upper() + text[1:]


def _describe(e: AuditEvent) -> str:
    """Name an event for a message: its seq, id and action."""
    return f"event {e.seq} (id {e.id}, {e.action} at {e.at})"


def _describe_checkpoint(cp: Checkpoint) -> str:
    """Name a checkpoint for a message."""
    return f"the checkpoint of {cp.size} events signed by key {cp.key_id} at {cp.at}"


def _signature_ok(cp: Checkpoint, verify: SignatureVerifier) -> bool:
    """True if ``cp`` is well formed and its signature verifies."""
    try:
        message = checkpoint_message(cp.size, cp.head, cp.at)
        signature = bytes.fromhex(cp.signature)
    except (TypeError, ValueError):
        return False
    return bool(verify(cp.key_id, message, signature))


class _Verifier:
    """The state of one verification pass; see :func:`verify_events`."""

    def __init__(self, checkpoints: Iterable[Checkpoint], verify: SignatureVerifier) -> None:
        self.malformed: Checkpoint | None = None  # a checkpoint with no place in the chain
        pending: list[tuple[Checkpoint, bool]] = []
        for cp in checkpoints:
            if type(cp.size) is not int or cp.size < 0:
                self.malformed = self.malformed or cp
                continue
            pending.append((cp, _signature_ok(cp, verify)))
        # Checked in chain order, so that problems are reported in the order a
        # reader of the log meets them; sort is stable for equal sizes.
        pending.sort(key=lambda entry: entry[0].size)
        self.pending = pending
        self.next_cp = 0
        self.n = 0  # events verified so far
        self.head = GENESIS
        self.prev: AuditEvent | None = None  # event n, kept to name it and to step back
        self.covered = 0  # size of the last checkpoint that matched the chain
        self.covered_head = GENESIS
        self.checkpoints_checked = 0

    def start(self) -> None:
        """Report a malformed checkpoint, then check those of the empty chain."""
        if self.malformed is not None:
            cp = self.malformed
            raise _Stop(
                Problem(
                    "bad_checkpoint",
                    None,
                    None,
                    f"A checkpoint signed by key {cp.key_id} at {cp.at} has an invalid "
                    f"size {cp.size!r}.",
                    cp,
                ),
                0,
                GENESIS,
            )
        self.reach_checkpoints()

    def stop(self, kind: ProblemKind, seq: int, event_id: str | None, message: str) -> _Stop:
        """A stop at ``seq``: events before it count as checked."""
        if seq == self.n + 1:
            head = self.head
        elif seq == self.n and self.prev is not None:
            head = self.prev.prev_hash  # event n is in doubt: step back over it
        else:  # pragma: no cover - every caller stops at n or n + 1
            raise AssertionError(f"stop at {seq} after {self.n} events")
        return _Stop(Problem(kind, seq, event_id, message), seq - 1, head)

    def next_checkpoint_size(self) -> int:
        """The size of the next checkpoint to check, or -1 when none is left."""
        if self.next_cp < len(self.pending):
            return self.pending[self.next_cp][0].size
        return -1

    def reach_checkpoints(self) -> None:
        """Check the checkpoints whose size is the number of events verified."""
        pending = self.pending
        n = self.n
        while self.next_cp < len(pending) and pending[self.next_cp][0].size == n:
            cp, signature_ok = pending[self.next_cp]
            self.next_cp += 1
            if not signature_ok:
                raise self.bad_signature(cp)
            if cp.head != self.head:
                first = self.covered + 1
                span = f"event {first}" if first == n else f"one of events {first} to {n}"
                raise _Stop(
                    Problem(
                        "bad_checkpoint",
                        first if n > 0 else None,
                        None,
                        f"{_sentence(_describe_checkpoint(cp))} records head {cp.head}, "
                        f"but the stored events hash to {self.head}: {span} was altered "
                        "and the later hashes recomputed.",
                        cp,
                    ),
                    self.covered,
                    self.covered_head,
                )
            self.checkpoints_checked += 1
            self.covered = n
            self.covered_head = self.head

    def bad_signature(self, cp: Checkpoint) -> _Stop:
        """A stop for a checkpoint whose signature does not verify: no event is implicated."""
        return _Stop(
            Problem(
                "bad_checkpoint",
                None,
                None,
                f"The signature of {_describe_checkpoint(cp)} does not verify: it is "
                "forged, damaged or signed by an unknown key.",
                cp,
            ),
            self.n,
            self.head,
        )

    def finish(self) -> VerifyResult:
        """Check the checkpoints beyond the last event, and return the verdict."""
        if self.next_cp < len(self.pending):
            cp, signature_ok = self.pending[self.next_cp]
            if not signature_ok:
                raise self.bad_signature(cp)
            after = f" after {_describe(self.prev)}" if self.prev is not None else ""
            missing = (
                f"event {self.n + 1} is"
                if cp.size == self.n + 1
                else f"events {self.n + 1} to {cp.size} are"
            )
            raise _Stop(
                Problem(
                    "truncated",
                    self.n + 1,
                    None,
                    f"The log ends{after}, but {_describe_checkpoint(cp)} vouches for "
                    f"more: {missing} missing.",
                    cp,
                ),
                self.n,
                self.head,
            )
        return VerifyResult(True, self.n, self.head, None, self.checkpoints_checked)

    def diagnose(self, e: AuditEvent, rest: Iterator[AuditEvent]) -> _Stop:
        """Explain why ``e``, stored where event n + 1 belongs, does not fit there.

        Reads ahead in ``rest`` as far as it must (one event, or to the end for
        a seq gap) but keeps only a few events, so memory stays constant.
        """
        k = self.n + 1
        head = self.head
        prev = self.prev

        if not _self_consistent(e):
            nxt = next(rest, None)
            if _belongs_at(nxt, k, head):
                return self.stop(
                    "inserted",
                    k,
                    e.id,
                    f"An extra event (id {e.id}, claiming seq {e.seq!r}) that does not "
                    f"match its own hash is stored before {_describe(nxt)}.",
                )
            claims = "" if e.seq == k else f" (its seq now reads {e.seq!r})"
            return self.stop(
                "modified",
                k,
                e.id,
                f"Event {k} (id {e.id}){claims} was modified: its stored hash does not "
                "match its contents.",
            )

        if e.seq < k:
            if (
                prev is not None
                and self.covered != self.n  # no checkpoint vouches for prev
                and e.seq == prev.seq
                and e.prev_hash == prev.prev_hash
                and e.hash != prev.hash
            ):
                # Two events claim the same place; the one the chain goes on
                # from is the original.
                nxt = next(rest, None)
                if nxt is not None and nxt.prev_hash == e.hash:
                    return self.stop(
                        "inserted",
                        prev.seq,
                        prev.id,
                        f"{_sentence(_describe(prev))} and the event after it (id {e.id}) "
                        f"both claim seq {prev.seq}; the chain goes on from {e.id}, so "
                        f"{prev.id} was inserted.",
                    )
            return self.stop(
                "inserted",
                k,
                e.id,
                f"An extra event (id {e.id}) claiming seq {e.seq}, which is already "
                f"taken, is stored where event {k} belongs.",
            )

        if e.seq == k:  # then e.prev_hash != head, or it would have verified
            nxt = next(rest, None)
            if _belongs_at(nxt, k, head):
                return self.stop(
                    "inserted",
                    k,
                    e.id,
                    f"An extra event (id {e.id}) claiming seq {k} that does not follow "
                    f"event {k - 1} is stored before {_describe(nxt)}.",
                )
            if prev is None:
                return self.stop(
                    "modified",
                    k,
                    e.id,
                    f"{_sentence(_describe(e))} does not start from the genesis hash: "
                    "it was altered and its hash recomputed.",
                )
            if self.covered == self.n:
                # A signed checkpoint vouches for event n, so the fault is in e.
                return self.stop(
                    "modified",
                    k,
                    e.id,
                    f"{_sentence(_describe(e))} does not link to {_describe(prev)}, "
                    "which a checkpoint vouches for: it was altered and its hash "
                    "recomputed.",
                )
            return self.stop(
                "modified",
                self.n,
                prev.id,
                f"{_sentence(_describe(e))} does not link to {_describe(prev)}: one "
                "of the two was altered and its hash recomputed.",
            )

        return self.diagnose_gap(e, rest)

    def diagnose_gap(self, e: AuditEvent, rest: Iterator[AuditEvent]) -> _Stop:
        """Explain an event whose seq is ahead of its place: deleted, reordered or inserted.

        Scans the rest of the log for the event that belongs here (same seq,
        linked to the head). Absent: it was deleted. Present: ``e`` was either
        moved here (genuine: its neighbours in the chain are stored later) or
        inserted (a copy of a later event, or one nothing links to).
        """
        k = self.n + 1
        head = self.head
        missing: AuditEvent | None = None
        linked = False  # a later event is e's chain neighbour
        copied = False  # a later event is e itself
        for x in rest:
            if missing is None and _belongs_at(x, k, head):
                missing = x
            if x.hash == e.hash:
                copied = True
            elif x.hash == e.prev_hash or x.prev_hash == e.hash:
                linked = True
            if missing is not None and copied:
                break  # a copy is an insertion whatever else is found
        here = f"{_describe(e)}" if self.prev is None else f"{_describe(e)}, after event {k - 1},"
        if missing is None:
            what = f"Event {k} is" if e.seq == k + 1 else f"Events {k} to {e.seq - 1} are"
            return self.stop(
                "deleted",
                k,
                None,
                f"{what} missing: {here} is stored where event {k} belongs.",
            )
        if linked and not copied:
            return self.stop(
                "reordered",
                k,
                missing.id,
                f"{_sentence(_describe(missing))} is stored out of order: {here} is "
                "stored in its place.",
            )
        return self.stop(
            "inserted",
            k,
            e.id,
            f"An extra event (id {e.id}) claiming seq {e.seq} is stored before "
            f"{_describe(missing)}.",
        )


def verify_events(
    events: Iterable[AuditEvent],
    checkpoints: Iterable[Checkpoint],
    verify: SignatureVerifier,
) -> VerifyResult:
    """Check the audit chain and its signed checkpoints; name the first problem.

    ``events`` are read once, in stored order, and may be a lazy iterator of any
    length. ``checkpoints`` are read up front (there are few); each must be
    signed by a key ``verify`` accepts and must match the chain head at its
    size, and none may cover more events than are present. Verification stops
    at the first problem, in log order, which :attr:`VerifyResult.first_problem`
    describes (see :class:`Problem` for what each kind means).
    """
    state = _Verifier(checkpoints, verify)
    try:
        state.start()
        walker = ChainWalker(events)
        # The walker verifies events up to the next checkpoint's size at a
        # time. Everything unusual happens in diagnose(), which runs at most once.
        while True:
            next_size = state.next_checkpoint_size()
            bad = walker.advance(next_size)
            state.n, state.head, state.prev = walker.n, walker.head, walker.last
            if bad is not None:
                raise state.diagnose(bad, walker.events)
            if walker.n != next_size:
                return state.finish()  # the events ran out
            state.reach_checkpoints()
    except _Stop as stop:
        return VerifyResult(False, stop.checked, stop.head, stop.problem, state.checkpoints_checked)
