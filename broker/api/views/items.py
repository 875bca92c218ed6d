"""Items as docs/api.md shows them: an opened item, the inbox, submission and
scope-version answers, consent requests, withdrawals and access logs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from broker.domain import ItemStatus
from broker.domain.items import (
    ConsentRequest,
    InboxPage,
    ItemSummary,
    OpenedItem,
    PendingConsent,
    Provenance,
    ScopeChangeResult,
    SubmitResult,
    Withdrawal,
)
from broker.domain.timestamps import rfc3339, rfc3339_or_none

__all__ = [
    "consent_requests_view",
    "inbox_view",
    "item_view",
    "scope_change_view",
    "submit_view",
    "withdrawal_view",
]


def item_view(opened: OpenedItem) -> dict[str, Any]:
    """`GET /v1/items/{id}` and break-glass: the item with its handling (SPEC rule 8)."""
    stored = opened.item
    facts = stored.facts
    content = opened.content
    handling = opened.handling
    return {
        "id": facts.id,
        "version": stored.scope_version,
        "kind": str(facts.kind),
        "confidence": str(facts.confidence),
        "tlp": str(facts.tlp),
        "secret": facts.secret,
        "effective": {"tlp": str(facts.effective_tlp), "secret": facts.effective_secret},
        "provider_id": facts.provider_id,
        "status": str(facts.status),
        "created_at": rfc3339(stored.created_at),
        "withdrawn_at": rfc3339_or_none(stored.withdrawn_at),
        "feedback_due": rfc3339_or_none(stored.feedback_due),
        "derived_from": list(facts.derived_from),
        "scope": opened.scope.to_json() if opened.scope is not None else None,
        "provenance": [_provenance(p) for p in opened.provenance],
        "title": content.title if content is not None else None,
        "body": content.body if content is not None else None,
        "stix": content.stix if content is not None else None,
        "victim": content.victim if content is not None else None,
        "handling": (
            None
            if handling is None
            else {
                "tlp": handling.tlp,
                "may_reshare": handling.may_reshare,
                "audience": handling.audience,
                "notes": list(handling.notes),
            }
        ),
    }


def _provenance(source: Provenance) -> dict[str, Any]:
    if not source.visible:
        return {"id": source.id, "visible": False}
    return {
        "id": source.id,
        "visible": True,
        "kind": str(source.kind),
        "provider_id": source.provider_id,
        "tlp": str(source.tlp),
    }


def inbox_view(page: InboxPage) -> dict[str, Any]:
    """`GET /v1/inbox`: summaries and the next cursor."""
    return {"items": [_summary(entry) for entry in page.items], "next_cursor": page.next_cursor}


def _summary(entry: ItemSummary) -> dict[str, Any]:
    stored = entry.item
    facts = stored.facts
    return {
        "id": facts.id,
        "kind": str(facts.kind),
        "title": entry.title,
        "tlp": str(facts.effective_tlp),
        "secret": facts.effective_secret,
        "confidence": str(facts.confidence),
        "provider_id": facts.provider_id,
        "created_at": rfc3339(stored.created_at),
        "version": stored.scope_version,
    }


def _pending(pending: Sequence[PendingConsent]) -> list[dict[str, str]]:
    return [{"source_item_id": p.source_item_id, "provider_id": p.provider_id} for p in pending]


def submit_view(result: SubmitResult) -> dict[str, Any]:
    """`POST /v1/items` (201), and its replay under the same Idempotency-Key."""
    return {
        "id": result.id,
        "version": result.version,
        "recipients": result.recipients,
        "dropped": dict(result.dropped),
        "pending_consents": _pending(result.pending_consents),
    }


def scope_change_view(result: ScopeChangeResult) -> dict[str, Any]:
    """`POST /v1/items/{id}/scope` and `/consents`: the new scope version."""
    return {
        "id": result.id,
        "version": result.version,
        "change": result.change.value,
        "recipients": result.recipients,
        "dropped": dict(result.dropped),
        "pending_consents": _pending(result.pending_consents),
    }


def consent_requests_view(requests: Sequence[ConsentRequest]) -> dict[str, Any]:
    """`GET /v1/consents`: what each waiting derived item asks for (one page)."""
    return {
        "items": [
            {
                "derived_item_id": r.item.id,
                "requested_by": r.item.facts.provider_id,
                "requested_at": rfc3339(r.requested_at),
                "source_item_ids": list(r.source_item_ids),
                "requested": {
                    "kind": str(r.item.facts.kind),
                    "tlp": str(r.item.facts.tlp),
                    "secret": r.item.facts.secret,
                    "scope": r.item.facts.scope.to_json(),
                },
            }
            for r in requests
        ],
        "next_cursor": None,
    }


def withdrawal_view(withdrawal: Withdrawal) -> dict[str, Any]:
    """`POST /v1/items/{id}/withdraw`."""
    return {
        "id": withdrawal.id,
        "status": ItemStatus.WITHDRAWN.value,
        "withdrawn_at": rfc3339(withdrawal.withdrawn_at),
    }
