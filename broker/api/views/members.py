"""Members, users, handler registrations and the roster as docs/api.md shows them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from broker.domain.members import (
    BODY_FLAGS,
    CreatedUser,
    HandlerRegistration,
    Member,
    RosterEntry,
    User,
)
from broker.domain.timestamps import rfc3339, rfc3339_or_none

__all__ = [
    "created_user_view",
    "handler_view",
    "handlers_view",
    "member_view",
    "members_view",
    "roster_entry_view",
    "roster_view",
    "user_view",
    "users_view",
]


def member_view(member: Member) -> dict[str, Any]:
    """A body as the API shows it."""
    view: dict[str, Any] = {
        "id": member.id,
        "name": member.name,
        "kind": member.kind.value,
        "category": member.category.value,
        "tier": member.tier.value,
        "status": member.status.value,
    }
    view.update({flag: getattr(member, flag) for flag in BODY_FLAGS})
    view["created_at"] = rfc3339(member.created_at)
    return view


def user_view(user: User) -> dict[str, Any]:
    """A user as the API shows it (never its token or token hash)."""
    return {
        "id": user.id,
        "member_id": user.member_id,
        "name": user.name,
        "role": user.role.value,
        "chair": user.chair,
        "created_at": rfc3339(user.created_at),
        "revoked_at": rfc3339_or_none(user.revoked_at),
        "expires_at": rfc3339_or_none(user.expires_at),
        # To within a minute: recorded at most once a minute per token.
        "last_used_at": rfc3339_or_none(user.last_used_at),
    }


def created_user_view(created: CreatedUser) -> dict[str, Any]:
    """A new user and its token: the only response that ever carries the token."""
    return {"user": user_view(created.user), "token": created.token}


def handler_view(registration: HandlerRegistration) -> dict[str, Any]:
    """A handler registration with its effective times (art. 6(6),(8))."""
    return {
        "member_id": registration.member_id,
        "user_id": registration.user_id,
        "effective_from": rfc3339(registration.effective_from),
        "effective_until": rfc3339_or_none(registration.effective_until),
    }


def roster_entry_view(entry: RosterEntry) -> dict[str, Any]:
    """A roster line: id, name and category (art. 25)."""
    return {"id": entry.id, "name": entry.name, "category": entry.category.value}


def _unpaged(items: list[dict[str, Any]]) -> dict[str, Any]:
    # These listings are short and whole: one page, no cursor (docs/api.md pagination).
    return {"items": items, "next_cursor": None}


def members_view(members: Iterable[Member]) -> dict[str, Any]:
    """The bodies a caller may see, as one page."""
    return _unpaged([member_view(m) for m in members])


def users_view(users: Iterable[User]) -> dict[str, Any]:
    """A body's users, as one page."""
    return _unpaged([user_view(u) for u in users])


def handlers_view(registrations: Iterable[HandlerRegistration]) -> dict[str, Any]:
    """A body's handler registrations, as one page."""
    return _unpaged([handler_view(h) for h in registrations])


def roster_view(entries: Iterable[RosterEntry]) -> dict[str, Any]:
    """The public roster, as one page (art. 25)."""
    return _unpaged([roster_entry_view(e) for e in entries])
