"""Submitting an item: validated, encrypted, routed, and written with its
obligations, feed events and audit event in a shared durable transaction.

Every decision is the pure policy's (`broker.tlp`); a refused submission is
audited and stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from broker import tlp
from broker.domain import ItemFacts, ItemKind, ItemStatus, Scope, Tlp
from broker.errors import Conflict, NotFound
from broker.services.core import Actor, Core, new_id
from broker.services.item_records import (
    NOT_FOUND,
    item_event,
    pending_view,
    reasons,
    scope_version_row,
    submission_error,
)
from broker.services.obligations import due_periods, new_obligations
from broker.services.sealing import seal_content
from broker.store.items_repo import StoredItem, get_items, item_by_idempotency_key
from broker.store.submissions_repo import PreparedSubmission, write_submissions

log = structlog.get_logger("broker.items")


@dataclass(frozen=True, slots=True)
class SubmitDraft:
    """A validated submission (API.md `POST /v1/items`)."""

    kind: ItemKind
    title: str
    body: str | None
    stix: dict[str, Any] | None
    tlp: Tlp
    secret: bool
    confidence: Any
    scope: Scope
    derived_from: tuple[str, ...]
    victim: dict[str, Any] | None
    feedback_due: datetime | None
    digest: str | None  # set when the request carries an Idempotency-Key


class SubmissionService:
    """`POST /v1/items`, audited."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self._submissions = core.db.batch_writer(write_submissions)

    async def submit(
        self, actor: Actor, draft: SubmitDraft, idempotency_key: str | None
    ) -> dict[str, Any]:
        """Store an item encrypted and route it exactly as far as the rules allow."""
        core = self.core
        if idempotency_key is not None:
            async with core.db.read() as conn:
                replay = await self._replay(conn, actor, idempotency_key, draft.digest)
            if replay is not None:
                return replay
        now = core.clock()
        item_id = new_id()
        bodies = await core.directory()
        sources: dict[str, StoredItem] = {}
        if draft.derived_from:
            async with core.db.read() as conn:
                sources = await get_items(conn, draft.derived_from)
        for index, source_id in enumerate(draft.derived_from):
            source = sources.get(source_id)
            decision = (
                tlp.may_derive(actor.reader, source.facts)
                if source
                else tlp.Decision.deny(tlp.Reason.CANNOT_READ_SOURCE)
            )
            if not decision:
                raise await core.deny(
                    NotFound(NOT_FOUND, field=f"derived_from[{index}]"),
                    core.draft(
                        actor,
                        "item.derive",
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
        allowed = tlp.may_submit(actor.reader, facts, bodies)
        if not allowed:
            raise await core.deny(
                submission_error(allowed),
                core.draft(
                    actor,
                    "item.submit",
                    "denied",
                    reason=reasons(allowed),
                    details={"kind": str(draft.kind)},
                ),
            )
        routing = core.route(facts, bodies)
        pending = sorted(tlp.needs_consent(facts, bodies.values()))
        content = {
            "title": draft.title,
            "body": draft.body,
            "stix": draft.stix,
            "victim": draft.victim,
        }
        envelope = seal_content(core.ring, facts, content)
        result: dict[str, Any] = {
            "id": item_id,
            "version": 1,
            "recipients": len(routing.recipients),
            "dropped": dict(routing.dropped),
            "pending_consents": pending_view(facts, pending),
        }

        audience_id = core.audience_id(routing.recipients)
        owed, obligation_events = new_obligations(
            facts,
            {m: bodies[m] for m in routing.recipients},
            draft.feedback_due,
            due_periods(core.settings),
            now,
        )
        prepared = PreparedSubmission(
            user_id=actor.user_id,
            idempotency_key=idempotency_key,
            digest=draft.digest,
            audience_id=audience_id,
            audience_members=routing.recipients,
            created_at=now,
            item_row={
                "id": item_id,
                "provider_id": actor.member_id,
                "submitter_user_id": actor.user_id,
                "kind": str(facts.kind),
                "confidence": str(facts.confidence),
                "tlp": str(facts.tlp),
                "secret": facts.secret,
                "effective_tlp": str(facts.effective_tlp),
                "effective_secret": facts.effective_secret,
                "status": ItemStatus.ACTIVE.value,
                "scope_version": 1,
                "audience_id": audience_id,
                "derived_from": list(facts.derived_from),
                "feedback_due": draft.feedback_due,
                "created_at": now,
                "withdrawn_at": None,
                "nonce": envelope.nonce,
                "ciphertext": envelope.ciphertext,
                "wrapped_key": envelope.wrapped_key,
                "kek_version": envelope.kek_version,
                "idempotency_key": idempotency_key,
                "request_digest": draft.digest,
                "submit_result": result,
            },
            scope_row=scope_version_row(facts, 1, "submitted", actor, now),
            consent_rows=[
                {"derived_item_id": item_id, "provider_id": p, "requested_at": now} for p in pending
            ],
            # Task force (SPEC §4): what the recipients owe, created with the delivery.
            obligations=owed,
            events=[item_event("item", facts, audience_id, 1, now), *obligation_events],
            audit=core.draft(
                actor,
                "item.submit",
                item_id=item_id,
                at=now,
                details={
                    "kind": str(facts.kind),
                    "tlp": str(facts.tlp),
                    "secret": facts.secret,
                    "recipients": len(routing.recipients),
                    "dropped": dict(routing.dropped),
                    "pending_consents": pending,
                    "derived_from": list(facts.derived_from),
                },
            ),
            result=result,
        )
        # Group commit: written with other submissions, answered once durable.
        stored: dict[str, Any] = await self._submissions.write(prepared)
        log.info("item_submitted", item_id=item_id, recipients=len(routing.recipients))
        return stored

    async def _replay(
        self, conn: AsyncConnection, actor: Actor, key: str, digest: str | None
    ) -> dict[str, Any] | None:
        row = await item_by_idempotency_key(conn, actor.user_id, key)
        if row is None:
            return None
        if row.request_digest != digest:
            raise Conflict(
                "this Idempotency-Key was used for a different submission",
                field="Idempotency-Key",
            )
        replayed: dict[str, Any] = row.submit_result
        return replayed
