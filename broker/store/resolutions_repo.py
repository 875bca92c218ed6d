"""Resolutions, their ballots and the answers to information requests (SPEC §6)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from broker.crypto import Envelope
from broker.domain import Scope
from broker.domain.resolutions import (
    Ballot,
    Resolution,
    ResolutionBody,
    ResolutionKind,
    ResolutionStatus,
    Tally,
    Vote,
)
from broker.store.envelopes import envelope_columns, envelope_of
from broker.store.obligations_repo import as_utc
from broker.store.tables import information_request_answers, resolution_ballots, resolutions

__all__ = ["ResolutionRepository"]


def _utc_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


def _ballot(row: Any) -> Ballot:
    return Ballot(
        voter_id=row.voter_id,
        user_id=row.user_id,
        vote=None if row.vote is None else Vote(row.vote),
        recused=bool(row.recused),
        proxy_to=row.proxy_to,
        seat=bool(row.seat),
        reason=row.reason,
        at=as_utc(row.created_at),
    )


def _resolution(row: Any, ballots: Sequence[Ballot]) -> Resolution:
    return Resolution(
        id=row.id,
        kind=ResolutionKind(row.kind),
        body=ResolutionBody(row.body),
        title=row.title,
        text=row.text,
        subject_member_id=row.subject_member_id,
        status=ResolutionStatus(row.status),
        created_by=row.created_by,
        created_at=as_utc(row.created_at),
        closes_at=_utc_or_none(row.closes_at),
        decided_at=_utc_or_none(row.decided_at),
        effective_at=_utc_or_none(row.effective_at),
        published_at=_utc_or_none(row.published_at),
        seats=tuple(row.seats),
        electorate=tuple(row.electorate),
        purpose=row.purpose,
        scope=None if row.scope is None else Scope.from_json(row.scope),
        target_member_ids=tuple(row.target_member_ids),
        refusal_reason=row.refusal_reason,
        ballots=tuple(ballots),
        tally=Tally(**row.tally) if row.tally else Tally(),
        sealed=None if row.wrapped_key is None else envelope_of(row),
    )


# A sealed resolution's clear text columns: empty (`title` is NOT NULL).
_NO_CLEAR_TEXTS = {"title": "", "text": None, "purpose": None, "refusal_reason": None}


class ResolutionRepository:
    """Resolutions and their ballots, on one unit of work's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, resolution: Resolution, sealed: Envelope) -> None:
        """Store a new (open) resolution, its texts `sealed` (its own text fields are
        not stored)."""
        await self._conn.execute(
            insert(resolutions).values(
                id=resolution.id,
                kind=resolution.kind.value,
                body=resolution.body.value,
                subject_member_id=resolution.subject_member_id,
                status=resolution.status.value,
                created_by=resolution.created_by,
                created_at=resolution.created_at,
                closes_at=resolution.closes_at,
                seats=list(resolution.seats),
                electorate=list(resolution.electorate),
                scope=None if resolution.scope is None else resolution.scope.to_json(),
                target_member_ids=list(resolution.target_member_ids),
                **_NO_CLEAR_TEXTS,
                **envelope_columns(sealed),
            )
        )

    async def reseal(self, resolution_id: str, sealed: Envelope) -> None:
        """Replace a resolution's sealed texts (a reason was added), and clear the
        clear columns and ballot reasons of a resolution stored before the seal."""
        await self._conn.execute(
            update(resolutions)
            .where(resolutions.c.id == resolution_id)
            .values(**_NO_CLEAR_TEXTS, **envelope_columns(sealed))
        )
        await self._conn.execute(
            update(resolution_ballots)
            .where(
                resolution_ballots.c.resolution_id == resolution_id,
                resolution_ballots.c.reason.is_not(None),
            )
            .values(reason=None)
        )

    async def unsealed(self, limit: int) -> list[Resolution]:
        """Up to `limit` resolutions stored before texts were sealed, with their ballots."""
        query = (
            select(resolutions)
            .where(resolutions.c.wrapped_key.is_(None))
            .order_by(resolutions.c.id)
            .limit(limit)
        )
        return await self._with_ballots((await self._conn.execute(query)).all())

    async def get(self, resolution_id: str) -> Resolution | None:
        """One resolution with its ballots, or None."""
        row = (
            await self._conn.execute(select(resolutions).where(resolutions.c.id == resolution_id))
        ).one_or_none()
        if row is None:
            return None
        return _resolution(row, await self._ballots_of(resolution_id))

    async def _ballots_of(self, resolution_id: str) -> list[Ballot]:
        query = (
            select(resolution_ballots)
            .where(resolution_ballots.c.resolution_id == resolution_id)
            .order_by(resolution_ballots.c.created_at, resolution_ballots.c.voter_id)
        )
        return [_ballot(r) for r in (await self._conn.execute(query)).all()]

    async def listing(
        self,
        *,
        status: ResolutionStatus | None = None,
        kind: ResolutionKind | None = None,
        before: str | None = None,
        limit: int = 100,
    ) -> list[Resolution]:
        """Resolutions newest first (ids before `before`), without their ballots'
        detail beyond what each row holds; the services filter what a caller sees."""
        query = select(resolutions).order_by(resolutions.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(resolutions.c.status == status.value)
        if kind is not None:
            query = query.where(resolutions.c.kind == kind.value)
        if before is not None:
            query = query.where(resolutions.c.id < before)
        return await self._with_ballots((await self._conn.execute(query)).all())

    async def _with_ballots(self, rows: Sequence[Any]) -> list[Resolution]:
        """The resolutions of `rows`, in order, with their ballots (one query for all)."""
        ids = [r.id for r in rows]
        by_resolution: dict[str, list[Ballot]] = {i: [] for i in ids}
        if ids:
            ballot_rows = (
                await self._conn.execute(
                    select(resolution_ballots)
                    .where(resolution_ballots.c.resolution_id.in_(ids))
                    .order_by(resolution_ballots.c.created_at, resolution_ballots.c.voter_id)
                )
            ).all()
            for b in ballot_rows:
                by_resolution[b.resolution_id].append(_ballot(b))
        return [_resolution(r, by_resolution[r.id]) for r in rows]

    async def add_ballot(self, resolution_id: str, ballot: Ballot) -> None:
        """Record one act on a resolution (the primary key refuses a second)."""
        await self._conn.execute(
            insert(resolution_ballots).values(
                resolution_id=resolution_id,
                voter_id=ballot.voter_id,
                user_id=ballot.user_id,
                vote=None if ballot.vote is None else ballot.vote.value,
                recused=ballot.recused,
                proxy_to=ballot.proxy_to,
                seat=ballot.seat,
                # A recusal's reason is sealed with the resolution's texts (`reseal`).
                reason=None,
                created_at=ballot.at,
            )
        )

    async def decide(
        self,
        resolution_id: str,
        status: ResolutionStatus,
        tally: Tally,
        at: datetime,
        *,
        effective: bool,
    ) -> bool:
        """Close an open resolution with `status` and the tally it was decided on;
        False if it was no longer open (another replica or request decided it)."""
        result = await self._conn.execute(
            update(resolutions)
            .where(
                resolutions.c.id == resolution_id,
                resolutions.c.status == ResolutionStatus.OPEN.value,
            )
            .values(
                status=status.value,
                tally=asdict(tally),
                decided_at=at,
                effective_at=at if effective else None,
            )
        )
        return bool(result.rowcount)

    async def publish(self, resolution_id: str, at: datetime) -> None:
        """Mark a decided resolution's record published (once)."""
        await self._conn.execute(
            update(resolutions)
            .where(resolutions.c.id == resolution_id, resolutions.c.published_at.is_(None))
            .values(published_at=at)
        )

    async def due(self, now: datetime, limit: int = 100) -> list[str]:
        """Open resolutions whose deadline has come, oldest deadline first."""
        query = (
            select(resolutions.c.id)
            .where(
                resolutions.c.status == ResolutionStatus.OPEN.value,
                resolutions.c.closes_at.is_not(None),
                resolutions.c.closes_at <= now,
            )
            .order_by(resolutions.c.closes_at)
            .limit(limit)
        )
        return list((await self._conn.execute(query)).scalars())

    async def passed_exception_for(self, member_id: str) -> bool:
        """Whether a `task_force_exception` for `member_id` has passed (art. 6(4))."""
        query = select(resolutions.c.id).where(
            resolutions.c.kind == ResolutionKind.TASK_FORCE_EXCEPTION.value,
            resolutions.c.subject_member_id == member_id,
            resolutions.c.status == ResolutionStatus.PASSED.value,
        )
        return (await self._conn.execute(query)).first() is not None

    async def open_about(self, member_id: str) -> list[str]:
        """Open resolutions about `member_id` (its subject)."""
        query = select(resolutions.c.id).where(
            resolutions.c.subject_member_id == member_id,
            resolutions.c.status == ResolutionStatus.OPEN.value,
        )
        return list((await self._conn.execute(query)).scalars())

    # Information requests (art. 23).

    async def passed_requests(self) -> list[Resolution]:
        """Every passed information request, newest first (few: the services pick a
        member's own)."""
        query = (
            select(resolutions)
            .where(
                resolutions.c.kind == ResolutionKind.INFORMATION_REQUEST.value,
                resolutions.c.status == ResolutionStatus.PASSED.value,
            )
            .order_by(resolutions.c.id.desc())
        )
        return [_resolution(r, ()) for r in (await self._conn.execute(query)).all()]

    async def answers(
        self, resolution_ids: Sequence[str], member_id: str | None = None
    ) -> dict[str, list[tuple[str, str, datetime]]]:
        """(member id, item id, answered at) of the answers to each request, by request."""
        found: dict[str, list[tuple[str, str, datetime]]] = {i: [] for i in resolution_ids}
        if not resolution_ids:
            return found
        query = select(information_request_answers).where(
            information_request_answers.c.resolution_id.in_(list(resolution_ids))
        )
        if member_id is not None:
            query = query.where(information_request_answers.c.member_id == member_id)
        query = query.order_by(information_request_answers.c.answered_at)
        for row in (await self._conn.execute(query)).all():
            found[row.resolution_id].append((row.member_id, row.item_id, as_utc(row.answered_at)))
        return found

    async def add_answer(
        self, resolution_id: str, member_id: str, item_id: str, at: datetime
    ) -> None:
        """Record that `item_id` answers the request for `member_id`."""
        await self._conn.execute(
            insert(information_request_answers).values(
                resolution_id=resolution_id, member_id=member_id, item_id=item_id, answered_at=at
            )
        )
