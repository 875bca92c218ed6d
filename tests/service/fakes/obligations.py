"""In memory: obligations, their sealed comments, and the sweeper's queries."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from broker.crypto import Envelope
from broker.domain import ItemKind
from broker.domain.obligations import SealedObligation
from broker.feedback import Obligation, ObligationStatus


class FakeObligationRepository:
    """In memory: obligations, as `broker.store.obligations_repo.ObligationRepository`
    keeps them."""

    def __init__(self) -> None:
        self.stored: dict[str, SealedObligation] = {}
        # (provider, created_at, kind) of original items, as the items table would answer.
        self.originals: list[tuple[str, datetime, ItemKind]] = []

    def all(self) -> list[Obligation]:
        """Every stored obligation, by id (for assertions)."""
        return [self.stored[i].obligation for i in sorted(self.stored)]

    def change(self, ob_id: str, **changes: object) -> None:
        """Change a stored obligation's fields, as an earlier commit would have."""
        sealed = self.stored[ob_id]
        self.stored[ob_id] = dataclasses.replace(
            sealed, obligation=dataclasses.replace(sealed.obligation, **changes)
        )

    async def members_owing(self, item_id: str) -> set[str]:
        """The members that have an obligation (in any state) on `item_id`."""
        return {ob.member_id for ob in self.all() if ob.item_id == item_id}

    async def add(self, owed: Sequence[Obligation], created_at: datetime) -> None:
        """Store new obligations; one per member and item, as the unique constraint has it."""
        for ob in owed:
            if ob.member_id in await self.members_owing(ob.item_id):
                raise AssertionError(f"a second obligation of {ob.member_id} on {ob.item_id}")
            self.stored[ob.id] = SealedObligation(ob)

    async def open_on_item(
        self, item_id: str, *, except_members: Sequence[str] = ()
    ) -> list[Obligation]:
        """The open obligations on `item_id` (of members other than `except_members`)."""
        return [
            ob
            for ob in self.all()
            if ob.item_id == item_id and ob.is_open and ob.member_id not in except_members
        ]

    async def open_of_member(self, member_id: str) -> list[Obligation]:
        """The open obligations of `member_id`."""
        return [ob for ob in self.all() if ob.member_id == member_id and ob.is_open]

    async def lift(self, ids: Sequence[str], status: ObligationStatus, at: datetime) -> int:
        """Move the open obligations among `ids` to `status`."""
        lifted = [i for i in ids if i in self.stored and self.stored[i].obligation.is_open]
        for ob_id in lifted:
            self.change(ob_id, status=status)
        return len(lifted)

    async def erase_comments(self, item_id: str) -> None:
        """Erase every answer's comment on `item_id`."""
        for ob_id, sealed in list(self.stored.items()):
            if sealed.obligation.item_id == item_id:
                self.stored[ob_id] = dataclasses.replace(sealed, comment=None)

    async def owed(
        self,
        member_id: str,
        *,
        open_only: bool,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Obligation]:
        """What `member_id` owes, by due time then id, from just after `after`."""
        found = sorted(
            (
                ob
                for ob in self.all()
                if ob.member_id == member_id
                and (ob.is_open or not open_only)
                and (after is None or (ob.due_at, ob.id) > after)
            ),
            key=lambda ob: (ob.due_at, ob.id),
        )
        return found[:limit]

    async def owed_on(self, item_id: str, member_id: str) -> SealedObligation | None:
        """What `member_id` owes on `item_id` (the fake has no locks to take)."""
        return next(
            (
                s
                for s in self.stored.values()
                if s.obligation.item_id == item_id and s.obligation.member_id == member_id
            ),
            None,
        )

    async def on_item(self, item_id: str) -> list[SealedObligation]:
        """Every obligation on `item_id`, with its sealed comment, by id."""
        return [
            self.stored[i]
            for i in sorted(self.stored)
            if self.stored[i].obligation.item_id == item_id
        ]

    async def record_answer(self, ob: Obligation, comment: Envelope | None) -> None:
        """Store the answer `ob` holds; its comment only sealed."""
        self.stored[ob.id] = SealedObligation(dataclasses.replace(ob, comment=None), comment)

    async def falling_in(
        self, start: datetime, end: datetime, members: Collection[str]
    ) -> list[Obligation]:
        """The members' obligations due, or answered, in `[start, end)`."""
        return [
            ob
            for ob in self.all()
            if ob.member_id in members
            and (
                start <= ob.due_at < end
                or (ob.answered_at is not None and start <= ob.answered_at < end)
            )
        ]

    async def original_submissions(
        self, start: datetime, end: datetime, members: Collection[str]
    ) -> list[tuple[str, datetime, ItemKind]]:
        """The original items of `members` created in `[start, end)`."""
        return [o for o in self.originals if o[0] in members and start <= o[1] < end]

    async def to_sweep(
        self, at: datetime, lead: timedelta, after: str, limit: int
    ) -> list[Obligation]:
        """Open obligations that may need a reminder or an overdue mark at `at`, by id."""
        return [
            ob
            for ob in self.all()
            if ob.is_open
            and ob.id > after
            and (
                (ob.overdue_marked_at is None and ob.due_at <= at)
                or (ob.reminded_at is None and ob.due_at <= at + lead)
            )
        ][:limit]

    async def mark_reminded(self, ob_id: str, at: datetime) -> bool:
        """Record a reminder if none was and the deadline is still ahead."""
        ob = self.stored[ob_id].obligation
        if not ob.is_open or ob.reminded_at is not None or ob.due_at <= at:
            return False
        self.change(ob_id, reminded_at=at)
        return True

    async def mark_overdue(self, ob_id: str, at: datetime) -> bool:
        """Record the overdue mark if none was and the deadline has passed."""
        ob = self.stored[ob_id].obligation
        if not ob.is_open or ob.overdue_marked_at is not None or ob.due_at > at:
            return False
        self.change(ob_id, overdue_marked_at=at)
        return True
