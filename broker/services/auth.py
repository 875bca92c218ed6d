"""Bearer-token authentication: token → user → body, with handler status now."""

from __future__ import annotations

from broker.crypto import hash_token
from broker.domain import Actor, MemberStatus
from broker.errors import Unauthorized
from broker.services.clock import Clock
from broker.services.directory import Directory
from broker.store.uow import Store

__all__ = ["Authenticator"]

_BAD_TOKEN = "missing, malformed, unknown or revoked token"  # noqa: S105 - a message


class Authenticator:
    """Signs callers in by their bearer token, through the directory's cache."""

    def __init__(self, *, store: Store, directory: Directory, clock: Clock) -> None:
        self._store = store
        self._directory = directory
        self._clock = clock

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
        return await self.authenticate_hash(hash_token(token))

    async def authenticate_hash(self, token_hash: str) -> Actor:
        """The caller whose token hashes to `token_hash`, or Unauthorized.

        The portal's server-side session keeps only this hash, never the token,
        and signs the caller in again with it on every page: a revoked token or
        a departed member ends the session's access at once, like the API's.
        """
        cached = self._directory.cached_actor(token_hash)
        if cached is not None:
            return cached
        now = self._clock()
        async with self._store.read() as uow:
            holder = await uow.members.token_holder(token_hash, now)
        if holder is None or holder.revoked:
            raise Unauthorized(_BAD_TOKEN)
        if holder.actor.body.status in (MemberStatus.EXPELLED, MemberStatus.WITHDRAWN):
            raise Unauthorized(_BAD_TOKEN)
        self._directory.remember_actor(token_hash, holder.actor)
        return holder.actor
