"""Obligations and deliverable events as the task-force services need them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from broker.feedback import Obligation

# The one seam between the task force and the live-delivery feed: every
# task-force event is written through the feed's `insert_events`.
from broker.store.feed_repo import EventDraft, insert_events
from broker.store.tables import events

__all__ = ["EventDraft", "as_utc", "events", "insert_events", "obligation_from_row"]


def as_utc(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime.

    SQLite keeps `DateTime(timezone=True)` as text without an offset and hands
    it back naive; the broker writes UTC only, so naive means UTC here.
    """
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _utc_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


def obligation_from_row(row: Any, comment: str | None = None) -> Obligation:
    """The pure model of a stored obligation; `comment` is the decrypted text, if needed."""
    return Obligation(
        id=row.id,
        member_id=row.member_id,
        item_id=row.item_id,
        kind=row.kind,
        due_at=as_utc(row.due_at),
        status=row.status,
        verdict=row.verdict,
        comment=comment,
        answered_at=_utc_or_none(row.answered_at),
        late=bool(row.late),
        reminded_at=_utc_or_none(row.reminded_at),
        overdue_marked_at=_utc_or_none(row.overdue_marked_at),
        changes=int(row.changes),
    )
