"""Ledger periods: ISO weeks, months, days and the current week, as half-open UTC intervals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from feedback_factories import T0

from broker.feedback import CURRENT_WEEK, parse_period


def utc(year: int, month: int, day: int) -> datetime:
    """Midnight UTC on the given day."""
    return datetime(year, month, day, tzinfo=UTC)


@pytest.mark.parametrize(
    ("spec", "start", "end"),
    [
        ("2026-W47", utc(2026, 11, 16), utc(2026, 11, 23)),
        ("2026-W01", utc(2025, 12, 29), utc(2026, 1, 5)),  # ISO week 1 starts in December
        ("2026-W53", utc(2026, 12, 28), utc(2027, 1, 4)),  # 2026 has 53 ISO weeks
        ("2026-11", utc(2026, 11, 1), utc(2026, 12, 1)),
        ("2026-12", utc(2026, 12, 1), utc(2027, 1, 1)),
        ("2028-02", utc(2028, 2, 1), utc(2028, 3, 1)),
        ("2026-11-22", utc(2026, 11, 22), utc(2026, 11, 23)),
        ("2026-12-31", utc(2026, 12, 31), utc(2027, 1, 1)),
    ],
)
def test_periods_parse_to_half_open_utc_intervals(
    spec: str, start: datetime, end: datetime
) -> None:
    """A week, month or day names the interval from its first midnight to the next period's."""
    assert parse_period(spec, T0) == (start, end)


def test_the_current_week_is_the_default() -> None:
    """None and current-week both give the ISO week containing now (Friday T0: Mon to Mon)."""
    expected = (utc(2026, 11, 16), utc(2026, 11, 23))
    assert parse_period(None, T0) == expected
    assert parse_period(CURRENT_WEEK, T0) == expected


def test_the_current_week_is_taken_in_utc() -> None:
    """Monday 08:00 in Tokyo is still Sunday in UTC, so the current week is the previous one."""
    tokyo_monday = datetime(2026, 11, 23, 8, 0, tzinfo=timezone(timedelta(hours=9)))
    assert parse_period(CURRENT_WEEK, tokyo_monday) == (utc(2026, 11, 16), utc(2026, 11, 23))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("last-week", "unknown period"),
        ("", "unknown period"),
        ("2026", "unknown period"),
        ("2026-W7", "unknown period"),
        ("2026-11-22T00:00:00Z", "unknown period"),
        ("\uff12\uff10\uff12\uff16-11", "unknown period"),  # full-width digits are not digits here
        ("2026-13", "not a valid date"),
        ("2026-00", "not a valid date"),
        ("2026-02-30", "not a valid date"),
        ("2025-W53", "not a valid date"),  # 2025 has 52 ISO weeks
        ("0000-01", "not a valid date"),
        ("9999-12", "not a valid date"),
        ("9999-W52", "out of range"),
    ],
)
def test_other_periods_are_refused(spec: str, message: str) -> None:
    """Anything but the four forms, or an impossible date, is a ValueError."""
    with pytest.raises(ValueError, match=message):
        parse_period(spec, T0)


def test_a_naive_now_is_refused() -> None:
    """A naive now is a ValueError."""
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_period(None, T0.replace(tzinfo=None))
