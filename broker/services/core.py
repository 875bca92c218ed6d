"""What every service shares: database, key ring, settings, clock, ids, audit."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from broker import tlp
from broker.audit import Outcome
from broker.crypto import KeyRing, verify_signature
from broker.domain import Body, BodyKind, ItemFacts, Reader, Role
from broker.errors import BrokerError
from broker.settings import Settings
from broker.store import Database
from broker.store.audit_store import AuditDraft, append_events
from broker.store.bodies_repo import bodies_with_handlers
from broker.store.items_repo import audience_id_for

log = structlog.get_logger("broker.services")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock (tests inject their own)."""
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds, the form every API time takes."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Two base-32 digits per entry: a ULID's 130 bits (two of them zero) are 13 lookups.
_PAIRS = tuple(_CROCKFORD[i >> 5] + _CROCKFORD[i & 31] for i in range(1024))
_last_ulid = [0, 0]  # the previous id's millisecond and randomness
_ulid_lock = threading.Lock()


def new_id() -> str:
    """A new ULID: unique and sortable by creation time.

    What `str(ulid.ULID())` gives (48-bit millisecond time, 80 random bits from
    os.urandom, incremented instead within one millisecond so ids made in the
    same millisecond still sort in creation order), at half the cost: ingest
    makes one per item, audit event and obligation (PERFORMANCE.md).
    """
    ms = time.time_ns() // 1_000_000
    with _ulid_lock:
        last_ms, randomness = _last_ulid
        if ms == last_ms:
            randomness += 1
            if randomness >> 80:
                raise ValueError("Randomness within same millisecond exhausted")
        else:
            randomness = int.from_bytes(os.urandom(10), "big")
        _last_ulid[0], _last_ulid[1] = ms, randomness
    value = (ms << 80) | randomness
    pairs = _PAIRS
    return "".join([pairs[(value >> shift) & 1023] for shift in range(120, -1, -10)])


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
        self._audiences: dict[frozenset[str], str] = {}
        self._generation = 0  # bumped by forget_directory
        self._loading: tuple[int, asyncio.Future[dict[str, Body]]] | None = None
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
        if not stale and self._directory is not None:
            return self._directory
        # One reload at a time: concurrent submissions that find the cache stale
        # share it instead of each reading every body (PERFORMANCE.md: ingest is
        # bound by the event loop). A reload that a `forget_directory` overtook is
        # not shared: it may predate the change.
        loading = self._loading
        if loading is None or loading[0] != self._generation:
            task = asyncio.ensure_future(self._load_directory(now))
            loading = self._loading = (self._generation, task)
        return await asyncio.shield(loading[1])

    async def _load_directory(self, now: datetime) -> dict[str, Body]:
        generation = self._generation
        try:
            async with self.db.read() as conn:
                directory = await bodies_with_handlers(conn, now)
        finally:
            if self._loading is not None and self._loading[0] == generation:
                self._loading = None
        if generation == self._generation:
            ttl = self.settings.directory_ttl
            self._directory = directory
            self._directory_until = now + ttl
            self._directory_deadline = time.monotonic() + ttl.total_seconds()
            self._routes.clear()
        return directory

    def forget_directory(self) -> None:
        """A member, user or handler changed (here, or on another replica as the feed
        tells): route and authenticate with fresh facts from now on."""
        self._directory = None
        self._generation += 1
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

    def audience_id(self, recipients: frozenset[str]) -> str:
        """`audience_id_for(recipients)`, memoised like routes: routed recipient sets
        repeat, and hashing a hundred member ids per submission is not free."""
        audience_id = self._audiences.get(recipients)
        if audience_id is None:
            if len(self._audiences) > 4096:
                self._audiences.clear()
            audience_id = self._audiences[recipients] = audience_id_for(recipients)
        return audience_id

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
