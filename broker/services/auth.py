"""Bearer-token authentication: token → user → body, with handler status now.

Signing in is also where its limits apply (`Throttle`): failed attempts are
counted per source address and per claimed user, and past the threshold an
attempt is answered 429 before the token is even looked up. With mutual TLS
(`client_ca` set) the verified client certificate must name the token's user
(README, "TLS").
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog

from broker.crypto import hash_token
from broker.domain import Actor, AuditAction, MemberStatus
from broker.errors import Unauthorized
from broker.services.auditor import Auditor
from broker.services.clock import Clock
from broker.services.directory import Directory
from broker.services.throttle import Claim, Throttle
from broker.store.uow import Store

__all__ = ["LAST_USED_EVERY", "Authenticator"]

log = structlog.get_logger("broker.services")

_BAD_TOKEN = "missing, malformed, unknown, revoked or expired token"  # noqa: S105 - a message

LAST_USED_EVERY = timedelta(minutes=1)
"""How often a token's `last_used_at` is written at most: signing in stays a read."""

# Tokens whose use was recorded in this process recently; bounded (a burst of
# new tokens forgets the oldest marks, which only costs one more write each).
_MARKS_LIMIT = 10_000

_CLOSE_SECONDS = 5.0
"""How long a last-use write may take, and how long closing waits for the pending ones."""

_NO_CERTIFICATE = (
    "this broker requires a client certificate that names your user: "
    "ask the operator for one (council-broker tls client --user ID)"
)
_OTHER_CERTIFICATE = "the client certificate names another user than the token"


class _Refused(Exception):
    """A token that does not sign in; `claimed_user` when the broker knows whose it is."""

    def __init__(self, claimed_user: str | None = None) -> None:
        super().__init__(_BAD_TOKEN)
        self.claimed_user = claimed_user


