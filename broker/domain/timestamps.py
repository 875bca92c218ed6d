"""The one form every time takes on the wire and in the audit chain."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["rfc3339", "rfc3339_or_none"]


def rfc3339(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds, the form every API time takes."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc3339_or_none(moment: datetime | None) -> str | None:
    """RFC 3339, or None for no time."""
    return rfc3339(moment) if moment is not None else None
