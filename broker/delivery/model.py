"""What flows from the feed to subscribers: plain data, no IO."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

from broker.domain import DIRECTORY_EVENTS, EventKind, ItemFacts

__all__ = ["Control", "FeedEvent", "websocket_text_frame"]


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One committed event, with what the policy needs to decide who sees it.

    Item-wide events (`item`, `scope_changed`, `withdrawn`) carry the item's
    facts and its audience; member events (`obligation`, `reminder`,
    `overdue`, ...) name the one member they are for.
    """

    seq: int
    kind: EventKind
    item_id: str | None
    member_id: str | None
    audience: frozenset[str]
    facts: ItemFacts | None
    payload: dict[str, Any] = field(default_factory=dict)
    # The wire form, the same for every recipient: serialised once per replica.
    text: str = ""
    # `text` as a whole WebSocket frame, also built once: a connection with
    # nothing queued gets these bytes written as they are (broker.delivery.hub).
    websocket_frame: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "websocket_frame", websocket_text_frame(self.text))

    @property
    def internal(self) -> bool:
        """A directory change for the replicas' caches, not for subscribers: internal
        events change who may see what, on every replica, and are never delivered.

        `member_status` changes the directory too, but is also told to the member
        itself (SPEC §6): its open connections close on the change (rule 7), and a
        member active again (admitted, its restriction lifted) finds it on replay."""
        return self.kind in DIRECTORY_EVENTS and self.kind is not EventKind.MEMBER_STATUS

    @property
    def changes_directory(self) -> bool:
        """Whether the replicas' cached directory and sign-ins must be dropped."""
        return self.kind in DIRECTORY_EVENTS

    @staticmethod
    def frame_text(seq: int, kind: EventKind, payload: dict[str, Any]) -> str:
        """The JSON frame a stream sends for this event."""
        return json.dumps({"id": str(seq), "event": kind, "data": payload}, ensure_ascii=False)


def websocket_text_frame(text: str) -> bytes:
    """`text` as one final, unmasked, uncompressed WebSocket text frame (RFC 6455 §5.2):
    what a server sends on a connection without permessage-deflate."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


@dataclass(frozen=True, slots=True)
class Control:
    """A change that must reach connections at once, ahead of queued events (rule 7)."""

    member_id: str
    reason: str