class Authenticator:
    """Signs callers in by their bearer token, through the directory's cache."""

    def __init__(
        self,
        *,
        store: Store,
        directory: Directory,
        clock: Clock,
        throttle: Throttle,
        auditor: Auditor,
        require_certificate: bool = False,
    ) -> None:
        self._store = store
        self._directory = directory
        self._clock = clock
        self._throttle = throttle
        self._auditor = auditor
        self._require_certificate = require_certificate
        # By token hash: when it expires, and when its use was last recorded
        # here; the cached path needs both without the database.
        self._expiry: dict[str, datetime | None] = {}
        self._marked: dict[str, datetime] = {}
        self._writes: set[asyncio.Task[None]] = set()

    async def authenticate(
        self,
        authorization: str | None,
        *,
        address: str = "unknown",
        certificate_user: str | None = None,
    ) -> Actor:
        """The caller named by an `Authorization: Bearer` header, or Unauthorized.

        Tokens are looked up by their SHA-256 only; the token itself is never
        stored or logged. A lookup is reused for up to `directory_ttl`, and not at
        all once a member, user or handler changed (`Directory.forget`, fed
        by every replica's feed poller). Users of expelled or withdrawn bodies cannot sign in
        (charter art. 7, 8(1)); restricted ones can, and the policy gives them
        nothing (art. 8(2)).

        `address` is the request's source (throttling key); `certificate_user`
        the user a verified client certificate names, the claim a failure is
        also counted against. RateLimited (429) when either has failed too often,
        or when the token's user is over its request rate.
        """
        return await self.authenticate_hash(
            _token_hash(authorization), address=address, certificate_user=certificate_user
        )

    async def authenticate_hash(
        self,
        token_hash: str | None,
        *,
        address: str = "unknown",
        certificate_user: str | None = None,
    ) -> Actor:
        """The caller whose token hashes to `token_hash` (None: no usable token), or
        Unauthorized, with the same throttles and certificate check as `authenticate`.

        The portal's server-side session keeps only this hash, never the token,
        and signs the caller in again with it on every page: a revoked or
        expired token or a departed member ends the session's access at once,
        like the API's.
        """
        by_certificate = (
            None if certificate_user is None else Claim(certificate_user, "certificate")
        )
        await self._throttle.check_sign_in(address, by_certificate)
        try:
            if token_hash is None:
                raise _Refused()
            caller = await self._lookup(token_hash)
        except _Refused as refused:
            claim = by_certificate
            if refused.claimed_user is not None:
                # A known token refused (revoked, its body gone): its user is the claim.
                claim = Claim(refused.claimed_user, "token")
                await self._throttle.check_sign_in(address, claim)
            self._throttle.sign_in_failed(address, claim)
            raise Unauthorized(_BAD_TOKEN) from None
        if self._require_certificate and certificate_user != caller.user_id:
            await self._certificate_refused(caller, address, by_certificate)
        await self._throttle.request(caller, address)
        return caller

    async def _lookup(self, token_hash: str) -> Actor:
        now = self._clock()
        cached = self._directory.cached_actor(token_hash)
        if cached is not None and token_hash in self._expiry:
            # A cached sign-in still ends exactly when its token expires.
            if _expired(self._expiry[token_hash], now):
                raise _Refused(cached.user_id)
            self._note_use(token_hash, now)
            return cached
        async with self._store.read() as uow:
            holder = await uow.members.token_holder(token_hash, now)
        if holder is None:
            raise _Refused()
        if (
            holder.revoked
            or _expired(holder.expires_at, now)
            or holder.actor.body.status in (MemberStatus.EXPELLED, MemberStatus.WITHDRAWN)
        ):
            raise _Refused(holder.actor.user_id)
        if len(self._expiry) > _MARKS_LIMIT:
            self._expiry.clear()
        self._expiry[token_hash] = holder.expires_at
        self._directory.remember_actor(token_hash, holder.actor)
        if holder.last_used_at is not None:
            self._marked.setdefault(token_hash, _utc(holder.last_used_at))
        self._note_use(token_hash, now)
        return holder.actor

    async def _certificate_refused(
        self, caller: Actor, address: str, by_certificate: Claim | None
    ) -> None:
        """A valid token without its user's certificate: a failed sign-in, audited.

        Counted against the address and the certificate's user, if any, never
        against the token's user: whoever stole a token, without its user's key,
        must not be able to lock that user out.
        """
        self._throttle.sign_in_failed(address, by_certificate)
        certificate_user = None if by_certificate is None else by_certificate.user_id
        reason = "no_certificate" if certificate_user is None else "other_user"
        await self._auditor.record(
            self._auditor.draft(
                caller,
                AuditAction.AUTH_CERTIFICATE,
                "denied",
                reason=reason,
                details={"certificate_user": certificate_user, "address": address},
            )
        )
        raise Unauthorized(_NO_CERTIFICATE if certificate_user is None else _OTHER_CERTIFICATE)

    def _note_use(self, token_hash: str, now: datetime) -> None:
        """Record the token's use, at most once a minute, off the request's path."""
        last = self._marked.get(token_hash)
        if last is not None and timedelta(0) <= now - last < LAST_USED_EVERY:
            return
        if len(self._marked) > _MARKS_LIMIT:
            self._marked.clear()
        self._marked[token_hash] = now
        task = asyncio.create_task(self._mark_used(token_hash, now))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def close(self) -> None:
        """Stop recording uses: cancel the writes still pending, before the store closes
        (a write left waiting on a closed database would hold the shutdown)."""
        for task in list(self._writes):
            task.cancel()
        if self._writes:
            await asyncio.wait(set(self._writes), timeout=_CLOSE_SECONDS)

    async def _mark_used(self, token_hash: str, now: datetime) -> None:
        try:
            # Group commit: shares a transaction with whatever else is writing;
            # bounded, so bookkeeping can never hold anything for long.
            async with asyncio.timeout(_CLOSE_SECONDS):
                await self._store.grouped(
                    lambda uow: uow.members.mark_used(token_hash, now, LAST_USED_EVERY)
                )
        except Exception:  # bookkeeping must never fail a request
            # Tried again in a minute, not on the next request: a database that
            # is down is not hammered (and the log not flooded) for this.
            log.warning("last_used_not_recorded")


def _token_hash(authorization: str | None) -> str | None:
    """The hash of a well-formed `Bearer` token, or None (never the token itself)."""
    if not authorization or not authorization.startswith("Bearer "):
        return None
    token = authorization.removeprefix("Bearer ").strip()
    if not token or len(token) > 200:
        return None
    return hash_token(token)


def _expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and _utc(expires_at) <= now


def _utc(moment: datetime) -> datetime:
    # Stored times are UTC; SQLite hands them back without a zone.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
