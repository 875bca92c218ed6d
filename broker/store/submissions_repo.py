"""Writing a group of submissions in one transaction, a statement per table.

Group commit shares one fsync between many submissions; writing them with
one multi-row statement per table (not a dozen statements each) keeps the
number of database round trips per group constant, which is what lets ingest
keep up with the HTTP layer. The functions are synchronous: the group writer
runs them whole in its own thread (`Database.write_together`), not a thread
hop per statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from broker.crypto import Envelope
from broker.domain import AuditDraft, EventDraft, ItemFacts, ItemStatus
from broker.domain.items import Receipt, SubmitResult, VersionChange
from broker.errors import Conflict
from broker.feedback import Obligation
from broker.store.audit_repo import append_events_sync
from broker.store.feed_repo import insert_events_sync
from broker.store.items_repo import (
    scope_version_row,
    submit_result_from_json,
    submit_result_to_json,
)
from broker.store.obligations_repo import obligation_row
from broker.store.stix_refs_repo import add_refs_sync
from broker.store.tables import (
    audience_members,
    audiences,
    consents,
    information_request_answers,
    item_ceilings,
    items,
    obligations,
    scope_versions,
)
from broker.store.taxii_repo import add_receipts_sync
from broker.store.upsert import insert_ignoring_duplicates_sync

__all__ = ["Outcome", "PreparedSubmission", "write_submissions"]


@dataclass(frozen=True, slots=True)
class PreparedSubmission:
    """Everything one submission stores, computed before the write."""

    user_id: str
    idempotency_key: str | None
    digest: str | None  # set with `idempotency_key`
    facts: ItemFacts
    envelope: Envelope
    feedback_due: datetime | None
    audience_id: str
    audience_members: frozenset[str]
    created_at: datetime
    audit: AuditDraft
    result: SubmitResult
    # Source providers asked for their consent to the item's reach (art. 17(3)).
    pending_consents: Sequence[str] = ()
    obligations: list[Obligation] = field(default_factory=list)
    events: list[EventDraft] = field(default_factory=list)
    # The passed information request this item answers (art. 23), if any.
    information_request_id: str | None = None
    # What the caller is told, stored in the same transaction (a TAXII status).
    receipt: Receipt | None = None
    # Whose earlier submissions a retried key is looked up among: the user's
    # (`Idempotency-Key`), or the provider member's (a TAXII re-post).
    key_per_member: bool = False
    # Keyed digests of the ids of the STIX objects the item is served as.
    stix_refs: frozenset[str] = frozenset()


Outcome = SubmitResult | Exception
# Who used an idempotency key: ("user", user id) or ("member", member id), and the key.
_KeyUse = tuple[str, str, str]


def write_submissions(conn: Connection, batch: Sequence[PreparedSubmission]) -> list[Outcome]:
    """Store `batch` in the caller's transaction; one outcome per submission, in order.

    A retried `Idempotency-Key` gets the first submission's result (or a
    Conflict if the request differs), whether the first is already stored or
    earlier in the same batch: the same user's, or with `key_per_member` any
    of the provider member's users'. A submission's receipt is stored with
    the result it got; one that got a Conflict stores none.
    """
    outcomes: list[Outcome | None] = [None] * len(batch)
    seen = _earlier_uses(conn, batch)
    fresh: list[PreparedSubmission] = []
    for index, prepared in enumerate(batch):
        if prepared.idempotency_key is not None:
            key = _use(prepared)
            if key in seen:
                digest, result = seen[key]
                outcomes[index] = (
                    result
                    if digest == prepared.digest
                    else Conflict(
                        "this Idempotency-Key was used for a different submission",
                        field="Idempotency-Key",
                    )
                )
                continue
            for use in _uses(
                prepared.user_id, prepared.facts.provider_id, prepared.idempotency_key
            ):
                seen[use] = (prepared.digest, prepared.result)
        fresh.append(prepared)
        outcomes[index] = prepared.result
    if fresh:
        _store(conn, fresh)
    receipts = [
        (p.receipt, o)
        for p, o in zip(batch, outcomes, strict=True)
        if p.receipt is not None and isinstance(o, SubmitResult)
    ]
    if receipts:
        add_receipts_sync(conn, receipts)
    return [o if o is not None else Conflict("not written") for o in outcomes]


def _use(p: PreparedSubmission) -> _KeyUse:
    """Whose use of `p`'s key answers it: its member's or its user's."""
    assert p.idempotency_key is not None
    if p.key_per_member:
        return ("member", p.facts.provider_id, p.idempotency_key)
    return ("user", p.user_id, p.idempotency_key)


def _uses(user_id: str, member_id: str, key: str) -> tuple[_KeyUse, _KeyUse]:
    """A stored key counts as its user's and as its member's."""
    return ("user", user_id, key), ("member", member_id, key)


