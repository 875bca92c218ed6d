"""A transitional view over the services' explicit dependencies.

Services take a unit-of-work factory (`Store`), the clock, the key ring
(`Keys`), the directory and the audit appender (`Auditor`); `Core` bundles the
same objects for the services not yet built on them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from broker import tlp
from broker.audit import Outcome
from broker.crypto import KeyRing, verify_signature
from broker.domain import Actor, AuditAction, AuditDraft, Body, ItemFacts
from broker.domain.timestamps import rfc3339
from broker.errors import BrokerError
from broker.services.auditor import Auditor
from broker.services.clock import Clock, utc_now
from broker.services.directory import Directory
from broker.services.ids import new_id
from broker.services.keyring import Keys
from broker.settings import Settings
from broker.store import Database
from broker.store.uow import Store

__all__ = ["Actor", "Clock", "Core", "new_id", "rfc3339", "utc_now"]


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


class Core:
    """The shared dependencies, as one object (transitional)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        keys: Keys,
        clock: Clock,
        directory: Directory,
        auditor: Auditor,
    ) -> None:
        self.settings = settings
        self.store = store
        self.db: Database = store.db
        self.keys = keys
        self.clock = clock
        self.dir = directory
        self.auditor = auditor

    @classmethod
    def over(cls, settings: Settings, db: Database, ring: KeyRing, clock: Clock = utc_now) -> Core:
        """The dependencies over an open database (tools and tests outside the app)."""
        store = Store(db)
        return cls(
            settings,
            store,
            Keys(ring),
            clock,
            Directory(store, clock, settings.directory_ttl),
            Auditor(store, clock),
        )

    @property
    def ring(self) -> KeyRing:
        """The key ring in use."""
        return self.keys.ring

    def ring_for(self, kek_version: int | None) -> KeyRing:
        """See `Keys.ring_for`."""
        return self.keys.ring_for(kek_version)

    async def directory(self) -> dict[str, Body]:
        """See `Directory.bodies`."""
        return await self.dir.bodies()

    def forget_directory(self) -> None:
        """See `Directory.forget`."""
        self.dir.forget()

    def cached_actor(self, token_hash: str) -> Actor | None:
        """See `Directory.cached_actor`."""
        return self.dir.cached_actor(token_hash)

    def remember_actor(self, token_hash: str, actor: Actor) -> None:
        """See `Directory.remember_actor`."""
        self.dir.remember_actor(token_hash, actor)

    def route(self, facts: ItemFacts, bodies: dict[str, Body]) -> tlp.Routing:
        """See `Directory.route`."""
        return self.dir.route(facts, bodies)

    def audience_id(self, recipients: frozenset[str]) -> str:
        """See `Directory.audience_id`."""
        return self.dir.audience_id(recipients)

    def draft(
        self,
        actor: Actor | None,
        action: AuditAction | str,
        outcome: Outcome = "allowed",
        *,
        item_id: str | None = None,
        subject_member_id: str | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        item_refs: Sequence[str] = (),
        at: datetime | None = None,
    ) -> AuditDraft:
        """See `Auditor.draft`."""
        return self.auditor.draft(
            actor,
            AuditAction(action),
            outcome,
            item_id=item_id,
            subject_member_id=subject_member_id,
            reason=reason,
            details=details,
            item_refs=item_refs,
            at=at,
        )

    async def audit(self, *drafts: AuditDraft) -> None:
        """See `Auditor.record`."""
        await self.auditor.record(*drafts)

    async def deny(self, error: BrokerError, *drafts: AuditDraft) -> BrokerError:
        """See `Auditor.deny`."""
        return await self.auditor.deny(error, *drafts)
