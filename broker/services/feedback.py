"""The task force's feedback use cases: what a member owes, answering, seeing the answers.

SPEC §4 and docs/api.md "Task force". Who owes what, whether an answer
is accepted, late or locked, and the counts are the pure `broker.feedback`
package's decisions; who sees which view of the answers is
`broker.tlp.feedback_views`'. This module gathers the facts, stores the
outcome with its audit event in one unit of work, and answers 404 — revealing
nothing — whenever the caller may not see an item.

Feedback comments are content: sealed at rest like items (SPEC §2), never
written to the audit log (the secretariat reads the log, not contents: art.
14(3)); nor is a verdict, which says whether an operator was hit.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from broker import tlp
from broker.crypto import Envelope, IntegrityFailure, canonical_json, open_envelope, seal
from broker.domain import Actor, AuditAction, EventDraft, EventKind, ItemFacts, ItemStatus
from broker.domain.obligations import (
    Answer,
    AnswerChange,
    FeedbackItem,
    ItemFeedback,
    MemberAnswer,
    ObligationPage,
    OwedObligation,
    SealedObligation,
)
from broker.domain.timestamps import rfc3339
from broker.errors import BrokerError, Conflict, Forbidden, IntegrityAlarm, InvalidInput, NotFound
from broker.feedback import (
    AnswerLocked,
    InvalidVerdict,
    Obligation,
    ObligationClosed,
    aggregate_answers,
    answer,
    is_overdue,
    without_small_cells,
)
from broker.services.auditor import Auditor
from broker.services.clock import Clock
from broker.services.keyring import Keys
from broker.services.paging import decode_cursor, encode_cursor
from broker.services.sealing import open_content
from broker.store.items_repo import StoredItem
from broker.store.obligations_repo import as_utc
from broker.store.uow import Store, UnitOfWork
from broker.tlp import feedback_view

__all__ = ["OBLIGATION_FILTERS", "FeedbackService", "comment_key_aad"]

_NOT_FOUND = "no item with that id"

OBLIGATION_FILTERS = ("open", "all")
"""`GET /v1/obligations?status=`: what is still owed (default), or the whole history."""


class FeedbackService:
    """Obligations as their members see them, answers and the feedback views, each audited."""

    def __init__(self, *, store: Store, clock: Clock, keys: Keys, auditor: Auditor) -> None:
        self._store = store
        self._clock = clock
        self._keys = keys
        self._auditor = auditor

    # -- what the caller's member owes ------------------------------------------

    async def obligations(
        self, actor: Actor, limit: int, cursor: str | None, status: str = "open"
    ) -> ObligationPage:
        """What the caller's member owes, earliest deadline first (`GET /v1/obligations`).

        Only obligations on items this user may open are listed, with the
        item's title: a user who may not open a secret item does not learn
        it exists (SPEC §3 rule 3).
        """
        if status not in OBLIGATION_FILTERS:
            raise InvalidInput("status is open or all", field="status")
        position = _decode_position(cursor)
        now = self._clock()
        page: list[OwedObligation] = []
        next_cursor: str | None = None
        async with self._store.read() as uow:
            while len(page) < limit:
                owed = await uow.obligations.owed(
                    actor.member_id, open_only=status == "open", after=position, limit=limit * 2
                )
                found = await uow.items.get_many([ob.item_id for ob in owed])
                for ob in owed:
                    position = (ob.due_at, ob.id)
                    stored = found.get(ob.item_id)
                    if stored is None or not tlp.may_list_obligation(actor.reader, stored.facts):
                        continue
                    page.append(OwedObligation(ob, self._title(stored), is_overdue(ob, now)))
                    if len(page) == limit:
                        next_cursor = encode_cursor(rfc3339(ob.due_at), ob.id)
                        break
                if next_cursor is not None or len(owed) < limit * 2:
                    break
        await self._auditor.record(
            self._auditor.draft(
                actor,
                AuditAction.OBLIGATION_LIST,
                details={"count": len(page)},
                item_refs=[entry.obligation.item_id for entry in page],
            )
        )
        return ObligationPage(tuple(page), next_cursor)

    def _title(self, stored: StoredItem) -> str | None:
        """The item's title for a listing; None if withdrawn or it does not open."""
        if stored.facts.status is not ItemStatus.ACTIVE:
            return None  # withdrawn: the content, title included, is destroyed
        try:
            return open_content(self._keys, stored).title
        except IntegrityAlarm:
            return None  # the item's own read path raises and audits the alarm

    # -- answering ---------------------------------------------------------------

    async def answer(self, actor: Actor, item_id: str, verdict: str, comment: str | None) -> Answer:
        """Answer what the caller's member owes on an item (`POST /v1/items/{id}/feedback`).

        A first answer is always accepted and counted late from the due time
        on; until the due time it may change, each change audited; after it
        it is locked (`broker.feedback.answer`).
        """
        stored = await self._readable(actor, item_id, AuditAction.FEEDBACK_ANSWER)
        now = self._clock()
        refusal: tuple[BrokerError, str] | None = None
        result: Answer | None = None
        async with self._store.write() as uow:
            owed = await uow.obligations.owed_on(stored.id, actor.member_id)
            if owed is None:
                refusal = (
                    Forbidden("your member owes no feedback on this item", reason="no_obligation"),
                    "no_obligation",
                )
            else:
                before = self._opened(owed)
                try:
                    after = answer(before, verdict, comment, now)
                except InvalidVerdict as exc:
                    field = "comment" if "comment" in str(exc) else "verdict"
                    refusal = (
                        InvalidInput(str(exc), field=field, reason=InvalidVerdict.code),
                        InvalidVerdict.code,
                    )
                except ObligationClosed:
                    refusal = (
                        Conflict(
                            f"this obligation was {before.status}: no answer is owed",
                            reason=ObligationClosed.code,
                        ),
                        f"obligation_{before.status}",
                    )
                except AnswerLocked:
                    refusal = (
                        Conflict(
                            "the answer was given and its due time has passed: "
                            "it can no longer change",
                            reason=AnswerLocked.code,
                        ),
                        AnswerLocked.code,
                    )
                else:
                    result = await self._store_answer(uow, actor, stored, before, after, now)
        if refusal is not None:
            error, reason = refusal
            raise await self._auditor.deny(
                error,
                self._auditor.draft(
                    actor,
                    AuditAction.FEEDBACK_ANSWER,
                    "denied",
                    item_id=stored.id,
                    reason=reason,
                ),
            )
        assert result is not None  # refused otherwise
        return result

    async def _store_answer(
        self,
        uow: UnitOfWork,
        actor: Actor,
        stored: StoredItem,
        before: Obligation,
        after: Obligation,
        now: datetime,
    ) -> Answer:
        if after is before:
            change = AnswerChange.UNCHANGED  # a retry of the very same answer
        else:
            change = AnswerChange.FIRST if before.verdict is None else AnswerChange.CHANGED
            sealed = _seal_comment(self._keys, after) if after.comment is not None else None
            await uow.obligations.record_answer(after, sealed)
            # The provider always gets feedback (SPEC §4): tell its stream.
            await uow.feed.append(
                [
                    EventDraft(
                        member_id=stored.facts.provider_id,
                        kind=EventKind.FEEDBACK,
                        item_id=stored.id,
                        created_at=now,
                        payload={
                            "item_id": stored.id,
                            "obligation_id": after.id,
                            "kind": after.kind.value,
                            "change": change.value,
                            "late": after.late,
                        },
                    )
                ]
            )
        # Neither verdict nor comment goes into the log: they are content.
        await uow.audit.append(
            [
                self._auditor.draft(
                    actor,
                    AuditAction.FEEDBACK_ANSWER,
                    item_id=stored.id,
                    details={
                        "obligation_id": after.id,
                        "kind": after.kind.value,
                        "change": change.value,
                        "late": after.late,
                        "changes": after.changes,
                    },
                )
            ]
        )
        return Answer(after, is_overdue(after, now), change)

    # -- seeing the answers ------------------------------------------------------

    async def feedback(self, actor: Actor, item_id: str) -> ItemFeedback:
        """The answers on an item as far as the caller may see them (SPEC §4).

        `individual` for the provider and the coordinator, `aggregate` counts
        (plus one's own answer) for the rest of the tier-one group, `own` for
        a tier-two member; 404 for anyone else.
        """
        now = self._clock()
        async with self._store.read() as uow:
            stored = await uow.items.get(item_id)
        view = feedback_view(actor.reader, stored.facts) if stored is not None else None
        if stored is None or view is None:
            reason = "not_found" if stored is None else _read_reasons(actor, stored.facts)
            raise await self._not_found(actor, AuditAction.FEEDBACK_READ, item_id, reason)
        async with self._store.read() as uow:
            owed = await uow.obligations.on_item(stored.id)
            member_ids = sorted({s.obligation.member_id for s in owed})
            owing = await uow.members.bodies_with_handlers(now, ids=member_ids)
            names = await uow.members.names(member_ids)
        summary = None
        answers: tuple[MemberAnswer, ...] | None = None
        own: Answer | None = None
        try:
            if view in ("individual", "aggregate", "counts"):
                summary = aggregate_answers([s.obligation for s in owed], owing, now)
            if view == "counts" and summary is not None:
                # SPEC §4: a tier-two provider learns how many answered what, never
                # a category cell small enough to name whose answer it is.
                summary = without_small_cells(summary, tlp.MIN_CATEGORY_CELL)
            if view == "individual":
                answers = tuple(
                    MemberAnswer(
                        Answer(ob, is_overdue(ob, now)),
                        names.get(ob.member_id),
                        owing[ob.member_id].category,
                        owing[ob.member_id].tier,
                    )
                    for ob in (self._opened(s) for s in owed)
                )
            else:
                mine = next((s for s in owed if s.obligation.member_id == actor.member_id), None)
                if mine is not None:
                    ob = self._opened(mine)
                    own = Answer(ob, is_overdue(ob, now))
        except IntegrityAlarm:
            await self._auditor.record(
                self._auditor.draft(
                    actor,
                    AuditAction.INTEGRITY_ALARM,
                    "error",
                    item_id=stored.id,
                    reason="feedback_comment_failed_authentication",
                )
            )
            raise
        await self._auditor.record(
            self._auditor.draft(
                actor, AuditAction.FEEDBACK_READ, item_id=stored.id, details={"view": view}
            )
        )
        return ItemFeedback(
            item_id=stored.id,
            view=view,
            item=FeedbackItem(
                kind=stored.facts.kind,
                confidence=stored.facts.confidence,
                status=stored.facts.status,
                feedback_due=_feedback_due(stored),
            ),
            summary=summary,
            answers=answers,
            own=own,
        )

    # -- shared ----------------------------------------------------------------------

    def _opened(self, sealed: SealedObligation) -> Obligation:
        """The obligation with its comment opened, or IntegrityAlarm."""
        if sealed.comment is None:
            return sealed.obligation
        return _open_comment(self._keys, sealed)

    async def _readable(self, actor: Actor, item_id: str, action: AuditAction) -> StoredItem:
        async with self._store.read() as uow:
            stored = await uow.items.get(item_id)
        if stored is None:
            raise await self._not_found(actor, action, item_id, "not_found")
        decision = tlp.may_read(actor.reader, stored.facts)
        if not decision:
            raise await self._not_found(
                actor, action, item_id, ",".join(str(r) for r in decision.reasons)
            )
        return stored

    async def _not_found(
        self, actor: Actor, action: AuditAction, item_id: str, reason: str
    ) -> BrokerError:
        # One answer for "absent" and "not yours" (docs/api.md); the reason is only audited.
        return await self._auditor.deny(
            NotFound(_NOT_FOUND, field="id"),
            self._auditor.draft(actor, action, "denied", item_id=item_id[:64], reason=reason),
        )


