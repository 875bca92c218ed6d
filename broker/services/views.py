"""JSON views of stored rows, shared by the services (API.md field names)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from broker.services.core import rfc3339
from broker.store.members_repo import BODY_FLAGS


def time_or_none(moment: datetime | None) -> str | None:
    """RFC 3339 or null."""
    return rfc3339(moment) if moment is not None else None


def member_view(row: Any) -> dict[str, Any]:
    """A body as the API shows it."""
    view: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "kind": row.kind,
        "category": row.category,
        "tier": row.tier,
        "status": row.status,
    }
    view.update({flag: bool(getattr(row, flag)) for flag in BODY_FLAGS})
    view["created_at"] = rfc3339(row.created_at)
    return view


def user_view(row: Any) -> dict[str, Any]:
    """A user as the API shows it (never its token or token hash)."""
    return {
        "id": row.id,
        "member_id": row.member_id,
        "name": row.name,
        "role": row.role,
        "created_at": rfc3339(row.created_at),
        "revoked_at": time_or_none(row.revoked_at),
    }


def handler_view(row: Any) -> dict[str, Any]:
    """A handler registration with its effective times (art. 6(6),(8))."""
    return {
        "member_id": row.member_id,
        "user_id": row.user_id,
        "effective_from": rfc3339(row.effective_from),
        "effective_until": time_or_none(row.effective_until),
    }
