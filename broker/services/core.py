"""What every service shares: database, key ring, settings, clock, ids, audit."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from ulid import ULID

from broker import tlp
from broker.audit import Outcome
from broker.crypto import KeyRing, verify_signature
from broker.domain import Body, BodyKind, ItemFacts, Reader, Role
from broker.errors import BrokerError
from broker.settings import Settings
from broker.store import Database
from broker.store.audit_store import AuditDraft, append_events
from broker.store.bodies_repo import bodies_with_handlers

log = structlog.get_logger("broker.services")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock (tests inject their own)."""
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds, the form every API time takes."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id() -> str:
    """A new ULID: unique and sortable by creation time."""
    return str(ULID())


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated caller: a user of a body, with its handler status now."""

    user_id: str
    user_name: str
    role: Role
    body: Body
    is_handler: bool

    @property
    def reader(self) -> Reader:
        """The policy's view of this caller."""
        return Reader(
            user_id=self.user_id, body=self.body, role=self.role, is_handler=self.is_handler
        )

    @property
    def member_id(self) -> str:
        """The caller's body id."""
        return self.body.id

    @property
    def is_coordinator(self) -> bool:
        """A user of the coordinator (art. 14(2))."""
        return self.body.kind is BodyKind.COORDINATOR

    @property
    def is_secretariat(self) -> bool:
        """A user of the secretariat (art. 14(3))."""
        return self.body.kind is BodyKind.SECRETARIAT

    @property
    def is_coordinator_admin(self) -> bool:
        """The coordinator's administrators run the system (SPEC §1)."""
        return self.is_coordinator and self.role is Role.MEMBER_ADMIN

    def admin_of(self, body_id: str) -> bool:
        """Whether this caller administers `body_id` (its own admin or the coordinator's)."""
        return self.is_coordinator_admin or (
            self.role is Role.MEMBER_ADMIN and self.body.id == body_id
        )


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
    """Shared resources of the services; built once by the app factory."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        ring: KeyRing,
        clock: Clock = utc_now,
        *,
        ring_file: Path | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.ring = ring
        self.clock = clock
        self._ring_file = ring_file
        self._directory: dict[str, Body] | None = None
        self._directory_until = datetime.min.replace(tzinfo=UTC)
        self._directory_deadline = 0.0
        self._routes: dict[ItemFacts, tlp.Routing] = {}
        self._actors: dict[str, tuple[Actor, datetime, float]] = {}

    async def directory(self) -> dict[str, Body]:
        """Every body with its handler status, cached for `directory_ttl`.

        Routing reads this on every submission. A cached entry may lag a
        membership or handler change by at most the TTL (changes made through
        this process clear it at once); that cannot leak, because every read,
        listing and push re-checks the reader's own body and handler status
        fresh (SPEC §3 rules 3 and 7 are enforced on the read side too).
        """
        now = self.clock()
        stale = (
            self._directory is None
            or now >= self._directory_until
            # The broker's clock may be a test's, standing still: real time counts too.
            or time.monotonic() >= self._directory_deadline
        )
        if stale or self._directory is None:
            async with self.db.read() as conn:
                self._directory = await bodies_with_handlers(conn, now)
            ttl = self.settings.directory_ttl
            self._directory_until = now + ttl
            self._directory_deadline = time.monotonic() + ttl.total_seconds()
            self._routes.clear()
        return self._directory

    def forget_directory(self) -> None:
        """A member, user or handler changed (here, or on another replica as the feed
        tells): route and authenticate with fresh facts from now on."""
        self._directory = None
        self._actors.clear()

    def cached_actor(self, token_hash: str) -> Actor | None:
        """The caller behind a token if looked up within `directory_ttl` and nothing
        about members, users or handlers changed since (see `forget_directory`)."""
        entry = self._actors.get(token_hash)
        if entry is None:
            return None
        actor, until, deadline = entry
        if self.clock() >= until or time.monotonic() >= deadline:
            del self._actors[token_hash]
            return None
        return actor

    def remember_actor(self, token_hash: str, actor: Actor) -> None:
        """Keep a looked-up caller for the next requests with the same token."""
        if len(self._actors) > 10_000:
            self._actors.clear()
        ttl = self.settings.directory_ttl
        self._actors[token_hash] = (
            actor,
            self.clock() + ttl,
            time.monotonic() + ttl.total_seconds(),
        )

    def route(self, facts: ItemFacts, bodies: dict[str, Body]) -> tlp.Routing:
        """`recipients_for` over the directory, memoised: audiences repeat (the same
        groups and exclusions), and the policy is pure, so equal facts route equally."""
        if bodies is not self._directory:
            return tlp.recipients_for(facts, bodies.values())  # not the cached directory
        key = dataclasses.replace(facts, id="", derived_from=())
        routing = self._routes.get(key)
        if routing is None:
            if len(self._routes) > 4096:
                self._routes.clear()
            routing = self._routes[key] = tlp.recipients_for(facts, bodies.values())
        return routing

    def ring_for(self, kek_version: int | None) -> KeyRing:
        """The key ring, reloaded if `kek_version` is newer than what is loaded.

        `council-broker keys rotate` runs beside serving brokers: the first
        data key they meet under the new version makes them pick it up.
        """
        if (
            kek_version is not None
            and kek_version not in self.ring.kek_versions
            and self._ring_file is not None
        ):
            self.ring = KeyRing.load(self._ring_file)
            log.info("key_ring_reloaded", kek_versions=list(self.ring.kek_versions))
        return self.ring

    def draft(
        self,
        actor: Actor | None,
        action: str,
        outcome: Outcome = "allowed",
        *,
        item_id: str | None = None,
        subject_member_id: str | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        item_refs: Sequence[str] = (),
        at: datetime | None = None,
    ) -> AuditDraft:
        """An audit event by `actor` (None: the system itself)."""
        return AuditDraft(
            id=new_id(),
            at=rfc3339(at or self.clock()),
            action=action,
            outcome=outcome,
            actor_user_id=actor.user_id if actor else None,
            actor_member_id=actor.member_id if actor else None,
            item_id=item_id,
            subject_member_id=subject_member_id,
            reason=reason,
            details=details or {},
            item_refs=item_refs,
        )

    async def audit(self, *drafts: AuditDraft) -> None:
        """Append events in a transaction of their own (denials, alarms)."""
        await self.db.grouped(lambda conn: append_events(conn, drafts))

    async def deny(self, error: BrokerError, *drafts: AuditDraft) -> BrokerError:
        """Audit a denial, then hand back the error to raise (SPEC §3 rule 10)."""
        await self.audit(*drafts)
        log.info(
            "access_denied",
            action=drafts[0].action if drafts else None,
            reason=drafts[0].reason if drafts else None,
        )
        return error
