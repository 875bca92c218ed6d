"""The one form every time takes on the wire and in the audit chain."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = ["MAX_TOKEN_LIFETIME", "parse_duration", "rfc3339", "rfc3339_or_none"]

MAX_TOKEN_LIFETIME = timedelta(days=3660)
"""The longest lifetime a token may be given (about ten years): longer is a typo."""

# ISO 8601 durations of fixed length: weeks, days, hours, minutes, seconds
# (fractions of a second allowed). Years and months have no fixed length, so a
# token's expiry would depend on the calendar it was issued in: refused.
_DURATION = re.compile(
    r"P(?:(?P<weeks>\d{1,6})W)?(?:(?P<days>\d{1,6})D)?"
    r"(?:T(?:(?P<hours>\d{1,8})H)?(?:(?P<minutes>\d{1,10})M)?"
    r"(?:(?P<seconds>\d{1,12}(?:[.,]\d{1,6})?)S)?)?",
    re.ASCII,
)
_CALENDAR = re.compile(r"P(?:\d+Y)?(?:\d+M)?(?:\d+[WD])*(?:T.*)?", re.ASCII)


def rfc3339(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds, the form every API time takes."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc3339_or_none(moment: datetime | None) -> str | None:
    """RFC 3339, or None for no time."""
    return rfc3339(moment) if moment is not None else None


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration of fixed length (`P90D`, `PT12H`, `P1W2DT30M`), or
    ValueError saying how to write one. Years and months are refused (a calendar
    month has no fixed length)."""
    match = _DURATION.fullmatch(text)
    if match is None or text in ("P", "PT") or text.endswith("T"):
        if _CALENDAR.fullmatch(text) and ("Y" in text or "M" in text.split("T")[0]):
            raise ValueError(
                "years and months have no fixed length: give weeks, days, hours, "
                "minutes or seconds (e.g. P365D, P30D)"
            )
        raise ValueError(
            "not an ISO 8601 duration: write e.g. P90D (90 days), PT12H (12 hours) "
            "or P1DT30M (a day and 30 minutes)"
        )
    parts = {name: value for name, value in match.groupdict().items() if value is not None}
    seconds = float(parts.pop("seconds", "0").replace(",", "."))
    try:
        duration = timedelta(**{name: int(value) for name, value in parts.items()}, seconds=seconds)
    except OverflowError:
        raise ValueError("the duration is too long") from None
    return duration
