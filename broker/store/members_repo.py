"""Members (bodies), users and registered handlers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, inspect, or_, select, update
from sqlalchemy.engine import Row, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from broker.domain import Actor, Body, BodyKind, Category, MemberStatus, Role, Tier
from broker.domain.members import (
    BODY_FLAGS,
    HandlerRegistration,
    Member,
    RosterEntry,
    TokenHolder,
    User,
)
from broker.store.tables import bodies, handlers, users

__all__ = ["MemberRepository", "bodies_with_handlers"]


def _body(m: RowMapping, *, has_handler: bool) -> Body:
    """The policy's view of a stored body."""
    return Body(
        id=m["id"],
        kind=BodyKind(m["kind"]),
        category=Category(m["category"]),
        tier=Tier(m["tier"]),
        status=MemberStatus(m["status"]),
        has_handler=has_handler,
        **{flag: bool(m[flag]) for flag in BODY_FLAGS},
    )


def _member(row: Row[Any]) -> Member:
    m = row._mapping
    return Member(
        id=m["id"],
        name=m["name"],
        kind=BodyKind(m["kind"]),
        category=Category(m["category"]),
        tier=Tier(m["tier"]),
        status=MemberStatus(m["status"]),
        **{flag: bool(m[flag]) for flag in BODY_FLAGS},
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _member_values(member: Member) -> dict[str, Any]:
    return {
        "id": member.id,
        "name": member.name,
        "kind": member.kind.value,
        "category": member.category.value,
        "tier": member.tier.value,
        "status": member.status.value,
        **{flag: getattr(member, flag) for flag in BODY_FLAGS},
        "created_at": member.created_at,
        "updated_at": member.updated_at,
    }


def _utc_or_none(moment: datetime | None) -> datetime | None:
    # Stored times are UTC; SQLite hands them back without a zone.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _user(row: Row[Any]) -> User:
    return User(
        id=row.id,
        member_id=row.member_id,
        name=row.name,
        role=Role(row.role),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        chair=bool(row.chair),
        expires_at=_utc_or_none(row.expires_at),
        last_used_at=_utc_or_none(row.last_used_at),
    )


def _handler(row: Row[Any]) -> HandlerRegistration:
    return HandlerRegistration(
        id=row.id,
        member_id=row.member_id,
        user_id=row.user_id,
        effective_from=row.effective_from,
        effective_until=row.effective_until,
        created_at=row.created_at,
    )


def _handler_in_effect(now: datetime) -> Any:
    return and_(
        handlers.c.effective_from <= now,
        or_(handlers.c.effective_until.is_(None), handlers.c.effective_until > now),
    )


def _not_ended(now: datetime) -> Any:
    # Current or still to come: a registration in advance (art. 6(8)) counts.
    return or_(handlers.c.effective_until.is_(None), handlers.c.effective_until > now)


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
    return {r.id: _body(r._mapping, has_handler=r.id in with_handler) for r in rows}


class MemberRepository:
    """Bodies, their users and registered handlers, on one unit of work's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    # Bodies.

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

    async def get(self, member_id: str) -> Member | None:
        """One stored body, or None."""
        row = (
            await self._conn.execute(select(bodies).where(bodies.c.id == member_id))
        ).one_or_none()
        return None if row is None else _member(row)

    async def listing(self, only: str | None = None) -> list[Member]:
        """Every body (or only the one with id `only`), oldest first."""
        query = select(bodies).order_by(bodies.c.created_at, bodies.c.id)
        if only is not None:
            query = query.where(bodies.c.id == only)
        return [_member(r) for r in (await self._conn.execute(query)).all()]

    async def add(self, *members: Member) -> None:
        """Store new bodies (one statement)."""
        await self._conn.execute(insert(bodies), [_member_values(m) for m in members])

    async def change(self, member_id: str, changes: Mapping[str, Any], now: datetime) -> None:
        """Set some attributes of a body (by column name, as plain values) as of `now`."""
        await self._conn.execute(
            update(bodies).where(bodies.c.id == member_id).values(**changes, updated_at=now)
        )

    async def roster(self) -> list[RosterEntry]:
        """The active members that agreed to be listed, by name (art. 25)."""
        query = (
            select(bodies.c.id, bodies.c.name, bodies.c.category)
            .where(
                bodies.c.kind == BodyKind.MEMBER.value,
                bodies.c.status == MemberStatus.ACTIVE.value,
                bodies.c.listed.is_(True),
            )
            .order_by(bodies.c.name)
        )
        rows = (await self._conn.execute(query)).all()
        return [RosterEntry(id=r.id, name=r.name, category=Category(r.category)) for r in rows]

    async def has_coordinator(self) -> bool:
        """Whether the coordinator exists: False too before there is a schema (first start)."""
        has_table = await self._conn.run_sync(lambda c: inspect(c).has_table(bodies.name))
        if not has_table:
            return False
        query = select(bodies.c.id).where(bodies.c.kind == BodyKind.COORDINATOR.value)
        return (await self._conn.execute(query)).first() is not None

    # Users.

    async def add_user(self, user: User, token_hash: str) -> None:
        """Store a new user with the SHA-256 of its token (never the token)."""
        await self._conn.execute(
            insert(users).values(
                id=user.id,
                member_id=user.member_id,
                name=user.name,
                role=user.role.value,
                token_hash=token_hash,
                created_at=user.created_at,
                chair=user.chair,
                expires_at=user.expires_at,
            )
        )

    async def chair_of(self, member_id: str) -> User | None:
        """The unrevoked chair among the body's users (art. 11(5)), if any."""
        query = select(users).where(
            users.c.member_id == member_id, users.c.chair.is_(True), users.c.revoked_at.is_(None)
        )
        row = (await self._conn.execute(query)).first()
        return None if row is None else _user(row)

    async def user(self, user_id: str, member_id: str | None = None) -> User | None:
        """One user (of `member_id`, if given), or None."""
        query = select(users).where(users.c.id == user_id)
        if member_id is not None:
            query = query.where(users.c.member_id == member_id)
        row = (await self._conn.execute(query)).one_or_none()
        return None if row is None else _user(row)

    async def users_of(self, member_id: str) -> list[User]:
        """The users of a body, by id."""
        query = select(users).where(users.c.member_id == member_id).order_by(users.c.id)
        return [_user(r) for r in (await self._conn.execute(query)).all()]

    async def committee_seats(self, secretariat_id: str) -> list[User]:
        """The steering committee's seats: unrevoked `committee` users of the
        secretariat (SPEC §6), by id."""
        query = (
            select(users)
            .where(
                users.c.member_id == secretariat_id,
                users.c.role == Role.COMMITTEE.value,
                users.c.revoked_at.is_(None),
            )
            .order_by(users.c.id)
        )
        return [_user(r) for r in (await self._conn.execute(query)).all()]

    async def body_of_kind(self, kind: BodyKind) -> Member | None:
        """The one body of `kind` (the coordinator or the secretariat), or None."""
        query = select(bodies).where(bodies.c.kind == kind.value).limit(1)
        row = (await self._conn.execute(query)).first()
        return None if row is None else _member(row)

    async def active_member_ids(self) -> list[str]:
        """The ids of the active members (not the coordinator or the secretariat)."""
        query = (
            select(bodies.c.id)
            .where(
                bodies.c.kind == BodyKind.MEMBER.value,
                bodies.c.status == MemberStatus.ACTIVE.value,
            )
            .order_by(bodies.c.id)
        )
        return list((await self._conn.execute(query)).scalars())

    async def revoke_user(self, user_id: str, now: datetime) -> None:
        """Revoke a user's token as of `now`."""
        await self._conn.execute(update(users).where(users.c.id == user_id).values(revoked_at=now))

    async def replace_token(
        self, user_id: str, token_hash: str, expires_at: datetime | None
    ) -> None:
        """Give a user a new token (by its hash): the old one no longer matches anything."""
        await self._conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(token_hash=token_hash, expires_at=expires_at)
        )

    async def mark_used(self, token_hash: str, now: datetime, every: timedelta) -> None:
        """Record that a token signed in at `now`, unless it was recorded less than
        `every` ago (replicas that each saw the token first write it once)."""
        await self._conn.execute(
            update(users)
            .where(
                users.c.token_hash == token_hash,
                or_(users.c.last_used_at.is_(None), users.c.last_used_at <= now - every),
            )
            .values(last_used_at=now)
        )

    async def token_holder(self, token_hash: str, now: datetime) -> TokenHolder | None:
        """The user a token belongs to, with its body and, as of `now`, whether the
        user is a registered handler and whether its body has any: one round trip
        per request."""
        in_effect = _handler_in_effect(now)
        user_is_handler = (
            select(handlers.c.id)
            .where(
                handlers.c.user_id == users.c.id,
                handlers.c.member_id == users.c.member_id,
                in_effect,
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
                users.c.chair,
                users.c.revoked_at,
                users.c.expires_at,
                users.c.last_used_at,
                user_is_handler.label("is_handler"),
                body_has_handler.label("has_handler"),
                bodies,
            )
            .join(bodies, bodies.c.id == users.c.member_id)
            .where(users.c.token_hash == token_hash)
        )
        row = (await self._conn.execute(query)).one_or_none()
        if row is None:
            return None
        actor = Actor(
            user_id=row.user_id,
            user_name=row.user_name,
            role=Role(row.role),
            body=_body(row._mapping, has_handler=bool(row.has_handler)),
            is_handler=bool(row.is_handler),
            chair=bool(row.chair),
        )
        return TokenHolder(
            actor=actor,
            revoked=row.revoked_at is not None,
            expires_at=_utc_or_none(row.expires_at),
            last_used_at=_utc_or_none(row.last_used_at),
        )

    # Handlers.

    async def add_handler(self, registration: HandlerRegistration) -> None:
        """Store a new handler registration."""
        await self._conn.execute(
            insert(handlers).values(
                id=registration.id,
                member_id=registration.member_id,
                user_id=registration.user_id,
                effective_from=registration.effective_from,
                effective_until=registration.effective_until,
                created_at=registration.created_at,
            )
        )

    async def handler(self, handler_id: str) -> HandlerRegistration | None:
        """One handler registration, or None."""
        row = (
            await self._conn.execute(select(handlers).where(handlers.c.id == handler_id))
        ).one_or_none()
        return None if row is None else _handler(row)

    async def unended_handler(
        self, member_id: str, user_id: str, now: datetime
    ) -> HandlerRegistration | None:
        """The user's registration as a handler of `member_id` that has not ended by
        `now` (in effect, or taking effect later), or None."""
        query = select(handlers).where(
            handlers.c.member_id == member_id, handlers.c.user_id == user_id, _not_ended(now)
        )
        row = (await self._conn.execute(query)).first()
        return None if row is None else _handler(row)

    async def end_handler(self, handler_id: str, end: datetime) -> None:
        """End a handler registration at `end`."""
        await self._conn.execute(
            update(handlers).where(handlers.c.id == handler_id).values(effective_until=end)
        )

    async def handlers_of(self, member_id: str) -> list[HandlerRegistration]:
        """Every handler registration of a body, past and future, by start."""
        query = (
            select(handlers)
            .where(handlers.c.member_id == member_id)
            .order_by(handlers.c.effective_from, handlers.c.id)
        )
        return [_handler(r) for r in (await self._conn.execute(query)).all()]
