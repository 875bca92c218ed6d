"""Members (bodies), users and registered handlers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from broker.domain import Body, BodyKind, Category, MemberStatus, Tier
from broker.store.tables import bodies, handlers, users

BODY_FLAGS = (
    "regulator",
    "law_enforcement",
    "foreign",
    "mutual_aid",
    "listed",
    "refuses_secrets",
    "early_warning",
)


def body_from_row(row: Row[Any] | Mapping[str, Any], *, has_handler: bool) -> Body:
    """The policy's view of a stored body."""
    m = row._mapping if isinstance(row, Row) else row
    return Body(
        id=m["id"],
        kind=BodyKind(m["kind"]),
        category=Category(m["category"]),
        tier=Tier(m["tier"]),
        status=MemberStatus(m["status"]),
        has_handler=has_handler,
        **{flag: bool(m[flag]) for flag in BODY_FLAGS},
    )


def _handler_in_effect(now: datetime) -> Any:
    return and_(
        handlers.c.effective_from <= now,
        or_(handlers.c.effective_until.is_(None), handlers.c.effective_until > now),
    )


async def bodies_with_handlers(
    conn: AsyncConnection, now: datetime, ids: Sequence[str] | None = None
) -> dict[str, Body]:
    """Every body (or those in `ids`) with whether a handler is in effect now."""
    with_handler = set(
        (
            await conn.execute(
                select(handlers.c.member_id).where(_handler_in_effect(now)).distinct()
            )
        ).scalars()
    )
    query = select(bodies)
    if ids is not None:
        query = query.where(bodies.c.id.in_(list(ids)))
    rows = (await conn.execute(query)).all()
    return {r.id: body_from_row(r, has_handler=r.id in with_handler) for r in rows}


async def body_row(conn: AsyncConnection, body_id: str) -> Row[Any] | None:
    """One stored body, or None."""
    return (await conn.execute(select(bodies).where(bodies.c.id == body_id))).one_or_none()


async def handler_user_ids(conn: AsyncConnection, member_id: str, now: datetime) -> set[str]:
    """The users of `member_id` that are registered handlers in effect now (art. 6(6))."""
    query = select(handlers.c.user_id).where(
        handlers.c.member_id == member_id, _handler_in_effect(now)
    )
    return set((await conn.execute(query)).scalars())


async def user_by_token_hash(
    conn: AsyncConnection, token_hash: str, now: datetime
) -> Row[Any] | None:
    """The user a token belongs to, with its body's columns and, as of `now`,
    whether the user is a registered handler and whether its body has any
    (`is_handler`, `has_handler`): one round trip per request."""
    in_effect = _handler_in_effect(now)
    user_is_handler = (
        select(handlers.c.id)
        .where(
            handlers.c.user_id == users.c.id, handlers.c.member_id == users.c.member_id, in_effect
        )
        .exists()
    )
    body_has_handler = (
        select(handlers.c.id).where(handlers.c.member_id == bodies.c.id, in_effect).exists()
    )
    query = (
        select(
            users.c.id.label("user_id"),
            users.c.name.label("user_name"),
            users.c.role,
            users.c.revoked_at,
            user_is_handler.label("is_handler"),
            body_has_handler.label("has_handler"),
            bodies,
        )
        .join(bodies, bodies.c.id == users.c.member_id)
        .where(users.c.token_hash == token_hash)
    )
    return (await conn.execute(query)).one_or_none()


class MemberRepository:
    """Bodies, their users and registered handlers, on one unit of work's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def names(self, member_ids: Sequence[str]) -> dict[str, str]:
        """The names of the bodies in `member_ids`, by id."""
        if not member_ids:
            return {}
        query = select(bodies.c.id, bodies.c.name).where(bodies.c.id.in_(list(member_ids)))
        return {r.id: r.name for r in (await self._conn.execute(query)).all()}

    async def bodies_with_handlers(
        self, now: datetime, ids: Sequence[str] | None = None
    ) -> dict[str, Body]:
        """Every body (or those in `ids`) with whether a handler is in effect at `now`."""
        return await bodies_with_handlers(self._conn, now, ids)
