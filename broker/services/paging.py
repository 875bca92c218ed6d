"""Opaque page cursors: the position after which the next page starts.

A cursor is the url-safe base64 of its parts joined by `|`; a cursor that does
not decode to the expected parts is refused with a 422 naming `cursor`, never
a 500 (docs/api.md "Conventions").
"""

from __future__ import annotations

import base64
import binascii

from broker.errors import InvalidInput

__all__ = ["decode_cursor", "decode_id_cursor", "encode_cursor"]

_MAX_PART = 64


def encode_cursor(*parts: str) -> str:
    """An opaque cursor for the position `parts` (an id, or a sort key and an id)."""
    raw = "|".join(parts).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int = 1) -> tuple[str, ...]:
    """The `arity` parts of `cursor`, or InvalidInput."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("bad cursor", field="cursor") from None
    parts = tuple(raw.split("|"))
    if len(parts) != arity or any(not part or len(part) > _MAX_PART for part in parts):
        raise InvalidInput("bad cursor", field="cursor")
    return parts


def decode_id_cursor(cursor: str | None) -> str | None:
    """The id after which a page of ids starts (None: from the start)."""
    if cursor is None:
        return None
    (item_id,) = decode_cursor(cursor)
    if len(item_id) > 40 or not item_id.isascii() or not item_id.isalnum():
        raise InvalidInput("bad cursor", field="cursor")
    return item_id
