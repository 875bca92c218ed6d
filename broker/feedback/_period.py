"""Ledger periods: `GET /v1/ledger?period=` (docs/api.md, Task force and feedback).

A period is a half-open UTC interval `[start, end)`: an instant belongs to
exactly one day, one ISO week and one month.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from broker.feedback._time import require_aware

__all__ = ["CURRENT_WEEK", "parse_period"]

CURRENT_WEEK = "current-week"
"""The default period: the ISO week (Monday to Monday, UTC) that contains `now`."""

# [0-9], not \d: \d matches any Unicode digit.
_WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")

_FORMS = "2026-W47 (ISO week), 2026-11 (month), 2026-11-22 (day) or current-week"


def _midnight(day: date) -> datetime:
    """00:00 UTC on `day`."""
    return datetime.combine(day, time(), tzinfo=UTC)


def _bounds(spec: str) -> tuple[date, date] | None:
    """First day and the day after the last for a week, month or day `spec`; `None` if neither."""
    if match := _WEEK.fullmatch(spec):
        # ISO 8601 week dates; fromisocalendar refuses week 53 in 52-week years.
        first = date.fromisocalendar(int(match[1]), int(match[2]), 1)
        return first, first + timedelta(days=7)
    if match := _MONTH.fullmatch(spec):
        year, month = int(match[1]), int(match[2])
        first = date(year, month, 1)
        return first, date(year + month // 12, month % 12 + 1, 1)
    if match := _DAY.fullmatch(spec):
        first = date(int(match[1]), int(match[2]), int(match[3]))
        return first, first + timedelta(days=1)
    return None


def parse_period(spec: str | None, now: datetime) -> tuple[datetime, datetime]:
    """The UTC interval `[start, end)` that `spec` names; `None` means `current-week`.

    `ValueError` for anything but the four forms, for impossible dates
    (`2026-13`, `2026-02-30`, `2026-W53`) and for a naive `now`.
    """
    at = require_aware(now, "now")
    if spec is None or spec == CURRENT_WEEK:
        monday = at.date() - timedelta(days=at.weekday())
        return _midnight(monday), _midnight(monday + timedelta(days=7))
    try:
        bounds = _bounds(spec)
    except OverflowError:
        raise ValueError(f"period {spec!r} is out of range") from None
    except ValueError as exc:
        raise ValueError(f"period {spec!r} is not a valid date: {exc}") from None
    if bounds is None:
        raise ValueError(f"unknown period {spec!r}: use {_FORMS}")
    return _midnight(bounds[0]), _midnight(bounds[1])
