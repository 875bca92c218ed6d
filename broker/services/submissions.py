"""Submitting an item: validated, encrypted, routed, and written with its
obligations, feed events and audit event in a shared durable transaction.

Every decision is the pure policy's (`broker.tlp`); a refused submission is
audited and stores nothing.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from broker import tlp
from broker.crypto import canonical_json
from broker.domain import Actor, AuditAction, Confidence, EventKind, ItemFacts, ItemKind, Scope, Tlp
from broker.domain.items import ItemContent, Receipt, StoredItem, SubmitResult
from broker.domain.resolutions import ResolutionKind, ResolutionStatus
from broker.errors import Conflict, InvalidInput, NotFound
from broker.feedback import resolve_due
from broker.services.auditor import Auditor
from broker.services.clock import Clock
from broker.services.directory import Directory
from broker.services.ids import new_id
from broker.services.item_records import (
    NOT_FOUND,
    item_event,
    pad_denial,
    pending_view,
    reasons,
    submission_error,
)
from broker.services.keyring import Keys
from broker.services.obligations import DuePeriods, new_obligations
from broker.services.sealing import seal_content
from broker.services.stix_refs import StixRefs
from broker.store.submissions_repo import PreparedSubmission
from broker.store.uow import Store

__all__ = ["SubmissionService", "SubmitDraft", "check_idempotency_key"]

log = structlog.get_logger("broker.items")


@dataclass(frozen=True, slots=True)
class SubmitDraft:
    """A parsed submission (docs/api.md `POST /v1/items`)."""

    kind: ItemKind
    title: str
    body: str | None
    stix: dict[str, Any] | None
    tlp: Tlp
    secret: bool
    confidence: Confidence
    scope: Scope
    derived_from: tuple[str, ...]
    victim: dict[str, Any] | None
    feedback_due: str | None  # as asked: an ISO 8601 duration or an RFC 3339 time
    # The request as sent, in its JSON form: what an Idempotency-Key identifies.
    as_sent: Callable[[], Mapping[str, Any]]
    # Art. 23: the passed information request this item answers.
    information_request_id: str | None = None
    # What the caller is told, written in the submission's own transaction.
    receipt: Receipt | None = None
    # A retried key answers the first submission of any of the member's users,
    # not only the caller's own (a TAXII re-post, docs/taxii.md).
    key_per_member: bool = False


class SubmissionService:
    """`POST /v1/items`, audited."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        keys: Keys,
        directory: Directory,
        auditor: Auditor,
        due_defaults: DuePeriods,
        stix_refs: StixRefs,
    ) -> None:
        self._store = store
        self._clock = clock
        self._keys = keys
        self._directory = directory
        self._auditor = auditor
        self._due_defaults = due_defaults
        self._stix_refs = stix_refs

    async def submit(
        self, actor: Actor, draft: SubmitDraft, idempotency_key: str | None
    ) -> SubmitResult:
        """Store an item encrypted and route it exactly as far as the rules allow."""
        auditor = self._auditor
        if idempotency_key is not None:
            check_idempotency_key(idempotency_key)
        feedback_due = self._due_time(draft.kind, draft.feedback_due)
        # Only a keyed request can be replayed, so only it needs its digest. The
        # write recognises a retried key itself (`write_submissions`) and answers
        # the first result: no read before it, which cost a thread hop a request.
        digest = None if idempotency_key is None else _digest(draft)
        now = self._clock()
        item_id = new_id()
        bodies = await self._directory.bodies()
        sources: dict[str, StoredItem] = {}
        started = time.perf_counter()
        if draft.derived_from:
            async with self._store.read() as uow:
                sources = await uow.items.get_many(draft.derived_from)
        for index, source_id in enumerate(draft.derived_from):
            source = sources.get(source_id)
            decision = (
                tlp.may_derive(actor.reader, source.facts)
                if source
                else tlp.Decision.deny(tlp.Reason.CANNOT_READ_SOURCE)
            )
            if not decision:
                # The same answer, at the same time, for an absent and a hidden source.
                await pad_denial(started)
                raise await auditor.deny(
                    NotFound(NOT_FOUND, field=f"derived_from[{index}]"),
                    auditor.draft(
                        actor,
                        AuditAction.ITEM_DERIVE,
                        "denied",
                        item_id=source_id[:64],
                        reason=reasons(decision),
                    ),
                )
        ordered_sources = [sources[s].facts for s in draft.derived_from]
        facts = ItemFacts(
            id=item_id,
            provider_id=actor.member_id,
            kind=draft.kind,
            confidence=draft.confidence,
            tlp=draft.tlp,
            secret=draft.secret,
            scope=draft.scope,
            constraints=tlp.constraints_for_derived(actor.member_id, ordered_sources),
            derived_from=draft.derived_from,
        )
        await self._check_markings(actor, facts, draft)
        if draft.information_request_id is not None:
            await self._check_answer(actor, draft)
        allowed = tlp.may_submit(actor.reader, facts, bodies)
        if not allowed:
            raise await auditor.deny(
                submission_error(allowed),
                auditor.draft(
                    actor,
                    AuditAction.ITEM_SUBMIT,
                    "denied",
                    reason=reasons(allowed),
                    details={"kind": str(draft.kind)},
                ),
            )
        routing = self._directory.route(facts, bodies)
        pending = sorted(tlp.needs_consent(facts, bodies.values()))
        # What the submitter is told: the total it reached, why bodies it may see
        # were left out, and the consents asked of sources it may open (SPEC §3
        # rule 10); the same goes into the audit event its access log shows.
        dropped = tlp.dropped_seen_by(actor.reader, facts, bodies.values())
        shown = pending_view(facts, pending, await self._seen_sources(actor, facts, sources))
        content = ItemContent(
            title=draft.title, body=draft.body, stix=draft.stix, victim=draft.victim
        )
        envelope = seal_content(self._keys.ring, facts, content)
        result = SubmitResult(
            id=item_id,
            version=1,
            recipients=len(routing.recipients),
            dropped=dropped,
            pending_consents=shown,
        )
        audience_id = self._directory.audience_id(routing.recipients)
        owed, obligation_events = new_obligations(
            facts,
            {m: bodies[m] for m in routing.recipients},
            feedback_due,
            self._due_defaults,
            now,
        )
        prepared = PreparedSubmission(
            user_id=actor.user_id,
            idempotency_key=idempotency_key,
            digest=digest,
            facts=facts,
            envelope=envelope,
            feedback_due=feedback_due,
            audience_id=audience_id,
            audience_members=routing.recipients,
            created_at=now,
            pending_consents=pending,
            # Task force (SPEC §4): what the recipients owe, created with the delivery.
            obligations=owed,
            events=[item_event(EventKind.ITEM, facts, audience_id, 1, now), *obligation_events],
            audit=auditor.draft(
                actor,
                AuditAction.ITEM_SUBMIT,
                item_id=item_id,
                at=now,
                details={
                    "kind": str(facts.kind),
                    "tlp": str(facts.tlp),
                    "secret": facts.secret,
                    "recipients": len(routing.recipients),
                    "dropped": dropped,
                    "pending_consents": sorted({p.provider_id for p in shown}),
                    "derived_from": list(facts.derived_from),
                },
            ),
            result=result,
            information_request_id=draft.information_request_id,
            receipt=draft.receipt,
            key_per_member=draft.key_per_member,
            stix_refs=self._stix_refs.of_item(item_id, draft.stix),
        )
        # Group commit: written with other submissions, answered once durable.
        stored: SubmitResult = await self._store.write_submission(prepared)
        log.info("item_submitted", item_id=item_id, recipients=len(routing.recipients))
        return stored

    async def _check_answer(self, actor: Actor, draft: SubmitDraft) -> None:
        """An answer to an information request (art. 23): the request passed, names the
        caller's member, and the item carries the scope the request stated."""
        request_id = draft.information_request_id or ""
        async with self._store.read() as uow:
            request = await uow.resolutions.get(request_id)
        if (
            request is None
            or request.kind is not ResolutionKind.INFORMATION_REQUEST
            or request.status is not ResolutionStatus.PASSED
            or actor.member_id not in request.target_member_ids
        ):
            # Art. 27: the same answer whether it exists, is open, or asks someone else.
            raise await self._auditor.deny(
                NotFound("no information request with that id", field="information_request_id"),
                self._auditor.draft(
                    actor,
                    AuditAction.ITEM_SUBMIT,
                    "denied",
                    reason="no_such_information_request",
                    details={"information_request_id": request_id[:64]},
                ),
            )
        if request.scope is not None and draft.scope != request.scope:
            raise await self._auditor.deny(
                Conflict(
                    "an answer to this information request carries the scope the request "
                    f"stated: {request.scope.to_json()}",
                    field="scope",
                    code="scope_mismatch",
                ),
                self._auditor.draft(
                    actor,
                    AuditAction.ITEM_SUBMIT,
                    "denied",
                    reason="information_request_scope_mismatch",
                    details={"information_request_id": request_id},
                ),
            )

    async def _check_markings(self, actor: Actor, facts: ItemFacts, draft: SubmitDraft) -> None:
        """Refuse content marked with a stricter TLP than the item's own label (TLP 2.0)."""
        stricter = tlp.stricter_markings(facts.tlp, draft.stix)
        if not stricter:
            return
        first = stricter[0]
        auditor = self._auditor
        raise await auditor.deny(
            InvalidInput(
                f"the STIX object {first.object_id} is marked TLP:{first.tlp}, stricter than "
                f"the item's tlp {facts.tlp}: label the item at least {first.tlp} "
                "(an item's TLP is never weaker than a marking in its content)",
                field=f"stix.objects[{first.index}].{first.path}",
                reason=tlp.Reason.CONTENT_MARKED_STRICTER,
            ),
            auditor.draft(
                actor,
                AuditAction.ITEM_SUBMIT,
                "denied",
                reason=str(tlp.Reason.CONTENT_MARKED_STRICTER),
                details={
                    "kind": str(draft.kind),
                    "tlp": str(facts.tlp),
                    "marked": str(first.tlp),
                    "object": first.object_id[:300],
                },
            ),
        )

    async def _seen_sources(
        self, actor: Actor, facts: ItemFacts, loaded: Mapping[str, StoredItem]
    ) -> frozenset[str]:
        """The sources behind `facts`' ceilings that `actor` may open (art. 17(3)).

        The direct sources are loaded already; ceilings inherited through them
        name sources further back, which are loaded only when there are any.
        """
        ids = {c.source_id for c in facts.constraints}
        missing = ids - loaded.keys()
        found = dict(loaded)
        if missing:
            async with self._store.read() as uow:
                found.update(await uow.items.get_many(missing))
        return frozenset(
            i for i in ids if i in found and tlp.may_read(actor.reader, found[i].facts)
        )

    def _due_time(self, kind: ItemKind, requested: str | None) -> datetime | None:
        # When feedback on a new item falls due: as asked, else the kind's default (SPEC §4).
        if requested is None and kind not in self._due_defaults:
            return None
        try:
            return resolve_due(self._clock(), requested, kind, self._due_defaults)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="feedback.due") from None


# docs/api.md: a key is 1 to 200 visible ASCII characters (the column is
# String(200), and a key that is not ASCII cannot be stored safely everywhere).
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")


def check_idempotency_key(key: str) -> None:
    """Refuse an `Idempotency-Key` that is not 1 to 200 visible ASCII characters (422)."""
    if _IDEMPOTENCY_KEY.fullmatch(key) is None:
        raise InvalidInput(
            "Idempotency-Key must be 1 to 200 visible ASCII characters (letters, digits, "
            "punctuation; no spaces), e.g. a UUID",
            field="Idempotency-Key",
        )


def _digest(draft: SubmitDraft) -> str:
    # What identifies a request under its Idempotency-Key: its canonical form.
    return hashlib.sha256(canonical_json(draft.as_sent())).hexdigest()
