"""Bearer-token authentication: token → user → body, with handler status now."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog

from broker.crypto import hash_token
from broker.domain import Actor, MemberStatus
from broker.errors import Unauthorized
from broker.services.clock import Clock
from broker.services.directory import Directory
from broker.store.uow import Store

__all__ = ["LAST_USED_EVERY", "Authenticator"]

log = structlog.get_logger("broker.services")

_BAD_TOKEN = "missing, malformed, unknown, revoked or expired token"  # noqa: S105 - a message

LAST_USED_EVERY = timedelta(minutes=1)
"""How often a token's `last_used_at` is written at most: signing in stays a read."""

# Tokens whose use was recorded in this process recently; bounded (a burst of
# new tokens forgets the oldest marks, which only costs one more write each).
_MARKS_LIMIT = 10_000


class Authenticator:
    """Signs callers in by their bearer token, through the directory's cache."""

    def __init__(self, *, store: Store, directory: Directory, clock: Clock) -> None:
        self._store = store
        self._directory = directory
        self._clock = clock
        # By token hash: when it expires, and when its use was last recorded
        # here; the cached path needs both without the database.
        self._expiry: dict[str, datetime | None] = {}
        self._marked: dict[str, datetime] = {}
        self._writes: set[asyncio.Task[None]] = set()

    async def authenticate(self, authorization: str | None) -> Actor:
        """The caller named by an `Authorization: Bearer` header, or Unauthorized.

        Tokens are looked up by their SHA-256 only; the token itself is never
        stored or logged. A lookup is reused for up to `directory_ttl`, and not at
        all once a member, user or handler changed (`Directory.forget`, fed
        by every replica's feed poller). Users of expelled or withdrawn bodies cannot sign in
        (charter art. 7, 8(1)); restricted ones can, and the policy gives them
        nothing (art. 8(2)).
        """
        if not authorization or not authorization.startswith("Bearer "):
            raise Unauthorized(_BAD_TOKEN)
        token = authorization.removeprefix("Bearer ").strip()
        if not token or len(token) > 200:
            raise Unauthorized(_BAD_TOKEN)
        token_hash = hash_token(token)
        now = self._clock()
        cached = self._directory.cached_actor(token_hash)
        if cached is not None and token_hash in self._expiry:
            # A cached sign-in still ends exactly when its token expires.
            if _expired(self._expiry[token_hash], now):
                raise Unauthorized(_BAD_TOKEN)
            self._note_use(token_hash, now)
            return cached
        async with self._store.read() as uow:
            holder = await uow.members.token_holder(token_hash, now)
        if holder is None or holder.revoked or _expired(holder.expires_at, now):
            raise Unauthorized(_BAD_TOKEN)
        if holder.actor.body.status in (MemberStatus.EXPELLED, MemberStatus.WITHDRAWN):
            raise Unauthorized(_BAD_TOKEN)
        if len(self._expiry) > _MARKS_LIMIT:
            self._expiry.clear()
        self._expiry[token_hash] = holder.expires_at
        self._directory.remember_actor(token_hash, holder.actor)
        if holder.last_used_at is not None:
            self._marked.setdefault(token_hash, _utc(holder.last_used_at))
        self._note_use(token_hash, now)
        return holder.actor

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

    async def _mark_used(self, token_hash: str, now: datetime) -> None:
        try:
            # Group commit: shares a transaction with whatever else is writing.
            await self._store.grouped(
                lambda uow: uow.members.mark_used(token_hash, now, LAST_USED_EVERY)
            )
        except Exception:  # bookkeeping must never fail a request
            # Tried again in a minute, not on the next request: a database that
            # is down is not hammered (and the log not flooded) for this.
            log.warning("last_used_not_recorded")


def _expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and _utc(expires_at) <= now


def _utc(moment: datetime) -> datetime:
    # Stored times are UTC; SQLite hands them back without a zone.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
