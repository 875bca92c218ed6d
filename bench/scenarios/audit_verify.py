"""Audit verify: `broker.audit.verify_events` over a long chain, against bare SHA-256.

Figure: events/s verified by ``verify_events`` (hash chain plus a signed
checkpoint every 256 events, as the broker makes them). Baseline:
``hashlib.sha256(...).hexdigest()`` in a loop over exactly the bytes each
event's hash covers (the previous hash and the event's canonical JSON),
i.e. the least any verifier must compute. Target: ≥ 0.30 x baseline.

It runs in a child process (``python -m bench.scenarios.audit_verify``) so
that its peak RSS is its own; each timing is the median of three runs,
alternating with the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench.harness import PYTHON, REPO_ROOT, child_env
from bench.report import Result, Target, unavailable
from bench.scenarios import Context

__all__ = ["TARGET", "UNIT", "main", "measure", "run"]

TARGET = Target("at_least", 0.30)
UNIT = "events/s"
CHECKPOINT_EVERY = 256
ROUNDS = 3


def _chain(count: int) -> tuple[list[Any], list[Any], list[bytes], Any]:
    """`count` broker-like events, their checkpoints, the bytes each hash covers, a verifier."""
    from ulid import ULID

    from broker.audit import AuditChain, make_checkpoint
    from broker.crypto import KeyRing, canonical_json
    from broker.services.audit import RingSigner, ring_verifier

    ring = KeyRing.generate()
    signer = RingSigner(ring)
    chain = AuditChain()
    events = []
    checkpoints = []
    member, user = str(ULID()), str(ULID())
    at = "2025-01-31T09:00:00.000000Z"
    shapes: list[tuple[str, dict[str, Any]]] = [
        ("item.read", {"decrypted": True}),
        ("item.list", {"count": 50}),
        (
            "item.submit",
            {
                "kind": "countermeasure",
                "tlp": "GREEN",
                "secret": False,
                "recipients": 101,
                "dropped": {},
                "pending_consents": [],
                "derived_from": [],
            },
        ),
        ("feedback.give", {"verdict": "came", "obligation_id": str(ULID())}),
    ]
    for n in range(count):
        action, details = shapes[n % len(shapes)]
        events.append(
            chain.append(
                id=str(ULID()),
                at=at,
                action=action,
                outcome="allowed",
                actor_user_id=user,
                actor_member_id=member,
                item_id=str(ULID()),
                details=details,
            )
        )
        if chain.size % CHECKPOINT_EVERY == 0:
            checkpoints.append(make_checkpoint(chain.size, chain.head, at, signer))
    blobs = []
    for e in events:
        fields = {
            "seq": e.seq,
            "id": e.id,
            "at": e.at,
            "actor_user_id": e.actor_user_id,
            "actor_member_id": e.actor_member_id,
            "action": e.action,
            "item_id": e.item_id,
            "subject_member_id": e.subject_member_id,
            "outcome": e.outcome,
            "reason": e.reason,
            "details": e.details,
            "prev_hash": e.prev_hash,
        }
        blobs.append(bytes.fromhex(e.prev_hash) + canonical_json(fields))
    # The baseline must hash exactly what the chain hashes, or the ratio means nothing.
    for e, blob in zip(events[:1000], blobs[:1000], strict=False):
        if hashlib.sha256(blob).hexdigest() != e.hash:
            raise RuntimeError("the baseline's bytes are not what the audit chain hashes")
    return events, checkpoints, blobs, ring_verifier(ring)


def measure(count: int) -> dict[str, Any]:
    """Build the chain, then time verification and bare hashing, alternating."""
    from broker.audit import verify_events

    built = time.perf_counter()
    events, checkpoints, blobs, verifier = _chain(count)
    build_s = time.perf_counter() - built
    verify_times: list[float] = []
    sha_times: list[float] = []
    sha256 = hashlib.sha256
    for _ in range(ROUNDS):
        started = time.perf_counter()
        result = verify_events(events, checkpoints, verifier)
        verify_times.append(time.perf_counter() - started)
        if not result.ok or result.checked != count:
            raise RuntimeError(f"a genuine chain failed to verify: {result.first_problem}")
        started = time.perf_counter()
        for blob in blobs:
            sha256(blob).hexdigest()
        sha_times.append(time.perf_counter() - started)
    verify_s = statistics.median(verify_times)
    sha_s = statistics.median(sha_times)
    return {
        "events": count,
        "checkpoints": len(checkpoints),
        "bytes_hashed": sum(len(b) for b in blobs),
        "build_s": round(build_s, 2),
        "verify_s": [round(t, 4) for t in verify_times],
        "sha256_s": [round(t, 4) for t in sha_times],
        "verify_events_per_s": count / verify_s,
        "sha256_events_per_s": count / sha_s,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


async def run(ctx: Context) -> list[Result]:
    """Run :func:`measure` in a child process and turn its answer into a result."""
    count = 20_000 if ctx.quick else 200_000
    ctx.say(f"audit: {count:,} events, verify_events vs sha256, median of {ROUNDS}")
    proc = await asyncio.create_subprocess_exec(
        PYTHON,
        "-m",
        "bench.scenarios.audit_verify",
        "--events",
        str(count),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=child_env({}),
        cwd=REPO_ROOT,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 300)
    if proc.returncode != 0:
        reason = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return [unavailable("audit", "events/s", TARGET, f"failed: {reason[0][:200]}")]
    figures: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    peak = figures.pop("peak_rss")
    return [
        Result(
            name="audit",
            unit="events/s",
            figure=figures["verify_events_per_s"],
            baseline=figures["sha256_events_per_s"],
            target=TARGET,
            peak_rss=peak,
            note=(
                f"{count:,} events, {figures['checkpoints']} signed checkpoints; "
                f"baseline: sha256 over the same {figures['bytes_hashed'] / count:.0f} B/event"
            ),
            details=figures,
        )
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Child-process entry point: print the figures as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.scenarios.audit_verify")
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.events)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
