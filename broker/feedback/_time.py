"""Datetime hygiene shared by the modules of this package (private)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["require_aware"]


def require_aware(value: datetime, name: str) -> datetime:
    """`value` in UTC, or `ValueError` naming `name` if it is naive.

    Naive datetimes are refused rather than guessed at: every time in the broker
    is RFC 3339 UTC (API conventions), and comparing a naive with an aware time
    would otherwise fail far from the cause.
    """
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got a naive datetime")
    return value.astimezone(UTC)
