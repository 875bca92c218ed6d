"""Throughput of audit append and verify against plain SHA-256 over the same bytes.

Not a test (pytest does not collect it): run it by hand to measure,

    PYTHONPATH=. .venv/bin/python tests/unit/audit/bench_audit_verify.py [N]

The baseline is what no verifier can beat in Python: one hashlib.sha256 call
per event over exactly the bytes the chain hashes (the previous hash's 32 bytes
and the event's canonical JSON), already serialised. verify_events has to
rebuild those bytes from the event's fields before hashing them.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable

from audit_builders import KeySigner, append_event, checkpoints_for, verifier_for

from broker.audit import AuditChain, verify_events
from broker.audit.chain import _canonical_json


def best_of(runs: int, fn: Callable[[], object]) -> float:
    """The fastest of ``runs`` timings of ``fn``, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(n: int) -> None:
    """Build n events, then time append, verify and the SHA-256 baselines."""
    chain = AuditChain()
    append_time = time.perf_counter()
    events = [append_event(chain, i) for i in range(1, n + 1)]
    append_time = time.perf_counter() - append_time

    # Exactly the bytes event_digest hashes, serialised once, up front.
    blobs = []
    for e in events:
        fields = {name: getattr(e, name) for name in e.__slots__ if name != "hash"}
        body = _canonical_json(fields)
        blobs.append(bytes.fromhex(e.prev_hash) + body)
    total_bytes = sum(map(len, blobs))
    sha256 = hashlib.sha256

    def per_event_sha256() -> None:
        for blob in blobs:
            sha256(blob).hexdigest()

    joined = b"".join(blobs)

    def bulk_sha256() -> None:
        sha256(joined).hexdigest()

    signer = KeySigner()
    checkpoints = checkpoints_for(events, range(1000, n + 1, 1000), signer)
    verify = verifier_for(signer)

    def verify_all() -> None:
        assert verify_events(events, checkpoints, verify).ok

    t_base = best_of(5, per_event_sha256)
    t_bulk = best_of(5, bulk_sha256)
    t_verify = best_of(5, verify_all)

    def row(label: str, seconds: float, note: str = "") -> None:
        print(
            f"{label:<28}{n / seconds:>12,.0f} events/s  {seconds / n * 1e6:5.2f} µs/event {note}"
        )

    print(f"python {sys.version.split()[0]}, {n} events, {total_bytes / n:.0f} bytes hashed/event")
    row("append", append_time)
    row("sha256, one call per event", t_base)
    row("sha256, all bytes at once", t_bulk, f"({total_bytes / t_bulk / 1e6:.0f} MB/s)")
    row("verify_events", t_verify)
    print(f"verify_events / per-event sha256 baseline: {t_base / t_verify:.0%}")
    print(f"verify_events / bulk sha256 baseline:      {t_bulk / t_verify:.0%}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
