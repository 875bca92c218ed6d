"""Bearer-token authentication: token → user → body, with handler status now."""

from __future__ import annotations

from broker.crypto import hash_token
from broker.domain import MemberStatus, Role
from broker.errors import Unauthorized
from broker.services.core import Actor, Core
from broker.store.members_repo import body_from_row, user_by_token_hash

_BAD_TOKEN = "missing, malformed, unknown or revoked token"  # noqa: S105 - a message


async def authenticate(core: Core, authorization: str | None) -> Actor:
    """The caller named by an `Authorization: Bearer` header, or Unauthorized.

    Tokens are looked up by their SHA-256 only; the token itself is never
    stored or logged. A lookup is reused for up to `directory_ttl`, and not at
    all once a member, user or handler changed (`Core.forget_directory`, fed
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
    cached = core.cached_actor(token_hash)
    if cached is not None:
        return cached
    now = core.clock()
    async with core.db.read() as conn:
        row = await user_by_token_hash(conn, token_hash, now)
    if row is None or row.revoked_at is not None:
        raise Unauthorized(_BAD_TOKEN)
    body = body_from_row(row, has_handler=bool(row.has_handler))
    if body.status in (MemberStatus.EXPELLED, MemberStatus.WITHDRAWN):
        raise Unauthorized(_BAD_TOKEN)
    actor = Actor(
        user_id=row.user_id,
        user_name=row.user_name,
        role=Role(row.role),
        body=body,
        is_handler=bool(row.is_handler),
    )
    core.remember_actor(token_hash, actor)
    return actor
