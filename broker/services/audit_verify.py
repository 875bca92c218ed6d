"""`council-broker audit verify`: check the live chain or an export, offline.

Signatures are checked against the public keys of the key ring in the data
directory (never against keys carried in the export, which a forger controls).
Exit status 0 means the chain and every checkpoint verified; 1 names the first
problem; 2 means the input could not be read.
"""

from __future__ import annotations

import asyncio
import json
import queue
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from broker.audit import AuditEvent, Checkpoint, VerifyResult, from_json_line, verify_events
from broker.crypto import KeyRing
from broker.services.audit import ring_verifier
from broker.settings import Settings
from broker.store import Database
from broker.store.uow import Store

__all__ = ["verify_database", "verify_export"]

_DONE = object()


def _ring(settings: Settings) -> KeyRing:
    if settings.key_ring is not None:
        return KeyRing.from_env(settings.key_ring.get_secret_value())
    return KeyRing.load(settings.key_ring_path)


def _report(result: VerifyResult, source: str) -> int:
    # Plain lines, never wrapped: operators grep this and scripts parse it.
    console = Console(stderr=False, highlight=False, soft_wrap=True)
    if result.ok:
        console.print(
            f"ok: {result.checked} events and {result.checkpoints_checked} signed checkpoints "
            f"verified in {source}; head {result.head}"
        )
        return 0
    problem = result.first_problem
    assert problem is not None
    console.print(
        f"TAMPERED: {problem.kind} at seq {problem.seq} (event {problem.event_id}): "
        f"{problem.message}"
    )
    return 1


def verify_export(settings: Settings, path: Path) -> int:
    """Verify a JSON Lines export file."""
    verify = ring_verifier(_ring(settings))
    events: list[AuditEvent] = []
    checkpoints: list[Checkpoint] = []
    try:
        with path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = from_json_line(line)
                except (ValueError, json.JSONDecodeError) as exc:
                    print(
                        f"error: line {number} of {path} is not an audit record: {exc}",
                        file=sys.stderr,
                    )
                    return 2
                if isinstance(record, AuditEvent):
                    events.append(record)
                else:
                    checkpoints.append(record)
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    return _report(verify_events(events, checkpoints, verify), str(path))


async def verify_database(settings: Settings) -> int:
    """Verify the live database, streaming events to the checker in a thread."""
    verify = ring_verifier(_ring(settings))
    store = Store(Database(settings.resolved_database_url))
    handoff: queue.Queue[object] = queue.Queue(maxsize=8)
    try:
        async with store.read() as uow:
            checkpoints = await uow.audit.checkpoints()

            def events() -> Iterator[AuditEvent]:
                while (batch := handoff.get()) is not _DONE:
                    yield from batch  # type: ignore[misc]

            result_box: list[VerifyResult] = []
            worker = threading.Thread(
                target=lambda: result_box.append(verify_events(events(), checkpoints, verify))
            )
            worker.start()

            async def hand_over(item: object) -> bool:
                # The checker stops at the first problem: never block on a dead reader.
                while worker.is_alive():
                    try:
                        await asyncio.to_thread(handoff.put, item, True, 0.5)
                        return True
                    except queue.Full:
                        continue
                return False

            batch: list[AuditEvent] = []
            async for event in uow.audit.stream():
                batch.append(event)
                if len(batch) >= 2000:
                    if not await hand_over(batch):
                        break
                    batch = []
            else:
                if await hand_over(batch):
                    await hand_over(_DONE)
            await asyncio.to_thread(worker.join)
    finally:
        await store.dispose()
    return _report(result_box[0], "the database")
