"""The task force's feedback use cases: what a member owes, answering, seeing answers, the ledger.

SPEC §4 and API.md "Task force and feedback". Who owes what, whether an answer
is accepted, late or locked, the counts and the ledger are the pure
`broker.feedback` package's decisions; who sees which view of the answers is
`broker.tlp.feedback_views`'. This module gathers the facts, stores the
outcome with its audit event in one transaction, and answers 404 — revealing
nothing — whenever the caller may not see an item.

Feedback comments are content: sealed at rest like items, never written to
the audit log (the secretariat reads the log, not contents: art. 14(3)); nor
is a verdict, which says whether an operator was hit.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from broker import tlp
from broker.domain import Body, ItemFacts, ItemStatus, Tlp
from broker.errors import BrokerError, Conflict, Forbidden, IntegrityAlarm, InvalidInput, NotFound
from broker.feedback import (
    CURRENT_WEEK,
    ORIGINAL_KINDS,
    AnswerLocked,
    AnswerSummary,
    ContributionPolicy,
    InvalidVerdict,
    LedgerRow,
    Obligation,
    ObligationClosed,
    ObligationStatus,
    aggregate_answers,
    answer,
    is_overdue,
    ledger,
    parse_period,
)
from broker.services.core import Actor, Core, rfc3339
from broker.services.sealing import open_content
from broker.services.taskforce_sealing import open_comment, seal_comment
from broker.store.audit_repo import append_events
from broker.store.items_repo import ItemRepository, StoredItem
from broker.store.members_repo import bodies_with_handlers
from broker.store.obligations_repo import EventDraft, as_utc, insert_events, obligation_from_row
from broker.store.tables import bodies, items, obligations
from broker.tlp.feedback_views import feedback_view

__all__ = ["OBLIGATION_FILTERS", "TaskForceService"]

_NOT_FOUND = "no item with that id"

OBLIGATION_FILTERS = ("open", "all")
"""`GET /v1/obligations?status=`: what is still owed (default), or the whole history."""


class TaskForceService:
    """Obligations, answers, feedback views and the contribution ledger, each audited."""

    def __init__(self, core: Core) -> None:
        self.core = core

    # -- what the caller's member owes ------------------------------------------

    async def obligations(
        self, actor: Actor, limit: int, cursor: str | None, status: str = "open"
    ) -> dict[str, Any]:
        """What the caller's member owes, earliest deadline first (API.md `GET /v1/obligations`).

        Only obligations on items this user may open are listed, with the
        item's title: a user who may not open a secret item does not learn
        it exists (SPEC §3 rule 3).
        """
        if status not in OBLIGATION_FILTERS:
            raise InvalidInput("status is open or all", field="status")
        after = _decode_cursor(cursor)
        now = self.core.clock()
        page: list[dict[str, Any]] = []
        shown: list[str] = []
        next_cursor: str | None = None
        position = after
        async with self.core.db.read() as conn:
            while len(page) < limit:
                rows = await _owed(conn, actor.member_id, status, position, limit * 2)
                found = await ItemRepository(conn).get_many([r.item_id for r in rows])
                for row in rows:
                    position = (as_utc(row.due_at), row.id)
                    stored = found.get(row.item_id)
                    if stored is None or not _may_list(actor, stored.facts):
                        continue
                    title = self._title(stored)
                    page.append(_obligation_view(obligation_from_row(row), now, title))
                    shown.append(row.item_id)
                    if len(page) == limit:
                        next_cursor = _encode_cursor(*position)
                        break
                if next_cursor is not None or len(rows) < limit * 2:
                    break
        await self.core.audit(
            self.core.draft(actor, "obligation.list", details={"count": len(page)}, item_refs=shown)
        )
        return {"items": page, "next_cursor": next_cursor}

    def _title(self, stored: StoredItem) -> str | None:
        if stored.facts.status is not ItemStatus.ACTIVE:
            return None  # withdrawn: the content, title included, is destroyed
        try:
            content = open_content(self.core.keys, stored)
        except IntegrityAlarm:
            return None  # the item's own read path raises and audits the alarm
        return content.title

    # -- answering ---------------------------------------------------------------

    async def answer(
        self, actor: Actor, item_id: str, verdict: str, comment: str | None
    ) -> dict[str, Any]:
        """Answer what the caller's member owes on an item (API.md `POST /v1/items/{id}/feedback`).

        A first answer is always accepted and counted late from the due time
        on; until the due time it may change, each change audited; after it
        it is locked (`broker.feedback.answer`).
        """
        core = self.core
        stored = await self._readable(actor, item_id, "feedback.answer")
        now = core.clock()
        refusal: tuple[BrokerError, str] | None = None
        result: dict[str, Any] = {}
        async with core.db.write() as conn:
            row = (
                await conn.execute(
                    select(obligations)
                    .where(
                        obligations.c.item_id == stored.id,
                        obligations.c.member_id == actor.member_id,
                    )
                    .with_for_update()
                )
            ).one_or_none()
            if row is None:
                refusal = (
                    Forbidden("your member owes no feedback on this item"),
                    "no_obligation",
                )
            else:
                before = obligation_from_row(row, open_comment(core.ring_for, row))
                try:
                    after = answer(before, verdict, comment, now)
                except InvalidVerdict as exc:
                    field = "comment" if "comment" in str(exc) else "verdict"
                    refusal = (InvalidInput(str(exc), field=field), "invalid_verdict")
                except ObligationClosed:
                    refusal = (
                        Conflict(f"this obligation was {before.status}: no answer is owed"),
                        f"obligation_{before.status}",
                    )
                except AnswerLocked:
                    refusal = (
                        Conflict(
                            "the answer was given and its due time has passed: "
                            "it can no longer change"
                        ),
                        "answer_locked",
                    )
                else:
                    result = await self._store_answer(conn, actor, stored, before, after, now)
        if refusal is not None:
            error, reason = refusal
            raise await core.deny(
                error,
                core.draft(actor, "feedback.answer", "denied", item_id=stored.id, reason=reason),
            )
        return result

    async def _store_answer(
        self,
        conn: AsyncConnection,
        actor: Actor,
        stored: StoredItem,
        before: Obligation,
        after: Obligation,
        now: datetime,
    ) -> dict[str, Any]:
        core = self.core
        if after is before:
            change = "unchanged"  # a retry of the very same answer
        else:
            change = "first" if before.verdict is None else "changed"
            sealed = (
                seal_comment(core.ring, after.id, after.item_id, after.member_id, after.comment)
                if after.comment is not None
                else (None, None, None)
            )
            await conn.execute(
                update(obligations)
                .where(obligations.c.id == after.id)
                .values(
                    status=after.status.value,
                    verdict=after.verdict.value if after.verdict else None,
                    comment=sealed[0],
                    comment_wrapped_key=sealed[1],
                    comment_kek_version=sealed[2],
                    answered_at=as_utc(after.answered_at) if after.answered_at else None,
                    late=after.late,
                    changes=after.changes,
                )
            )
            # The provider always gets feedback (SPEC §4): tell its stream.
            await insert_events(
                conn,
                [
                    EventDraft(
                        member_id=stored.facts.provider_id,
                        kind="feedback",
                        item_id=stored.id,
                        created_at=now,
                        payload={
                            "item_id": stored.id,
                            "obligation_id": after.id,
                            "kind": after.kind.value,
                            "change": change,
                            "late": after.late,
                        },
                    )
                ],
            )
        # Neither verdict nor comment goes into the log: they are content.
        await append_events(
            conn,
            [
                core.draft(
                    actor,
                    "feedback.answer",
                    item_id=stored.id,
                    details={
                        "obligation_id": after.id,
                        "kind": after.kind.value,
                        "change": change,
                        "late": after.late,
                        "changes": after.changes,
                    },
                )
            ],
        )
        view = _answer_view(after, now)
        view["change"] = change
        return view

    # -- seeing the answers ------------------------------------------------------

    async def feedback(self, actor: Actor, item_id: str) -> dict[str, Any]:
        """The answers on an item as far as the caller may see them (SPEC §4).

        `individual` for the provider and the coordinator, `aggregate` counts
        (plus one's own answer) for the rest of the tier-one group, `own` for
        a tier-two member; 404 for anyone else.
        """
        core = self.core
        now = core.clock()
        async with core.db.read() as conn:
            stored = await ItemRepository(conn).get(item_id)
        view = feedback_view(actor.reader, stored.facts) if stored is not None else None
        if stored is None or view is None:
            reason = "not_found" if stored is None else _read_reasons(actor, stored.facts)
            raise await self._not_found(actor, "feedback.read", item_id, reason)
        async with core.db.read() as conn:
            rows = (
                await conn.execute(
                    select(obligations)
                    .where(obligations.c.item_id == stored.id)
                    .order_by(obligations.c.id)
                )
            ).all()
            member_ids = sorted({r.member_id for r in rows})
            owing = await bodies_with_handlers(conn, now, ids=member_ids)
            names = await _names(conn, member_ids)
        result: dict[str, Any] = {
            "item_id": stored.id,
            "view": view,
            "item": {
                "kind": str(stored.facts.kind),
                "confidence": str(stored.facts.confidence),
                "status": str(stored.facts.status),
                "feedback_due": rfc3339(stored.feedback_due)
                if stored.feedback_due is not None
                else None,
            },
            "summary": None,
            "answers": None,
            "own": None,
        }
        try:
            if view in ("individual", "aggregate"):
                plain = [obligation_from_row(r) for r in rows]
                result["summary"] = _summary_view(aggregate_answers(plain, owing, now))
            if view == "individual":
                result["answers"] = [
                    _individual_view(
                        obligation_from_row(r, open_comment(core.ring_for, r)),
                        owing[r.member_id],
                        names.get(r.member_id),
                        now,
                    )
                    for r in rows
                ]
            else:
                mine = next((r for r in rows if r.member_id == actor.member_id), None)
                if mine is not None:
                    own = obligation_from_row(mine, open_comment(core.ring_for, mine))
                    result["own"] = _answer_view(own, now)
        except IntegrityAlarm:
            await core.audit(
                core.draft(
                    actor,
                    "integrity.alarm",
                    "error",
                    item_id=stored.id,
                    reason="feedback_comment_failed_authentication",
                )
            )
            raise
        await core.audit(
            core.draft(actor, "feedback.read", item_id=stored.id, details={"view": view})
        )
        return result

    # -- the contribution ledger -------------------------------------------------

    async def ledger(self, actor: Actor, period: str | None) -> dict[str, Any]:
        """The contribution ledger for a period (API.md `GET /v1/ledger?period=`).

        The coordinator sees every task-force member's row; a member sees its
        own (general members have no duties and so no row). Members below the
        task force's thresholds are flagged for status review (SPEC §4).
        """
        core = self.core
        if actor.is_secretariat:
            raise await core.deny(
                Forbidden("the ledger is the coordinator's and each member's own"),
                core.draft(actor, "ledger.read", "denied", reason="secretariat"),
            )
        now = core.clock()
        try:
            start, end = parse_period(period, now)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="period") from None
        policy = contribution_policy(core)
        async with core.db.read() as conn:
            everyone = await bodies_with_handlers(conn, now)
            members = (
                list(everyone.values()) if actor.is_coordinator else [everyone[actor.member_id]]
            )
            wanted = {m.id for m in members}
            submissions = await _original_submissions(conn, start, end, wanted)
            owed = await _obligations_in(conn, start, end, wanted)
            names = await _names(conn, sorted(wanted))
        rows = ledger(members, submissions, owed, start, end, now, policy)
        await core.audit(
            core.draft(
                actor, "ledger.read", details={"period": period or CURRENT_WEEK, "rows": len(rows)}
            )
        )
        return {
            "period": {
                "name": period or CURRENT_WEEK,
                "start": rfc3339(start),
                "end": rfc3339(end),
            },
            "policy": {
                "min_original_submissions_tier_one": policy.min_original_submissions_tier_one,
                "min_on_time_ratio": policy.min_on_time_ratio,
            },
            "items": [_ledger_view(row, everyone[row.member_id], names) for row in rows],
            "next_cursor": None,
        }

    # -- shared ----------------------------------------------------------------------

    async def _readable(self, actor: Actor, item_id: str, action: str) -> StoredItem:
        async with self.core.db.read() as conn:
            stored = await ItemRepository(conn).get(item_id)
        if stored is None:
            raise await self._not_found(actor, action, item_id, "not_found")
        decision = tlp.may_read(actor.reader, stored.facts)
        if not decision:
            raise await self._not_found(
                actor, action, item_id, ",".join(str(r) for r in decision.reasons)
            )
        return stored

    async def _not_found(self, actor: Actor, action: str, item_id: str, reason: str) -> BrokerError:
        # One answer for "absent" and "not yours" (API.md); the reason is only audited.
        return await self.core.deny(
            NotFound(_NOT_FOUND, field="id"),
            self.core.draft(actor, action, "denied", item_id=item_id[:64], reason=reason),
        )


def contribution_policy(core: Core) -> ContributionPolicy:
    """The task force's thresholds from the settings (charter art. 24(5))."""
    return ContributionPolicy(
        min_original_submissions_tier_one=core.settings.contribution_min_original_submissions,
        min_on_time_ratio=core.settings.contribution_min_on_time_ratio,
    )


def _read_reasons(actor: Actor, facts: ItemFacts) -> str:
    decision = tlp.may_read(actor.reader, facts)
    return ",".join(str(r) for r in decision.reasons) or "no_feedback_view"


def _may_list(actor: Actor, facts: ItemFacts) -> bool:
    """Whether an obligation on `facts` shows in this user's list.

    A live item: if the user may open it. A withdrawn one (its obligations
    cancelled): if the user could have opened it by its labels — the member
    received it, so only the handler rule (art. 18(4), TLP:RED) still applies.
    """
    if facts.status is ItemStatus.ACTIVE:
        return bool(tlp.may_read(actor.reader, facts))
    needs_handler = facts.effective_secret or facts.effective_tlp is Tlp.RED
    return actor.is_handler or not needs_handler


async def _owed(
    conn: AsyncConnection,
    member_id: str,
    status: str,
    after: tuple[datetime, str] | None,
    count: int,
) -> Sequence[Any]:
    query = select(obligations).where(obligations.c.member_id == member_id)
    if status == "open":
        query = query.where(obligations.c.status == ObligationStatus.OPEN.value)
    if after is not None:
        due, ob_id = after
        query = query.where(
            or_(
                obligations.c.due_at > due,
                and_(obligations.c.due_at == due, obligations.c.id > ob_id),
            )
        )
    query = query.order_by(obligations.c.due_at, obligations.c.id).limit(count)
    return (await conn.execute(query)).all()


async def _names(conn: AsyncConnection, member_ids: Sequence[str]) -> dict[str, str]:
    if not member_ids:
        return {}
    rows = (
        await conn.execute(select(bodies.c.id, bodies.c.name).where(bodies.c.id.in_(member_ids)))
    ).all()
    return {r.id: r.name for r in rows}


async def _original_submissions(
    conn: AsyncConnection, start: datetime, end: datetime, members: set[str]
) -> list[tuple[str, datetime, Any]]:
    """Items the members supplied themselves in the period (charter annex: オリジナル情報).

    An item derived from another member's items is passing information on,
    not supplying it; one derived only from the provider's own items is still
    its own.
    """
    if not members:
        return []
    rows = (
        await conn.execute(
            select(
                items.c.id,
                items.c.provider_id,
                items.c.created_at,
                items.c.kind,
                items.c.derived_from,
            ).where(
                items.c.created_at >= start,
                items.c.created_at < end,
                items.c.provider_id.in_(sorted(members)),
                items.c.kind.in_(sorted(k.value for k in ORIGINAL_KINDS)),
            )
        )
    ).all()
    source_ids = sorted({s for r in rows for s in r.derived_from})
    providers: dict[str, str] = {}
    if source_ids:
        found = await conn.execute(
            select(items.c.id, items.c.provider_id).where(items.c.id.in_(source_ids))
        )
        providers = {r.id: r.provider_id for r in found.all()}
    return [
        (r.provider_id, as_utc(r.created_at), r.kind)
        for r in rows
        if all(providers.get(s) == r.provider_id for s in r.derived_from)
    ]


async def _obligations_in(
    conn: AsyncConnection, start: datetime, end: datetime, members: set[str]
) -> list[Obligation]:
    """Obligations that fall due, or were answered, in the period (broker.feedback.ledger)."""
    if not members:
        return []
    rows = (
        await conn.execute(
            select(obligations).where(
                obligations.c.member_id.in_(sorted(members)),
                or_(
                    and_(obligations.c.due_at >= start, obligations.c.due_at < end),
                    and_(obligations.c.answered_at >= start, obligations.c.answered_at < end),
                ),
            )
        )
    ).all()
    return [obligation_from_row(r) for r in rows]


def _time(moment: datetime | None) -> str | None:
    return rfc3339(moment) if moment is not None else None


def _answer_view(ob: Obligation, now: datetime) -> dict[str, Any]:
    """One obligation with its answer, for the member that owes it (or the privileged)."""
    return {
        "obligation_id": ob.id,
        "item_id": ob.item_id,
        "kind": ob.kind.value,
        "status": ob.status.value,
        "due_at": rfc3339(ob.due_at),
        "overdue": is_overdue(ob, now),
        "verdict": ob.verdict.value if ob.verdict else None,
        "comment": ob.comment,
        "answered_at": _time(ob.answered_at),
        "late": ob.late,
        "changes": ob.changes,
    }


def _obligation_view(ob: Obligation, now: datetime, title: str | None) -> dict[str, Any]:
    view = _answer_view(ob, now)
    view.update(
        id=ob.id,
        due=rfc3339(ob.due_at),  # the SDK's name for the due time
        title=title,
        reminded_at=_time(ob.reminded_at),
        overdue_marked_at=_time(ob.overdue_marked_at),
    )
    view.pop("comment")  # a listing shows what is owed, not what was said
    return view


def _individual_view(ob: Obligation, body: Body, name: str | None, now: datetime) -> dict[str, Any]:
    view = _answer_view(ob, now)
    view.update(
        member_id=ob.member_id, member_name=name, category=body.category.value, tier=body.tier.value
    )
    return view


def _counts(counts: Any) -> dict[str, int]:
    data: dict[str, int] = asdict(counts)
    data["answered"] = counts.answered
    return data


def _summary_view(summary: AnswerSummary) -> dict[str, Any]:
    """Counts overall and by member category (art. 17(2)): no member named."""
    return {
        "quick_answers": _counts(summary.quick_answers),
        "quick_answers_by_category": {
            str(c): _counts(n) for c, n in summary.quick_answers_by_category.items()
        },
        "expert_feedback": _counts(summary.expert_feedback),
        "expert_feedback_by_category": {
            str(c): _counts(n) for c, n in summary.expert_feedback_by_category.items()
        },
    }


def _ledger_view(row: LedgerRow, body: Body, names: dict[str, str]) -> dict[str, Any]:
    return {
        "member_id": row.member_id,
        "name": names.get(row.member_id),
        "kind": body.kind.value,
        "tier": body.tier.value,
        "category": body.category.value,
        "status": body.status.value,
        "original_submissions": row.original_submissions,
        "feedback_given": row.feedback_given,
        "answers_on_time": row.answers_on_time,
        "answers_late": row.answers_late,
        "answers_missing": row.answers_missing,
        "obligations_total": row.obligations_total,
        "score": round(row.score, 4),
        "flagged": row.flagged,
        "reasons": [str(r) for r in row.reasons],
    }


def _encode_cursor(due: datetime, ob_id: str) -> str:
    raw = f"{rfc3339(due)}|{ob_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        due_text, ob_id = raw.split("|")
        due = datetime.fromisoformat(due_text.replace("Z", "+00:00"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("bad cursor", field="cursor") from None
    if due.tzinfo is None or not ob_id or len(ob_id) > 40 or not ob_id.isalnum():
        raise InvalidInput("bad cursor", field="cursor")
    return as_utc(due), ob_id
