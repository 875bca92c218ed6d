"""What the item use cases write and answer alike: feed events, scope-version
rows, consent views, policy refusals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from broker import tlp
from broker.domain import ItemFacts
from broker.errors import BrokerError, Forbidden, InvalidInput
from broker.services.core import Actor, rfc3339
from broker.store.feed_repo import EventDraft
from broker.store.items_repo import constraints_to_json
from broker.store.tables import scope_versions

NOT_FOUND = "no item with that id"

# Policy refusals of a submission that are about the request itself (422),
# as opposed to the caller's standing (403).
INVALID_SUBMISSION = {
    tlp.Reason.ANALYSIS_STAYS_IN_TIER_ONE: "scope",
    tlp.Reason.KIND_NOT_ALLOWED: "kind",
}


def item_event(
    kind: str, facts: ItemFacts, audience_id: str, version: int, now: datetime
) -> EventDraft:
    # Metadata only: content is read through GET /v1/items/{id}, which is audited.
    return EventDraft(
        kind=kind,
        created_at=now,
        audience_id=audience_id,
        item_id=facts.id,
        payload={
            "id": facts.id,
            "kind": str(facts.kind),
            "tlp": str(facts.effective_tlp),
            "secret": facts.effective_secret,
            "confidence": str(facts.confidence),
            "provider_id": facts.provider_id,
            "version": version,
            "at": rfc3339(now),
        },
    )


async def insert_scope_version(
    conn: AsyncConnection,
    facts: ItemFacts,
    version: int,
    change: str,
    actor: Actor,
    now: datetime,
) -> None:
    await conn.execute(
        insert(scope_versions).values(scope_version_row(facts, version, change, actor, now))
    )


def scope_version_row(
    facts: ItemFacts, version: int, change: str, actor: Actor, now: datetime
) -> dict[str, Any]:
    return {
        "item_id": facts.id,
        "version": version,
        "scope": facts.scope.to_json(),
        "constraints": constraints_to_json(facts.constraints),
        "change": change,
        "created_at": now,
        "created_by": actor.user_id,
    }


def pending_view(facts: ItemFacts, providers: list[str]) -> list[dict[str, str]]:
    return [
        {"source_item_id": source_id, "provider_id": provider_id}
        for provider_id in providers
        for source_id in sources_of(facts, provider_id)
    ]


def sources_of(facts: ItemFacts, provider_id: str) -> list[str]:
    return sorted({c.source_id for c in facts.constraints if c.provider_id == provider_id})


def reasons(decision: tlp.Decision) -> str:
    return ",".join(str(r) for r in decision.reasons) or "denied"


def submission_error(decision: tlp.Decision) -> BrokerError:
    for reason in decision.reasons:
        if reason in INVALID_SUBMISSION:
            return InvalidInput(
                f"refused by the sharing rules: {reason}", field=INVALID_SUBMISSION[reason]
            )
    return Forbidden(f"refused by the sharing rules: {reasons(decision)}")