def _earlier_uses(
    conn: Connection, batch: Sequence[PreparedSubmission]
) -> dict[_KeyUse, tuple[str | None, SubmitResult]]:
    """The stored submissions the keys of `batch` may retry, by each use of their key.

    Looked up by holder and key together, a probe of `uq_items_idempotency`
    (user first) or `ix_items_provider_idempotency` (member first); by the key
    alone it read every item, a cost that grew with the store.
    """
    found: dict[_KeyUse, tuple[str | None, SubmitResult]] = {}
    keyed = [p for p in batch if p.idempotency_key is not None]
    for per_member in (False, True):
        wanted = [p for p in keyed if p.key_per_member is per_member]
        if not wanted:
            continue
        holder = items.c.provider_id if per_member else items.c.submitter_user_id
        holders = {p.facts.provider_id if per_member else p.user_id for p in wanted}
        rows = conn.execute(
            select(
                items.c.submitter_user_id,
                items.c.provider_id,
                items.c.idempotency_key,
                items.c.request_digest,
                items.c.submit_result,
            ).where(
                holder.in_(sorted(holders)),
                items.c.idempotency_key.in_(sorted({p.idempotency_key or "" for p in wanted})),
            )
        )
        for row in rows:
            earlier = (row.request_digest, submit_result_from_json(row.submit_result))
            for use in _uses(row.submitter_user_id, row.provider_id, row.idempotency_key):
                found.setdefault(use, earlier)
    return found


def _item_row(p: PreparedSubmission) -> dict[str, Any]:
    facts, envelope = p.facts, p.envelope
    return {
        "id": facts.id,
        "provider_id": facts.provider_id,
        "submitter_user_id": p.user_id,
        "kind": str(facts.kind),
        "confidence": str(facts.confidence),
        "tlp": str(facts.tlp),
        "secret": facts.secret,
        "effective_tlp": str(facts.effective_tlp),
        "effective_secret": facts.effective_secret,
        "status": ItemStatus.ACTIVE.value,
        "scope_version": 1,
        "audience_id": p.audience_id,
        "derived_from": list(facts.derived_from),
        "feedback_due": p.feedback_due,
        "created_at": p.created_at,
        "withdrawn_at": None,
        "nonce": envelope.nonce,
        "ciphertext": envelope.ciphertext,
        "wrapped_key": envelope.wrapped_key,
        "kek_version": envelope.kek_version,
        "idempotency_key": p.idempotency_key,
        "request_digest": p.digest,
        "submit_result": submit_result_to_json(p.result),
        "stix_indexed": True,
    }


def _store(conn: Connection, fresh: list[PreparedSubmission]) -> None:
    wanted = {p.audience_id: p for p in fresh}
    known = set(
        conn.execute(select(audiences.c.id).where(audiences.c.id.in_(list(wanted)))).scalars()
    )
    missing = [p for audience_id, p in wanted.items() if audience_id not in known]
    if missing:
        insert_ignoring_duplicates_sync(
            conn,
            audiences,
            [
                {"id": p.audience_id, "size": len(p.audience_members), "created_at": p.created_at}
                for p in missing
            ],
        )
        insert_ignoring_duplicates_sync(
            conn,
            audience_members,
            [
                {"audience_id": p.audience_id, "member_id": member_id}
                for p in missing
                for member_id in sorted(p.audience_members)
            ],
        )
    conn.execute(insert(items), [_item_row(p) for p in fresh])
    conn.execute(
        insert(scope_versions),
        [
            scope_version_row(p.facts, 1, VersionChange.SUBMITTED, p.user_id, p.created_at)
            for p in fresh
        ],
    )
    ceiling_rows = [
        {"source_id": source_id, "item_id": p.facts.id}
        for p in fresh
        for source_id in sorted({c.source_id for c in p.facts.constraints})
    ]
    if ceiling_rows:
        conn.execute(insert(item_ceilings), ceiling_rows)
    consent_rows = [
        {"derived_item_id": p.facts.id, "provider_id": provider_id, "requested_at": p.created_at}
        for p in fresh
        for provider_id in p.pending_consents
    ]
    if consent_rows:
        conn.execute(insert(consents), consent_rows)
    answer_rows = [
        {
            "resolution_id": p.information_request_id,
            "member_id": p.facts.provider_id,
            "item_id": p.facts.id,
            "answered_at": p.created_at,
        }
        for p in fresh
        if p.information_request_id is not None
    ]
    if answer_rows:
        conn.execute(insert(information_request_answers), answer_rows)
    obligation_rows = [obligation_row(ob, p.created_at) for p in fresh for ob in p.obligations]
    if obligation_rows:
        conn.execute(insert(obligations), obligation_rows)
    add_refs_sync(conn, [(ref, p.facts.id) for p in fresh for ref in sorted(p.stix_refs)])
    insert_events_sync(conn, [event for p in fresh for event in p.events])
    append_events_sync(conn, [p.audit for p in fresh])
