"""In memory: bodies, users and handlers."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from broker.domain import Actor, Body, BodyKind, Category, MemberStatus, Tier
from broker.domain.members import (
    BODY_FLAGS,
    HandlerRegistration,
    Member,
    RosterEntry,
    TokenHolder,
    User,
)


class FakeMemberRepository:
    """In memory: bodies, users and handlers, as `MemberRepository` keeps them."""

    def __init__(self) -> None:
        # Bodies as the policy sees them; `has_handler` is kept as given.
        self.bodies: dict[str, Body] = {}
        # Bodies as stored by `add`: the policy's view is derived from them.
        self.members: dict[str, Member] = {}
        self.users: dict[str, User] = {}
        self.token_hashes: dict[str, str] = {}  # user id -> SHA-256 of its token
        self.handlers: dict[str, HandlerRegistration] = {}

    # Bodies.

    async def names(self, member_ids: Sequence[str]) -> dict[str, str]:
        """The names of the stored bodies in `member_ids`, by id."""
        return {i: self.members[i].name for i in member_ids if i in self.members}

    async def bodies_with_handlers(
        self, now: datetime, ids: Sequence[str] | None = None
    ) -> dict[str, Body]:
        """Every body (or those in `ids`): the given ones as given, the stored ones
        with whether a handler is in effect at `now`."""
        found = {i: self._body(m, now) for i, m in self.members.items()}
        found.update(self.bodies)
        return {i: b for i, b in found.items() if ids is None or i in ids}

    async def get(self, member_id: str) -> Member | None:
        """One stored body, or None."""
        return self.members.get(member_id)

    async def listing(self, only: str | None = None) -> list[Member]:
        """Every stored body (or only `only`), oldest first."""
        ordered = sorted(self.members.values(), key=lambda m: (m.created_at, m.id))
        return [m for m in ordered if only is None or m.id == only]

    async def add(self, *members: Member) -> None:
        """Store new bodies."""
        for member in members:
            assert member.id not in self.members, "primary key"
            self.members[member.id] = member

    async def change(self, member_id: str, changes: Mapping[str, Any], now: datetime) -> None:
        """Set some attributes of a body (plain values, as the API sent them)."""
        member = self.members.get(member_id)
        if member is None:
            return
        typed = {name: _typed(name, value) for name, value in changes.items()}
        self.members[member_id] = dataclasses.replace(member, **typed, updated_at=now)

    async def roster(self) -> list[RosterEntry]:
        """The active, listed members, by name."""
        listed = [
            m
            for m in self.members.values()
            if m.kind is BodyKind.MEMBER and m.status is MemberStatus.ACTIVE and m.listed
        ]
        return [
            RosterEntry(id=m.id, name=m.name, category=m.category)
            for m in sorted(listed, key=lambda m: m.name)
        ]

    async def has_coordinator(self) -> bool:
        """Whether the coordinator is stored."""
        return any(m.kind is BodyKind.COORDINATOR for m in self.members.values())

    # Users.

    async def add_user(self, user: User, token_hash: str) -> None:
        """Store a new user with its token's hash."""
        assert token_hash not in self.token_hashes.values(), "unique token hash"
        self.users[user.id] = user
        self.token_hashes[user.id] = token_hash

    async def chair_of(self, member_id: str) -> User | None:
        """The unrevoked chair among the body's users, if any."""
        return next(
            (
                u
                for u in self.users.values()
                if u.member_id == member_id and u.chair and u.revoked_at is None
            ),
            None,
        )

    async def user(self, user_id: str, member_id: str | None = None) -> User | None:
        """One user (of `member_id`, if given), or None."""
        user = self.users.get(user_id)
        if user is None or (member_id is not None and user.member_id != member_id):
            return None
        return user

    async def users_of(self, member_id: str) -> list[User]:
        """The users of a body, by id."""
        return sorted(
            (u for u in self.users.values() if u.member_id == member_id), key=lambda u: u.id
        )

    async def revoke_user(self, user_id: str, now: datetime) -> None:
        """Revoke a user's token as of `now`."""
        self.users[user_id] = dataclasses.replace(self.users[user_id], revoked_at=now)

    async def token_holder(self, token_hash: str, now: datetime) -> TokenHolder | None:
        """The user a token belongs to, signed in as of `now`."""
        for user_id, stored_hash in self.token_hashes.items():
            if stored_hash != token_hash:
                continue
            user = self.users[user_id]
            actor = Actor(
                user_id=user.id,
                user_name=user.name,
                role=user.role,
                body=self._body(self.members[user.member_id], now),
                is_handler=any(
                    h.user_id == user.id and h.member_id == user.member_id and _in_effect(h, now)
                    for h in self.handlers.values()
                ),
            )
            return TokenHolder(
                actor=actor,
                revoked=user.revoked_at is not None,
                expires_at=user.expires_at,
                last_used_at=user.last_used_at,
            )
        return None

    async def replace_token(
        self, user_id: str, token_hash: str, expires_at: datetime | None
    ) -> None:
        """Give a user a new token (by its hash)."""
        self.token_hashes[user_id] = token_hash
        self.users[user_id] = dataclasses.replace(self.users[user_id], expires_at=expires_at)

    async def mark_used(self, token_hash: str, now: datetime, every: timedelta) -> None:
        """Record a sign-in at `now` unless one was recorded less than `every` ago."""
        for user_id, stored_hash in self.token_hashes.items():
            user = self.users[user_id]
            if stored_hash == token_hash and (
                user.last_used_at is None or user.last_used_at <= now - every
            ):
                self.users[user_id] = dataclasses.replace(user, last_used_at=now)

    # Handlers.

    async def add_handler(self, registration: HandlerRegistration) -> None:
        """Store a new handler registration."""
        self.handlers[registration.id] = registration

    async def handler(self, handler_id: str) -> HandlerRegistration | None:
        """One handler registration, or None."""
        return self.handlers.get(handler_id)

    async def unended_handler(
        self, member_id: str, user_id: str, now: datetime
    ) -> HandlerRegistration | None:
        """The user's registration for `member_id` not ended by `now`, or None."""
        for h in self.handlers.values():
            if (
                h.member_id == member_id
                and h.user_id == user_id
                and (h.effective_until is None or h.effective_until > now)
            ):
                return h
        return None

    async def end_handler(self, handler_id: str, end: datetime) -> None:
        """End a handler registration at `end`."""
        self.handlers[handler_id] = dataclasses.replace(
            self.handlers[handler_id], effective_until=end
        )

    async def handlers_of(self, member_id: str) -> list[HandlerRegistration]:
        """Every registration of a body, by start."""
        return sorted(
            (h for h in self.handlers.values() if h.member_id == member_id),
            key=lambda h: (h.effective_from, h.id),
        )

    def _body(self, member: Member, now: datetime) -> Body:
        return Body(
            id=member.id,
            kind=member.kind,
            category=member.category,
            tier=member.tier,
            status=member.status,
            has_handler=any(
                h.member_id == member.id and _in_effect(h, now) for h in self.handlers.values()
            ),
            **{flag: getattr(member, flag) for flag in BODY_FLAGS},
        )


def _in_effect(h: HandlerRegistration, now: datetime) -> bool:
    return h.effective_from <= now and (h.effective_until is None or h.effective_until > now)


def _typed(name: str, value: Any) -> Any:
    # The store keeps enums as their values; the domain object holds the enum.
    enum = _ENUMS.get(name)
    return value if enum is None or value is None else enum(value)


_ENUMS: dict[str, type[Any]] = {
    "kind": BodyKind,
    "category": Category,
    "tier": Tier,
    "status": MemberStatus,
}
