"""Due times: ISO 8601 durations, RFC 3339 times and the configured defaults (SPEC §4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from feedback_factories import HOUR, T0

from broker.domain.model import ItemKind
from broker.feedback import DEFAULT_URGENT_DUE, parse_duration, resolve_due

DEFAULTS = {ItemKind.ANALYSIS: timedelta(days=1), ItemKind.COUNTERMEASURE: 8 * HOUR}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT4H", timedelta(hours=4)),
        ("P1D", timedelta(days=1)),
        ("P1DT2H30M", timedelta(days=1, hours=2, minutes=30)),
        ("PT90M", timedelta(minutes=90)),
        ("PT45S", timedelta(seconds=45)),
        ("PT1H30S", timedelta(hours=1, seconds=30)),
        ("P2W", timedelta(weeks=2)),
        ("P0DT1M", timedelta(minutes=1)),
    ],
)
def test_durations_parse_to_their_length(text: str, expected: timedelta) -> None:
    """A duration in weeks, days, hours, minutes or seconds parses to its exact length."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("P1Y", "years or months"),
        ("P2M", "years or months"),
        ("P1Y2M3D", "years or months"),
        ("-PT4H", "negative"),
        ("PT0S", "zero"),
        ("P0D", "zero"),
        ("PT1.5H", "fraction"),
        ("PT1,5H", "fraction"),
        ("P", "not an ISO 8601 duration"),
        ("PT", "not an ISO 8601 duration"),
        ("P1DT", "not an ISO 8601 duration"),
        ("P1W2D", "not an ISO 8601 duration"),
        ("PT30M1H", "not an ISO 8601 duration"),
        ("pt4h", "not an ISO 8601 duration"),
        ("PT\u0664H", "not an ISO 8601 duration"),  # an Arabic-Indic four is no digit here
        ("P99999999999D", "too long"),
    ],
)
def test_bad_durations_are_refused_with_a_reason(text: str, message: str) -> None:
    """Years, months, a sign, a fraction, no length or bad syntax make a ValueError."""
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


def test_a_requested_duration_counts_from_creation() -> None:
    """A requested duration is added to the item's creation time."""
    assert resolve_due(T0, "PT4H", ItemKind.COUNTERMEASURE, DEFAULTS) == T0 + 4 * HOUR


def test_a_requested_time_is_returned_in_utc() -> None:
    """A requested RFC 3339 time with an offset comes back as the same instant in UTC."""
    due = resolve_due(T0, "2026-11-23T09:00:00+09:00", ItemKind.ANALYSIS, DEFAULTS)
    assert due == datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    assert due.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text",
    ["2026-11-23T09:00:00Z", "2026-11-23t09:00:00z", "2026-11-23 09:00:00.250Z"],
)
def test_rfc3339_spellings_are_accepted(text: str) -> None:
    """Lower-case t/z, a space separator and fractional seconds are valid RFC 3339."""
    assert resolve_due(T0, text, ItemKind.ANALYSIS, DEFAULTS).hour == 9


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-11-23T09:00:00", "naive"),
        ("2026-11-20T18:00:00Z", "not after"),  # exactly the creation time
        ("2026-11-19T09:00:00Z", "not after"),  # in the past
        ("2026-11-23", "neither"),
        ("tomorrow", "neither"),
        ("", "neither"),
        ("-5", "neither"),
        ("2026-02-30T09:00:00Z", "not a valid time"),
    ],
)
def test_bad_times_are_refused(text: str, message: str) -> None:
    """A naive, past, date-only, impossible or unparsable due time is a ValueError."""
    with pytest.raises(ValueError, match=message):
        resolve_due(T0, text, ItemKind.ANALYSIS, DEFAULTS)


def test_without_a_request_the_kind_default_applies() -> None:
    """With no requested due time the default configured for the item kind applies."""
    assert resolve_due(T0, None, ItemKind.ANALYSIS, DEFAULTS) == T0 + timedelta(days=1)


def test_urgent_items_default_to_hours() -> None:
    """An urgent item without a request falls due after the urgent default (4 hours)."""
    assert DEFAULT_URGENT_DUE == 4 * HOUR
    assert resolve_due(T0, None, ItemKind.ANALYSIS, DEFAULTS, urgent=True) == T0 + 4 * HOUR
    custom = resolve_due(
        T0, None, ItemKind.ANALYSIS, DEFAULTS, urgent=True, urgent_default=2 * HOUR
    )
    assert custom == T0 + 2 * HOUR


def test_an_explicit_request_wins_over_urgency() -> None:
    """An urgent item's explicit due time is kept, not replaced by the urgent default."""
    assert resolve_due(T0, "P1D", ItemKind.ANALYSIS, DEFAULTS, urgent=True) == T0 + timedelta(
        days=1
    )


def test_a_kind_without_default_is_refused() -> None:
    """Asking for the default of a kind that has none is a ValueError, not a KeyError."""
    with pytest.raises(ValueError, match="no default due time"):
        resolve_due(T0, None, ItemKind.NOTICE, DEFAULTS)


def test_a_non_positive_default_is_refused() -> None:
    """A zero or negative configured default is a ValueError."""
    with pytest.raises(ValueError, match="must be positive"):
        resolve_due(T0, None, ItemKind.ANALYSIS, {ItemKind.ANALYSIS: timedelta(0)})


def test_a_naive_creation_time_is_refused() -> None:
    """A naive created_at is a ValueError."""
    with pytest.raises(ValueError, match="timezone-aware"):
        resolve_due(T0.replace(tzinfo=None), "PT4H", ItemKind.ANALYSIS, DEFAULTS)


def test_creation_in_another_zone_is_normalised() -> None:
    """A created_at with an offset gives a UTC due time for the same instant."""
    tokyo = T0.astimezone(timezone(timedelta(hours=9)))
    due = resolve_due(tokyo, "PT1H", ItemKind.ANALYSIS, DEFAULTS)
    assert due == T0 + HOUR
    assert due.tzinfo == UTC


def test_a_due_time_past_the_calendar_end_is_refused() -> None:
    """A duration that overflows the calendar is a ValueError, not an OverflowError."""
    with pytest.raises(ValueError, match="too long"):
        resolve_due(T0, "P3000000D", ItemKind.ANALYSIS, DEFAULTS)


@pytest.mark.parametrize(
    "text", ["9999-12-31T23:59:59-23:59", "9999-12-31T23:00:00-01:00", "0001-01-01T00:00:00+01:00"]
)
def test_a_due_time_whose_utc_instant_overflows_is_refused(text: str) -> None:
    """SPEC §4 (deadlines are instants in UTC): an offset past year 9999 is a ValueError."""
    with pytest.raises(ValueError, match="outside the years"):
        resolve_due(T0, text, ItemKind.ANALYSIS, DEFAULTS)
