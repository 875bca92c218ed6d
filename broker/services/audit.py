"""Querying, exporting and checkpointing the audit log (SPEC §5).

Only the secretariat and the coordinator query the whole log; providers see
their own items' access logs through `ItemService.access_log`. Every query
and export is itself audited.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator

import structlog

from broker.audit import AuditEvent, Checkpoint, VerifyResult, make_checkpoint, verify_events
from broker.crypto import KeyRing, verify_signature
from broker.domain import Actor, AuditAction
from broker.domain.audit import AuditFilter, AuditPage
from broker.domain.timestamps import rfc3339
from broker.errors import Forbidden
from broker.services.auditor import Auditor
from broker.services.clock import Clock
from broker.services.keyring import Keys
from broker.store.uow import Store

__all__ = ["AuditService", "Progress", "RingSigner", "ring_verifier", "verify_store"]

Progress = Callable[[int, int], None]
"""Told (events checked so far, events in the log) as a verification goes on."""

_DONE = object()
_BATCH = 2000

log = structlog.get_logger("broker.audit")


class RingSigner:
    """The key ring's current Ed25519 key as the audit chain's `Signer`."""

    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring

    @property
    def key_id(self) -> str:
        """The id of the signing key in use."""
        return self._ring.signing_key_id

    def sign(self, data: bytes) -> bytes:
        """Sign `data` with the current key."""
        return self._ring.sign(data)


def ring_verifier(ring: KeyRing) -> Callable[[str, bytes, bytes], bool]:
    """A checkpoint-signature check against the ring's public keys."""
    public = ring.public_keys()

    def verify(key_id: str, data: bytes, signature: bytes) -> bool:
        key = public.get(key_id)
        return key is not None and verify_signature(key, data, signature)

    return verify


async def verify_store(
    store: Store,
    verify: Callable[[str, bytes, bytes], bool],
    progress: Progress | None = None,
) -> VerifyResult:
    """Check the stored chain and its signed checkpoints (SPEC §5).

    Events stream from the database to the pure checker, which runs in a
    thread so a long log never stalls the event loop; `progress` hears how
    far the reading has come, batch by batch.
    """
    handoff: queue.Queue[object] = queue.Queue(maxsize=8)
    async with store.read() as uow:
        checkpoints = await uow.audit.checkpoints()
        total, _ = await uow.audit.head()

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

        read = 0
        batch: list[AuditEvent] = []
        async for event in uow.audit.stream(_BATCH):
            batch.append(event)
            if len(batch) >= _BATCH:
                if not await hand_over(batch):
                    break
                read += len(batch)
                batch = []
                if progress is not None:
                    progress(read, max(total, read))
        else:
            if await hand_over(batch):
                await hand_over(_DONE)
            read += len(batch)
        await asyncio.to_thread(worker.join)
    if progress is not None:
        progress(read, max(total, read))
    return result_box[0]


class AuditService:
    """The audit log as the secretariat and coordinator use it."""

    def __init__(
        self,
        *,
        store: Store,
        keys: Keys,
        clock: Clock,
        auditor: Auditor,
        checkpoint_every: int,
    ) -> None:
        self._store = store
        self._keys = keys
        self._clock = clock
        self._auditor = auditor
        # How many new events make a checkpoint worth signing when not forced.
        self._checkpoint_every = checkpoint_every

    async def _require_auditor(self, actor: Actor, action: AuditAction) -> None:
        if not (actor.is_secretariat or actor.is_coordinator):
            raise await self._auditor.deny(
                Forbidden(
                    "only the secretariat and the coordinator read the audit log",
                    fix="ask the secretariat; a provider sees its own items' access log "
                    "(GET /v1/items/{id}/access-log)",
                ),
                self._auditor.draft(actor, action, "denied", reason="not_auditor"),
            )

    async def query(
        self, actor: Actor, *, limit: int, after_seq: int | None, filters: AuditFilter
    ) -> AuditPage:
        """A filtered page of the log (docs/api.md `GET /v1/audit`)."""
        await self._require_auditor(actor, AuditAction.AUDIT_QUERY)
        async with self._store.read() as uow:
            page = await uow.audit.page(filters, after_seq=after_seq, limit=limit)
        await self._auditor.record(
            self._auditor.draft(actor, AuditAction.AUDIT_QUERY, details=filters.given())
        )
        return page

    async def export(self, actor: Actor) -> AsyncIterator[Checkpoint | AuditEvent]:
        """The whole log, checkpoints then events, streamed."""
        await self._require_auditor(actor, AuditAction.AUDIT_EXPORT)
        await self._auditor.record(self._auditor.draft(actor, AuditAction.AUDIT_EXPORT))
        return self._export_records()

    async def _export_records(self) -> AsyncIterator[Checkpoint | AuditEvent]:
        async with self._store.read() as uow:
            # Checkpoints first, read before the events: every one then covers
            # only events this export contains, and a verifier reading the
            # stream once knows what to check as it goes.
            for checkpoint in await uow.audit.checkpoints():
                yield checkpoint
            async for event in uow.audit.stream():
                yield event

    async def verify_chain(self, actor: Actor, progress: Progress | None = None) -> VerifyResult:
        """Check the live chain and its signed checkpoints against the key ring.

        What `council-broker audit verify` does on the data directory, for the
        secretariat and the coordinator at a page; the check itself is audited.
        """
        await self._require_auditor(actor, AuditAction.AUDIT_VERIFY)
        result = await verify_store(self._store, ring_verifier(self._keys.ring), progress)
        await self._auditor.record(
            self._auditor.draft(
                actor,
                AuditAction.AUDIT_VERIFY,
                "allowed" if result.ok else "error",
                details={"checked": result.checked, "ok": result.ok},
            )
        )
        return result

    def public_keys(self, actor: Actor) -> dict[str, bytes]:
        """The checkpoint-signing public keys by key id (docs/api.md `GET /v1/audit/keys`).

        Public by nature: any authenticated caller may fetch them to verify an
        export offline (`council-broker audit verify --public-key`), so there
        is no decision to make or audit; `actor` proves the caller signed in.
        """
        del actor
        return self._keys.ring.public_keys()

    def signing_key_id(self) -> str:
        """The id of the key that signs new checkpoints."""
        return self._keys.ring.signing_key_id

    async def latest_checkpoint(self, actor: Actor) -> Checkpoint | None:
        """The newest signed checkpoint (docs/api.md `GET /v1/audit/checkpoints/latest`)."""
        await self._require_auditor(actor, AuditAction.AUDIT_CHECKPOINT)
        async with self._store.read() as uow:
            return await uow.audit.latest_checkpoint()

    async def checkpoint(self, *, force: bool = False) -> Checkpoint | None:
        """Sign the current head if the log grew enough since the last checkpoint."""
        async with self._store.write() as uow:
            size, head = await uow.audit.head()
            last = await uow.audit.latest_checkpoint()
            last_size = last.size if last else 0
            if size == last_size or (not force and size - last_size < self._checkpoint_every):
                return None
            checkpoint = make_checkpoint(
                size, head, rfc3339(self._clock()), RingSigner(self._keys.ring)
            )
            await uow.audit.add_checkpoint(checkpoint)
        log.info("audit_checkpoint", size=checkpoint.size)
        return checkpoint
