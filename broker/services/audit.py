"""Querying, exporting and checkpointing the audit log (SPEC §5).

Only the secretariat and the coordinator query the whole log; providers see
their own items' access logs through `ItemService.access_log`. Every query
and export is itself audited.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import structlog

from broker.audit import AuditEvent, Checkpoint, make_checkpoint
from broker.crypto import KeyRing, verify_signature
from broker.domain import Actor, AuditAction
from broker.domain.audit import AuditFilter, AuditPage
from broker.domain.timestamps import rfc3339
from broker.errors import Forbidden
from broker.services.auditor import Auditor
from broker.services.clock import Clock
from broker.services.keyring import Keys
from broker.store.uow import Store

__all__ = ["AuditService", "RingSigner", "ring_verifier"]

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
