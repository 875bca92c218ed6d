"""The verifier's inner loop: following the hash chain through stored events fast.

`ChainWalker` writes exactly the bytes `broker.audit.chain._event_fields_digest`
hashes, but for a run of events at a time and with memoised encodings of the
values that repeat (actions, actors, outcomes, details), which is where a
verifier spends its time. Anything unusual in a run sends it back to the plain
per-event digest, so a problem is always named as the plain code would.
"""

from __future__ import annotations

import marshal
from collections.abc import Iterable, Iterator
from itertools import chain, islice, repeat
from typing import Final, Generic, TypeAlias, TypeVar

from broker.audit.chain import (
    GENESIS,
    AuditEvent,
    JSONValue,
    _enc_str,
    _encode_details,
    _event_fields_digest,
    _fromhex,
    _sha256,
)

__all__ = ["ChainWalker"]

_GENESIS_RAW: Final[bytes] = bytes(32)
"""The 32 bytes of :data:`GENESIS`, which the first event's hash covers."""

# The verifier checks events in runs of at most this many (see ChainWalker):
# long enough for its two passes to pay, short enough to hold a run in memory.
_RUN_EVENTS: Final[int] = 256

# The verifier memoises encodings of repeated values (see ChainWalker): at most
# this many per memo, and only values whose key or JSON is at most this long.
# Both keep a pass's memory flat whatever the log holds.
_MEMO_ENTRIES: Final[int] = 1024
_MEMO_KEY_BYTES: Final[int] = 512
# A details memo that fills up this fast (three lookups in four missing) costs a
# marshal per event and saves little: it is then left off for this many events.
_MEMO_FILL_TOO_FAST: Final[int] = _MEMO_ENTRIES * 4 // 3
_MEMO_PAUSE: Final[int] = 16 * _MEMO_ENTRIES
# Version 2: no back-references (which would make the key depend on how objects
# are shared) and no per-call reference table, so it is also the quickest.
_MEMO_MARSHAL_VERSION: Final[int] = 2

_Group: TypeAlias = tuple[str, str | None, str | None, str, str | None, str | None]
"""An event's action, actor_member_id, actor_user_id, outcome, reason, subject_member_id."""
_GroupJSON: TypeAlias = tuple[str, str, str, str]
"""The JSON around those fields' values: see :func:`_encode_group`."""
_K = TypeVar("_K")
_V = TypeVar("_V")
_Recalled: TypeAlias = tuple[list[_K], list[_V | None]]
"""A run's memo keys and what the memo holds for each (None where nothing)."""


class _Memo(Generic[_K, _V]):
    """A bounded memo of encodings that steps aside where values do not repeat.

    ``entries`` holds at most :data:`_MEMO_ENTRIES`; when full it is emptied,
    since the log has moved on to other values. If it filled up in barely more
    lookups than it holds, nearly every lookup missed and cost its key for
    nothing, so the memo is left unused for the next :data:`_MEMO_PAUSE`
    events (``use_from``); the values may start repeating later in the log.
    """

    __slots__ = ("entries", "since", "use_from")

    def __init__(self) -> None:
        self.entries: dict[_K, _V] = {}
        self.since = 0  # the seq from which the entries were gathered
        self.use_from = 0  # the seq from which to look values up

    def put(self, key: _K, value: _V, seq: int) -> None:
        """Remember ``value`` under ``key``, having missed it at event ``seq``."""
        if seq < self.use_from:
            return  # paused in the middle of a run
        entries = self.entries
        if len(entries) >= _MEMO_ENTRIES:
            entries.clear()
            filled_in = seq - self.since
            self.since = seq
            if filled_in < _MEMO_FILL_TOO_FAST:
                self.use_from = self.since = seq + _MEMO_PAUSE
                return
        entries[key] = value


