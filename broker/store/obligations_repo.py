"""Obligations: what members owe on items, their answers, and the sweeper's queries (SPEC §4)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from broker.crypto import Envelope
from broker.domain import ItemKind
from broker.domain.obligations import SealedObligation
from broker.feedback import ORIGINAL_KINDS, Obligation, ObligationStatus
from broker.store.tables import items, obligations

__all__ = ["ObligationRepository", "as_utc", "obligation_row"]

_NONCE = 12  # AES-GCM nonce length (broker.crypto): the comment column is nonce || ciphertext


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


def _obligation(row: Any) -> Obligation:
    """The pure model of a stored obligation, without its comment."""
    return Obligation(
        id=row.id,
        member_id=row.member_id,
        item_id=row.item_id,
        kind=row.kind,
        due_at=as_utc(row.due_at),
        status=row.status,
        verdict=row.verdict,
        answered_at=_utc_or_none(row.answered_at),
        late=bool(row.late),
        reminded_at=_utc_or_none(row.reminded_at),
        overdue_marked_at=_utc_or_none(row.overdue_marked_at),
        changes=int(row.changes),
    )


def _sealed(row: Any) -> SealedObligation:
    """A stored obligation with its sealed comment, if it has one."""
    comment = None
    if row.comment is not None and row.comment_wrapped_key is not None:
        comment = Envelope(
            nonce=bytes(row.comment[:_NONCE]),
            ciphertext=bytes(row.comment[_NONCE:]),
            wrapped_key=bytes(row.comment_wrapped_key),
            kek_version=int(row.comment_kek_version),
        )
    return SealedObligation(_obligation(row), comment)


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
        return [_obligation(r) for r in (await self._conn.execute(query)).all()]

    async def open_of_member(self, member_id: str) -> list[Obligation]:
        """The open obligations of `member_id`."""
        query = select(obligations).where(
            obligations.c.member_id == member_id,
            obligations.c.status == ObligationStatus.OPEN.value,
        )
        return [_obligation(r) for r in (await self._conn.execute(query)).all()]

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

    # -- what a member owes, and its answers ------------------------------------------

    async def owed(
        self,
        member_id: str,
        *,
        open_only: bool,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Obligation]:
        """What `member_id` owes (only the open ones, or all), by due time then id,
        from just after the position `after` (a due time and an id)."""
        query = select(obligations).where(obligations.c.member_id == member_id)
        if open_only:
            query = query.where(obligations.c.status == ObligationStatus.OPEN.value)
        if after is not None:
            due, ob_id = after
            query = query.where(
                or_(
                    obligations.c.due_at > due,
                    and_(obligations.c.due_at == due, obligations.c.id > ob_id),
                )
            )
        query = query.order_by(obligations.c.due_at, obligations.c.id).limit(limit)
        return [_obligation(r) for r in (await self._conn.execute(query)).all()]

    async def owed_on(self, item_id: str, member_id: str) -> SealedObligation | None:
        """What `member_id` owes on `item_id`, locked until the unit of work ends
        (two answers at once are taken in turn)."""
        query = (
            select(obligations)
            .where(obligations.c.item_id == item_id, obligations.c.member_id == member_id)
            .with_for_update()
        )
        row = (await self._conn.execute(query)).one_or_none()
        return None if row is None else _sealed(row)

    async def on_item(self, item_id: str) -> list[SealedObligation]:
        """Every obligation on `item_id`, with its sealed comment, by id."""
        query = (
            select(obligations).where(obligations.c.item_id == item_id).order_by(obligations.c.id)
        )
        return [_sealed(r) for r in (await self._conn.execute(query)).all()]

    async def record_answer(self, ob: Obligation, comment: Envelope | None) -> None:
        """Store the answer `ob` now holds, with its comment sealed (None: no comment)."""
        await self._conn.execute(
            update(obligations)
            .where(obligations.c.id == ob.id)
            .values(
                status=ob.status.value,
                verdict=ob.verdict.value if ob.verdict else None,
                comment=comment.nonce + comment.ciphertext if comment else None,
                comment_wrapped_key=comment.wrapped_key if comment else None,
                comment_kek_version=comment.kek_version if comment else None,
                answered_at=as_utc(ob.answered_at) if ob.answered_at else None,
                late=ob.late,
                changes=ob.changes,
            )
        )

    # -- the contribution ledger --------------------------------------------------------

    async def falling_in(
        self, start: datetime, end: datetime, members: Collection[str]
    ) -> list[Obligation]:
        """The members' obligations that fall due, or were answered, in `[start, end)`
        (broker.feedback.ledger)."""
        if not members:
            return []
        query = select(obligations).where(
            obligations.c.member_id.in_(sorted(members)),
            or_(
                and_(obligations.c.due_at >= start, obligations.c.due_at < end),
                and_(obligations.c.answered_at >= start, obligations.c.answered_at < end),
            ),
        )
        return [_obligation(r) for r in (await self._conn.execute(query)).all()]

    async def original_submissions(
        self, start: datetime, end: datetime, members: Collection[str]
    ) -> list[tuple[str, datetime, ItemKind]]:
        """`(provider, created_at, kind)` of the items the members supplied themselves
        in `[start, end)` (charter annex: original information), for the ledger.

        An item derived from another member's items is passing information on,
        not supplying it; one derived only from the provider's own items is still
        its own.
        """
        if not members:
            return []
        query = select(
            items.c.id, items.c.provider_id, items.c.created_at, items.c.kind, items.c.derived_from
        ).where(
            items.c.created_at >= start,
            items.c.created_at < end,
            items.c.provider_id.in_(sorted(members)),
            items.c.kind.in_(sorted(k.value for k in ORIGINAL_KINDS)),
        )
        rows = (await self._conn.execute(query)).all()
        source_ids = sorted({s for r in rows for s in r.derived_from})
        providers: dict[str, str] = {}
        if source_ids:
            found = await self._conn.execute(
                select(items.c.id, items.c.provider_id).where(items.c.id.in_(source_ids))
            )
            providers = {r.id: r.provider_id for r in found.all()}
        return [
            (r.provider_id, as_utc(r.created_at), ItemKind(r.kind))
            for r in rows
            if all(providers.get(s) == r.provider_id for s in r.derived_from)
        ]

    # -- the sweeper ------------------------------------------------------------------------

    async def to_sweep(
        self, at: datetime, lead: timedelta, after: str, limit: int
    ) -> list[Obligation]:
        """Open obligations that may need a reminder or an overdue mark at `at`, by id,
        from just after the id `after`."""
        query = (
            select(obligations)
            .where(
                obligations.c.status == ObligationStatus.OPEN.value,
                obligations.c.id > after,
                or_(
                    and_(obligations.c.overdue_marked_at.is_(None), obligations.c.due_at <= at),
                    and_(
                        obligations.c.reminded_at.is_(None),
                        obligations.c.due_at <= at + lead,
                    ),
                ),
            )
            .order_by(obligations.c.id)
            .limit(limit)
        )
        return [_obligation(row) for row in (await self._conn.execute(query)).all()]

    async def mark_reminded(self, ob_id: str, at: datetime) -> bool:
        """Record a reminder at `at` only if nobody has and the deadline is still
        ahead; whether this call did (broker.feedback.apply: a reminder of a
        deadline already passed would mislead)."""
        return await self._mark(ob_id, "reminded_at", at, obligations.c.due_at > at)

    async def mark_overdue(self, ob_id: str, at: datetime) -> bool:
        """Record the overdue mark at `at` only if nobody has and the deadline has
        passed; whether this call did."""
        return await self._mark(ob_id, "overdue_marked_at", at, obligations.c.due_at <= at)

    async def _mark(self, ob_id: str, column: str, at: datetime, due: Any) -> bool:
        result = await self._conn.execute(
            update(obligations)
            .where(
                obligations.c.id == ob_id,
                obligations.c.status == ObligationStatus.OPEN.value,
                obligations.c[column].is_(None),
                due,
            )
            .values(**{column: as_utc(at)})
        )
        return bool(result.rowcount == 1)
