"""Token lifetimes: ISO 8601 durations of fixed length (broker.domain.timestamps)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.domain.timestamps import parse_duration

_PART = st.one_of(st.none(), st.integers(min_value=0, max_value=999))


@given(weeks=_PART, days=_PART, hours=_PART, minutes=_PART, seconds=_PART)
def test_every_fixed_duration_parses_to_its_length(
    weeks: int | None, days: int | None, hours: int | None, minutes: int | None, seconds: int | None
) -> None:
    """Any combination of W, D, H, M, S parses to exactly the sum of its parts."""
    date = "".join(f"{n}{u}" for n, u in ((weeks, "W"), (days, "D")) if n is not None)
    time = "".join(
        f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n is not None
    )
    text = "P" + date + (f"T{time}" if time else "")
    expected = timedelta(
        weeks=weeks or 0,
        days=days or 0,
        hours=hours or 0,
        minutes=minutes or 0,
        seconds=seconds or 0,
    )
    if text == "P":
        with pytest.raises(ValueError, match="ISO 8601"):
            parse_duration(text)
    else:
        assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["P1Y", "P1M", "P1Y2M3D", "P1MT1H"])
def test_calendar_units_are_refused_with_the_reason(text: str) -> None:
    """A year or month has no fixed length, so a lifetime never uses one."""
    with pytest.raises(ValueError, match="years and months"):
        parse_duration(text)


@pytest.mark.parametrize(
    "text", ["", "P", "PT", "P1DT", "90D", "p90d", "P-1D", "P1.5D", "PT1H ", "P1D1W"]
)
def test_malformed_durations_are_refused_with_an_example(text: str) -> None:
    """Anything else is refused with examples of what to write."""
    with pytest.raises(ValueError, match="P90D"):
        parse_duration(text)


def test_fractional_seconds() -> None:
    """Seconds may carry a fraction, with a dot or a comma (ISO 8601 allows both)."""
    assert parse_duration("PT1.5S") == parse_duration("PT1,5S") == timedelta(seconds=1.5)
