"""Obligations and deliverable events as the task-force services need them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from broker.feedback import Obligation, ObligationStatus

# The one seam between the task force and the live-delivery feed: every
# task-force event is written through the feed's `insert_events`.
from broker.store.feed_repo import EventDraft, insert_events
from broker.store.tables import events, obligations

__all__ = [
    "EventDraft",
    "ObligationRepository",
    "as_utc",
    "events",
    "insert_events",
    "obligation_from_row",
    "obligation_row",
]


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


def obligation_row(ob: Obligation, created_at: datetime) -> dict[str, Any]:
    """The row that stores a new (open, unanswered) obligation."""
    return {
        "id": ob.id,
        "item_id": ob.item_id,
        "member_id": ob.member_id,
        "kind": ob.kind.value,
        "due_at": ob.due_at,
        "status": ob.status.value,
        "verdict": None,
        "comment": None,
        "comment_wrapped_key": None,
        "comment_kek_version": None,
        "answered_at": None,
        "late": False,
        "reminded_at": None,
        "overdue_marked_at": None,
        "changes": 0,
        "closed_at": None,
        "created_at": created_at,
    }


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


class ObligationRepository:
    """Obligations and the sweeper's queries, on one unit of work's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def members_owing(self, item_id: str) -> set[str]:
        """The members that have an obligation (in any state) on `item_id`."""
        query = select(obligations.c.member_id).where(obligations.c.item_id == item_id)
        return set((await self._conn.execute(query)).scalars())

    async def add(self, owed: Sequence[Obligation], created_at: datetime) -> None:
        """Store new (open, unanswered) obligations."""
        if owed:
            await self._conn.execute(
                obligations.insert(), [obligation_row(ob, created_at) for ob in owed]
            )

    async def open_on_item(
        self, item_id: str, *, except_members: Sequence[str] = ()
    ) -> list[Obligation]:
        """The open obligations on `item_id` (of members other than `except_members`)."""
        query = select(obligations).where(
            obligations.c.item_id == item_id,
            obligations.c.status == ObligationStatus.OPEN.value,
        )
        if except_members:
            query = query.where(obligations.c.member_id.not_in(list(except_members)))
        return [obligation_from_row(r) for r in (await self._conn.execute(query)).all()]

    async def open_of_member(self, member_id: str) -> list[Obligation]:
        """The open obligations of `member_id`."""
        query = select(obligations).where(
            obligations.c.member_id == member_id,
            obligations.c.status == ObligationStatus.OPEN.value,
        )
        return [obligation_from_row(r) for r in (await self._conn.execute(query)).all()]

    async def lift(self, ids: Sequence[str], status: ObligationStatus, at: datetime) -> int:
        """Move the open obligations among `ids` to `status` (cancelled or closed)."""
        if not ids:
            return 0
        # `status == open` again: an answer committed since they were read wins.
        result = await self._conn.execute(
            update(obligations)
            .where(
                obligations.c.id.in_(list(ids)), obligations.c.status == ObligationStatus.OPEN.value
            )
            .values(status=status.value, closed_at=at)
        )
        return int(result.rowcount)

    async def erase_comments(self, item_id: str) -> None:
        """Erase every answer's comment on `item_id` (its content was destroyed)."""
        await self._conn.execute(
            update(obligations)
            .where(obligations.c.item_id == item_id, obligations.c.comment.is_not(None))
            .values(comment=None, comment_wrapped_key=None, comment_kek_version=None)
        )
