"""Token lifetimes: ISO 8601 durations of fixed length (broker.domain.timestamps)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.domain.timestamps import parse_duration

# -1: the part is left out. One flat tuple of integers keeps each example cheap.
_PARTS = st.tuples(*[st.integers(min_value=-1, max_value=999)] * 5)
_UNITS = ("W", "D", "H", "M", "S")


@given(_PARTS)
def test_every_fixed_duration_parses_to_its_length(parts: tuple[int, ...]) -> None:
    """Any combination of W, D, H, M, S parses to exactly the sum of its parts."""
    given_parts = [(n, unit) for n, unit in zip(parts, _UNITS, strict=True)]
    date = "".join(f"{n}{u}" for n, u in given_parts[:2] if n >= 0)
    time = "".join(f"{n}{u}" for n, u in given_parts[2:] if n >= 0)
    text = "P" + date + (f"T{time}" if time else "")
    weeks, days, hours, minutes, seconds = (max(n, 0) for n in parts)
    expected = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
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
