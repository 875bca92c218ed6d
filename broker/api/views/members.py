"""Members, users, handler registrations and the roster as API.md shows them."""

from __future__ import annotations

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

__all__ = ["created_user_view", "handler_view", "member_view", "roster_entry_view", "user_view"]


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
        "created_at": rfc3339(user.created_at),
        "revoked_at": rfc3339_or_none(user.revoked_at),
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