def _feedback_due(stored: StoredItem) -> datetime | None:
    """When feedback on the stored item falls due, if it was asked for."""
    due = stored.feedback_due
    return None if due is None else as_utc(due)


def _read_reasons(actor: Actor, facts: ItemFacts) -> str:
    decision = tlp.may_read(actor.reader, facts)
    return ",".join(str(r) for r in decision.reasons) or "no_feedback_view"


def _decode_position(cursor: str | None) -> tuple[datetime, str] | None:
    """The (due time, id) after which a page of obligations starts."""
    if cursor is None:
        return None
    due_text, ob_id = decode_cursor(cursor, 2)
    try:
        due = datetime.fromisoformat(due_text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("bad cursor", field="cursor") from None
    if due.tzinfo is None or len(ob_id) > 40 or not ob_id.isalnum():
        raise InvalidInput("bad cursor", field="cursor")
    try:
        return as_utc(due), ob_id
    except OverflowError:  # an offset that carries the time past year 9999 in UTC
        raise InvalidInput("bad cursor", field="cursor") from None


# -- sealing comments ---------------------------------------------------------------
# Each comment gets a fresh data key wrapped by the key ring (`broker.crypto.seal`).
# The associated data binds the ciphertext to its obligation, item and member, so
# moving it to another row makes it fail to open (an integrity alarm), never a
# silent read.


def _comment_aad(ob_id: str, item_id: str, member_id: str) -> tuple[bytes, bytes]:
    content = canonical_json({"purpose": "feedback-comment", "obligation": ob_id})
    key = canonical_json(
        {
            "purpose": "feedback-comment-key",
            "obligation": ob_id,
            "item": item_id,
            "member": member_id,
        }
    )
    return content, key


def comment_key_aad(row: Any) -> bytes:
    """The associated data a stored obligation's comment key is wrapped with (key rotation)."""
    return _comment_aad(row.id, row.item_id, row.member_id)[1]


def _seal_comment(keys: Keys, ob: Obligation) -> Envelope:
    """Encrypt `ob`'s comment (member and item bound in)."""
    assert ob.comment is not None
    content_aad, key_aad = _comment_aad(ob.id, ob.item_id, ob.member_id)
    return seal(keys.ring, ob.comment.encode("utf-8"), content_aad=content_aad, key_aad=key_aad)


def _open_comment(keys: Keys, sealed: SealedObligation) -> Obligation:
    """The stored obligation with its comment decrypted, or IntegrityAlarm."""
    ob = sealed.obligation
    assert sealed.comment is not None
    content_aad, key_aad = _comment_aad(ob.id, ob.item_id, ob.member_id)
    try:
        text = open_envelope(
            keys.ring_for(sealed.comment.kek_version),
            sealed.comment,
            content_aad=content_aad,
            key_aad=key_aad,
        )
    except IntegrityFailure as exc:
        raise IntegrityAlarm() from exc
    return replace(ob, comment=text.decode("utf-8"))
