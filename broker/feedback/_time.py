"""Datetime hygiene shared by the modules of this package (private)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["require_aware"]


def require_aware(value: datetime, name: str) -> datetime:
    """`value` in UTC, or `ValueError` naming `name` if it is naive.

    A time whose UTC instant falls outside datetime's range is refused with
    `ValueError` too. Naive datetimes are refused rather than guessed at: every time in the broker
    is RFC 3339 UTC (API conventions), and comparing a naive with an aware time
    would otherwise fail far from the cause.
    """
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got a naive datetime")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # 9999-12-31T23:59:59-23:59 is a valid RFC 3339 time whose UTC instant
        # lies past year 9999, which datetime cannot hold: a refusal, not a crash.
        raise ValueError(f"{name} lies outside the years 1 to 9999 in UTC") from None
