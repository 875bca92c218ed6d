"""What flows from the feed to subscribers: plain data, no IO."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from broker.domain import ItemFacts

# Internal events: they change who may see what, on every replica, and are
# never delivered themselves.
DIRECTORY_EVENTS = frozenset({"directory_changed", "member_status"})


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One committed event, with what the policy needs to decide who sees it.

    Item-wide events (`item`, `scope_changed`, `withdrawn`) carry the item's
    facts and its audience; member events (`obligation`, `reminder`,
    `overdue`, ...) name the one member they are for.
    """

    seq: int
    kind: str
    item_id: str | None
    member_id: str | None
    audience: frozenset[str]
    facts: ItemFacts | None
    payload: dict[str, Any] = field(default_factory=dict)
    # The wire form, the same for every recipient: serialised once per replica.
    text: str = ""

    @property
    def internal(self) -> bool:
        """A directory change for the replicas' caches, not for subscribers."""
        return self.kind in DIRECTORY_EVENTS

    @staticmethod
    def frame_text(seq: int, kind: str, payload: dict[str, Any]) -> str:
        """The JSON frame a stream sends for this event."""
        return json.dumps({"id": str(seq), "event": kind, "data": payload}, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Control:
    """A change that must reach connections at once, ahead of queued events (rule 7)."""

    member_id: str
    reason: str
