"""What the broker delivers: the kinds of feed events and an event before it is stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["DIRECTORY_EVENTS", "ITEM_EVENTS", "EventDraft", "EventKind"]


class EventKind(StrEnum):
    """The kinds of event in the commit-ordered feed (docs/api.md "Delivery")."""

    # Item-wide: for everyone in the item's audience the policy lets see it.
    ITEM = "item"
    SCOPE_CHANGED = "scope_changed"
    WITHDRAWN = "withdrawn"
    # For one member: the task force's obligations and consultations (SPEC §4).
    OBLIGATION = "obligation"
    REMINDER = "reminder"
    OVERDUE = "overdue"
    FEEDBACK = "feedback"
    CONSULTATION = "consultation"
    CONSULTATION_REPLY = "consultation_reply"
    # Governance (SPEC §6): a resolution opened, decided or published, to those
    # who may see it (art. 27); an information request to its target members
    # (art. 23).
    RESOLUTION = "resolution"
    INFORMATION_REQUEST = "information_request"
    # Internal: they change who may see what, on every replica, and are never delivered.
    DIRECTORY_CHANGED = "directory_changed"
    MEMBER_STATUS = "member_status"
    # One user's rights changed (revoked, handler registration added or ended,
    # role changed): its open connections are re-decided on every replica at
    # once (SPEC §3 rules 3, 7). The payload names the user.
    USER_ACCESS = "user_access"


ITEM_EVENTS = frozenset({EventKind.ITEM, EventKind.SCOPE_CHANGED, EventKind.WITHDRAWN})
DIRECTORY_EVENTS = frozenset(
    {EventKind.DIRECTORY_CHANGED, EventKind.MEMBER_STATUS, EventKind.USER_ACCESS}
)


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An event to deliver, before the feed numbers it: to one member, or to an
    item's audience."""

    kind: EventKind
    created_at: datetime
    member_id: str | None = None
    audience_id: str | None = None
    item_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
