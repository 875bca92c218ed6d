"""When an obligation falls due: the provider's request, or the configured default.

SPEC §4: "Obligations have deadlines (configurable per item; urgent items in
hours)". API `POST /v1/items`: `feedback.due` "is an ISO 8601 duration or a time".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from broker.domain.model import ItemKind
from broker.feedback._time import require_aware

__all__ = ["DEFAULT_URGENT_DUE", "parse_duration", "resolve_due"]

DEFAULT_URGENT_DUE = timedelta(hours=4)
"""How long an urgent item's recipients have when the provider names no due time."""

# RFC 3339 Appendix A (ISO 8601 durations), restricted to units of fixed
# length: weeks stand alone (dur-week); days, then T and hours / minutes /
# seconds in that order. Integers only. [0-9], not \d: \d matches any Unicode
# digit and int() would accept them.
_DURATION = re.compile(
    r"P(?:(?P<weeks>[0-9]+)W"
    r"|(?:(?P<days>[0-9]+)D)?"
    r"(?:T(?:(?P<hours>[0-9]+)H)?(?:(?P<minutes>[0-9]+)M)?(?:(?P<seconds>[0-9]+)S)?)?)"
)

# RFC 3339 §5.6 date-time. The offset is optional here only so that a time
# without one gets the precise "naive" error instead of a generic one.
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})?"
)

_DURATION_EXAMPLES = "e.g. PT4H, PT90M, P1D, P1DT2H30M, P2W"


def parse_duration(text: str) -> timedelta:
    """The positive `timedelta` an ISO 8601 duration names.

    Accepted: `PnW`, or `PnD`, `PTnH`, `PTnM`, `PTnS` and their ordered
    combinations (`P1DT2H30M`, `PT90M`), integers only. `ValueError`, with a
    message that says why, for years or months (no fixed length), negative or
    zero durations, fractions, and anything else.
    """
    if text.startswith("-P"):
        raise ValueError(f"due duration {text!r} is negative: a deadline lies in the future")
    match = _DURATION.fullmatch(text)
    if match is None:
        date_part = text.partition("T")[0]
        if text.startswith("P") and ("Y" in date_part or "M" in date_part):
            raise ValueError(
                f"due duration {text!r} uses years or months, which have no fixed length; "
                "use weeks or days instead (e.g. P30D)"
            )
        if "." in text or "," in text:
            raise ValueError(f"due duration {text!r} has a fraction; use a smaller unit (PT90M)")
        raise ValueError(f"not an ISO 8601 duration: {text!r} ({_DURATION_EXAMPLES})")
    # "P", "PT" and "P1DT" match the pattern but name no time, or end in a
    # designator with nothing after it (RFC 3339: dur-time needs a component).
    if text.endswith("T") or not any(match.groupdict().values()):
        raise ValueError(f"not an ISO 8601 duration: {text!r} ({_DURATION_EXAMPLES})")
    parts = {unit: int(value) for unit, value in match.groupdict().items() if value is not None}
    try:
        duration = timedelta(**parts)
    except OverflowError:
        raise ValueError(f"due duration {text!r} is too long") from None
    if duration <= timedelta(0):
        raise ValueError(f"due duration {text!r} is zero: a deadline lies in the future")
    return duration


def _parse_time(text: str) -> datetime:
    """An RFC 3339 date-time, or `ValueError` (naive times included)."""
    if _DATE_TIME.fullmatch(text) is None:
        raise ValueError(
            f"due {text!r} is neither an ISO 8601 duration ({_DURATION_EXAMPLES}) "
            "nor an RFC 3339 time (e.g. 2026-11-23T09:00:00Z)"
        )
    try:
        # fromisoformat wants the upper-case T and Z that RFC 3339 §5.6 lets
        # writers spell in lower case.
        when = datetime.fromisoformat(text.upper())
    except ValueError as exc:
        raise ValueError(f"due time {text!r} is not a valid time: {exc}") from None
    return require_aware(when, f"due time {text!r}")


def _after(created_at: datetime, duration: timedelta) -> datetime:
    """`created_at + duration`, with the overflow a huge duration causes as `ValueError`."""
    try:
        return created_at + duration
    except OverflowError:
        raise ValueError(f"due duration {duration} is too long") from None


def resolve_due(
    created_at: datetime,
    requested: str | None,
    kind: ItemKind,
    defaults: Mapping[ItemKind, timedelta],
    urgent: bool = False,
    urgent_default: timedelta = DEFAULT_URGENT_DUE,
) -> datetime:
    """The UTC instant the obligations on an item created at `created_at` fall due.

    `requested` is the provider's `feedback.due`: an ISO 8601 duration counted
    from `created_at`, or an RFC 3339 time with an offset. Without one the due
    time is `created_at` plus `urgent_default` for urgent items and
    `defaults[kind]` otherwise. An explicit request wins over urgency: the
    provider chose it knowingly.

    `ValueError` for a malformed request, a naive time, a time not after
    `created_at` (which is "now" for a new item: the past is refused too), a
    non-positive default, or a kind without a default.
    """
    created = require_aware(created_at, "created_at")
    if requested is None:
        if urgent:
            default = urgent_default  # SPEC §4: urgent items in hours
        elif kind in defaults:
            default = defaults[kind]
        else:
            raise ValueError(f"no default due time is configured for {kind} items")
        if default <= timedelta(0):
            raise ValueError(f"the default due time for {kind} items must be positive")
        return _after(created, default)
    if requested.startswith(("P", "-P")):
        return _after(created, parse_duration(requested))
    due = _parse_time(requested)
    if due <= created:
        raise ValueError(
            f"due time {requested!r} is not after the item's creation "
            f"({created.isoformat()}): a deadline lies in the future"
        )
    return due
