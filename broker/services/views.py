"""RFC 3339 or null, for the services that still shape their own JSON."""

from __future__ import annotations

from datetime import datetime

from broker.domain.timestamps import rfc3339

__all__ = ["time_or_none"]


def time_or_none(moment: datetime | None) -> str | None:
    """RFC 3339 or null."""
    return rfc3339(moment) if moment is not None else None