class ChainWalker:
    """Follows the hash chain through stored events: the verifier's inner loop.

    It reads ``events`` once, in order, and holds the position reached (``n``
    events verified, the last being ``last``, ending in ``head``). Events are
    checked in runs of up to :data:`_RUN_EVENTS`, in two passes: the first
    builds each event's hashed bytes, the second hashes them all and checks
    each hash and link (measured: about a tenth faster than one loop that
    alternates between encoding and hashing). A run with anything amiss is gone
    over again one event at a time with :func:`_event_fields_digest`, which
    finds the first bad event exactly as verification always has.

    The bytes hashed are exactly those of :func:`_event_fields_digest`, built
    with shortcuts that change no byte:

    - ``prev_hash`` is written as stored, but accepted only where it is a plain
      str equal to the head, and the head's 32 raw bytes are carried over from
      the previous digest rather than parsed from hex again.
    - ``details`` encodings are memoised by exact value: a log repeats a few
      shapes (``{"decrypted": true}``, a count, a scope), and the C json encoder
      costs more per call than hashing the whole event. The key is the value's
      ``marshal`` output, which is injective on the exact built-in types it
      accepts (floats by their bits, so ``0.0`` and ``-0.0`` differ; ``True``,
      ``1`` and ``1.0`` are three types) and refuses subclasses and anything
      else with ValueError, without running any code of the value's. Such
      values, like every miss, go through the reference encoder, and only what
      it encoded is remembered.
    - The JSON around the six fields that take few values (action, actors,
      outcome, reason, subject) is memoised by those values. A key is only
      remembered once all six encoded, so it holds strings and None, and a
      string equals another only with the same text, which json writes the
      same. (An object that redefines equality to pass for a string could
      fool this memo; events from the store or an export hold plain strings.)

    Both memos are bounded and step aside where values do not repeat (see
    :class:`_Memo`), so a log of all-distinct values costs little more than
    encoding every event in full. One walker serves one verification pass:
    nothing is carried from one pass, or one log, to the next.
    """

    __slots__ = ("_details", "_groups", "_head_raw", "events", "head", "last", "n")

    def __init__(self, events: Iterable[AuditEvent]) -> None:
        self.events: Iterator[AuditEvent] = iter(events)
        """The events not read yet (a bad event's successors, for a diagnosis)."""
        self.n = 0
        self.head = GENESIS
        self.last: AuditEvent | None = None
        self._head_raw = _GENESIS_RAW
        self._details: _Memo[bytes, str] = _Memo()
        self._groups: _Memo[_Group, _GroupJSON] = _Memo()

    def advance(self, until: int) -> AuditEvent | None:
        """Verify events for as long as each is the next link of the chain.

        Stops after event ``until`` (-1: never) or when the events run out and
        returns None; or returns the first event that is not the next link (a
        wrong seq, prev_hash or hash, or a field that cannot be encoded), which
        it has read and not counted.
        """
        while self.n != until:
            size = _RUN_EVENTS if until < 0 else min(_RUN_EVENTS, until - self.n)
            run = list(islice(self.events, size))
            if not run:
                return None
            if not self._verify_run(run):
                self.events = chain(run, self.events)
                bad = self._advance_stepwise(self.n + len(run))
                if bad is not None:
                    return bad
        return None

    def _verify_run(self, run: list[AuditEvent]) -> bool:
        """Verify ``run``, the events after the head, and advance over it; or return False.

        False means some event in it is not the next link, or could not be
        encoded; the position has not moved then (the memos may have learnt
        values, which are right whatever the events).
        """
        try:
            bodies = self._encode_run(run)
        except (TypeError, ValueError, RecursionError):
            return False  # a field the chain cannot have written: find which
        sha256 = _sha256
        head, head_raw = self.head, self._head_raw
        for e, body in zip(run, bodies, strict=True):
            digest = sha256(head_raw + body).digest()
            hex_digest = digest.hex()
            if hex_digest != e.hash or e.prev_hash != head:
                return False
            head, head_raw = hex_digest, digest
        self.n += len(run)
        self.head, self._head_raw, self.last = head, head_raw, run[-1]
        return True

    def _encode_run(self, run: list[AuditEvent]) -> list[bytes]:
        """The bytes each event of ``run`` hashes after its previous hash.

        Raises TypeError or ValueError where an event's seq is not the next,
        its prev_hash is not a plain str (it is written as it is, so it must be
        text that json writes unchanged once found equal to the head), or a
        field cannot be encoded.
        """
        first = self.n + 1
        # The memo lookups for the whole run first: dict.get mapped over it runs in C.
        keys, known_details = self._recall_details(run, first)
        groups, known_parts = self._recall_groups(run, first)
        enc = _enc_str  # locals, not globals: this loop is the verifier's cost
        bodies: list[bytes] = []
        keep = bodies.append
        k = first - 1
        for e, details_json, parts in zip(run, known_details, known_parts, strict=True):
            k += 1
            seq = e.seq
            if type(seq) is not int or seq != k:  # a bool or an int subclass prints differently
                raise ValueError(f"event {k} has seq {seq!r}")
            prev_hash = e.prev_hash
            if type(prev_hash) is not str:
                raise TypeError(f"prev_hash must be a str, got {type(prev_hash).__name__}")
            if details_json is None:
                details_json = self._details_json(e.details, keys[k - first], k)
            if parts is None:
                parts = self._group_json(groups[k - first], k)
            opening, outcome_json, reason_json, closing = parts
            item_id = e.item_id
            keep(
                f'{opening}{enc(e.at)},"details":{details_json},"id":{enc(e.id)}'
                f',"item_id":{"null" if item_id is None else enc(item_id)}'
                f"{outcome_json}{prev_hash}{reason_json}{seq}{closing}".encode()
            )
        return bodies

    def _recall_details(self, run: list[AuditEvent], first: int) -> _Recalled[bytes, str]:
        """Each event's details memo key and memoised JSON (None if not memoised)."""
        details = [e.details for e in run]
        if first < self._details.use_from:  # paused: no keys, every JSON encoded
            return [b""] * len(run), list(map(_encode_details, details))
        try:
            keys = list(map(marshal.dumps, details, repeat(_MEMO_MARSHAL_VERSION)))
        except ValueError:  # some are not plain built-in types: those get no key
            keys = list(map(_details_key, details))
        return keys, list(map(self._details.entries.get, keys))

    def _recall_groups(self, run: list[AuditEvent], first: int) -> _Recalled[_Group, _GroupJSON]:
        """Each event's few-valued fields and their memoised JSON (None if not memoised)."""
        groups: list[_Group] = [
            (e.action, e.actor_member_id, e.actor_user_id, e.outcome, e.reason, e.subject_member_id)
            for e in run
        ]
        if first < self._groups.use_from:  # paused: every JSON encoded
            return groups, list(map(_encode_group, groups))
        return groups, list(map(self._groups.entries.get, groups))

    def _details_json(self, details: object, key: bytes, seq: int) -> str:
        """The JSON of ``details`` that the run's lookup missed, memoised under ``key``.

        An event earlier in the run may have memoised it since the lookup.
        """
        memo = self._details
        text = memo.entries.get(key) if key else None
        if text is None:
            text = _encode_details(details)
            if key and len(key) <= _MEMO_KEY_BYTES:
                memo.put(key, text, seq)
        return text

    def _group_json(self, group: _Group, seq: int) -> _GroupJSON:
        """The JSON around ``group`` that the run's lookup missed, memoised.

        An event earlier in the run may have memoised it since the lookup.
        """
        memo = self._groups
        parts = memo.entries.get(group)
        if parts is None:
            parts = _encode_group(group)
            if sum(map(len, parts)) <= _MEMO_KEY_BYTES:
                memo.put(group, parts, seq)
        return parts

    def _advance_stepwise(self, until: int) -> AuditEvent | None:
        """:meth:`advance` one event at a time with the plain encoder, up to ``until``.

        Slower, and exact by construction: the chain's own digest of each
        event, compared field by field as verification always has.
        """
        for e in self.events:
            k = self.n + 1
            try:
                digest = _event_fields_digest(e)
            except (TypeError, ValueError, RecursionError):
                return e  # a field the chain cannot have written: it was altered
            if digest != e.hash or e.seq != k or e.prev_hash != self.head:
                return e
            self.n, self.head, self.last = k, digest, e
            self._head_raw = _fromhex(digest)
            if k == until:
                break
        return None


def _encode_group(group: _Group) -> _GroupJSON:
    """The JSON around an event's few-valued fields, as :func:`_event_fields_digest` writes it.

    ``group`` is (action, actor_member_id, actor_user_id, outcome, reason,
    subject_member_id); the four parts go, in order, before ``at``, before
    ``prev_hash``'s value, before ``seq``'s value and after it. Raises
    TypeError, as _event_fields_digest does, for anything but a string where
    one is required or a string or None where that is allowed.
    """
    action, actor_member_id, actor_user_id, outcome, reason, subject_member_id = group
    enc = _enc_str
    return (
        f'{{"action":{enc(action)}'
        f',"actor_member_id":{"null" if actor_member_id is None else enc(actor_member_id)}'
        f',"actor_user_id":{"null" if actor_user_id is None else enc(actor_user_id)}'
        ',"at":',
        f',"outcome":{enc(outcome)},"prev_hash":"',
        f'","reason":{"null" if reason is None else enc(reason)},"seq":',
        f',"subject_member_id":{"null" if subject_member_id is None else enc(subject_member_id)}}}',
    )


def _details_key(details: dict[str, JSONValue]) -> bytes:
    """``details``' memo key: its marshal output, or b"" if marshal refuses it."""
    try:
        return marshal.dumps(details, _MEMO_MARSHAL_VERSION)
    except ValueError:  # a subclass or a foreign type: encoded every time instead
        return b""
