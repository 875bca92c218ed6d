"""What the item use cases share: feed events, consent views, policy refusals."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from datetime import datetime

from broker import tlp
from broker.domain import EventDraft, EventKind, ItemFacts
from broker.domain.items import PendingConsent
from broker.domain.timestamps import rfc3339
from broker.errors import BrokerError, Forbidden, InvalidInput

__all__ = [
    "DENIAL_FLOOR_S",
    "NOT_FOUND",
    "item_event",
    "pad_denial",
    "pending_view",
    "reasons",
    "sources_of",
    "submission_error",
]

NOT_FOUND = "no item with that id"

DENIAL_FLOOR_S = 0.002
"""How long after the lookup began an item-id denial is answered, at the earliest."""


async def pad_denial(started: float, floor: float = DENIAL_FLOOR_S) -> None:
    """Wait until `floor` seconds after `started` (a `time.perf_counter()` reading).

    SPEC §3 rule 10, docs/api.md: a 404 must not tell an absent id from one the
    caller may not see, and neither may its timing. The two paths make the same
    query, decision and audit event, but a stored row still costs more to read
    and decode than a miss; answering both no earlier than a fixed time after
    the lookup began hides that difference (it is well under the floor).
    """
    remaining = started + floor - time.perf_counter()
    if remaining > 0:
        await asyncio.sleep(remaining)


# Policy refusals of a submission that are about the request itself (422),
# as opposed to the caller's standing (403).
INVALID_SUBMISSION = {
    tlp.Reason.ANALYSIS_STAYS_IN_TIER_ONE: "scope",
    tlp.Reason.KIND_NOT_ALLOWED: "kind",
}


def item_event(
    kind: EventKind, facts: ItemFacts, audience_id: str, version: int, now: datetime
) -> EventDraft:
    """The feed event telling an item's audience of a new item, scope version or withdrawal."""
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


def pending_view(
    facts: ItemFacts, providers: list[str], seen: Collection[str]
) -> tuple[PendingConsent, ...]:
    """The consents a derived item waits for, one per provider and source (art. 17(3)),
    as the caller may be told them: only the sources in `seen`, those it may open.

    A ceiling inherited through another derived item may come from a source the
    caller cannot open; naming it or its provider would tell what the caller may
    not know (SPEC §3 rule 10). The consent is still asked for.
    """
    return tuple(
        PendingConsent(source_item_id=source_id, provider_id=provider_id)
        for provider_id in providers
        for source_id in sources_of(facts, provider_id)
        if source_id in seen
    )


def sources_of(facts: ItemFacts, provider_id: str) -> list[str]:
    """The sources of a derived item that `provider_id` provided, sorted."""
    return sorted({c.source_id for c in facts.constraints if c.provider_id == provider_id})


def reasons(decision: tlp.Decision) -> str:
    """A policy decision's reasons as the audit log records them."""
    return ",".join(str(r) for r in decision.reasons) or "denied"


def submission_error(decision: tlp.Decision) -> BrokerError:
    """The error a refused submission or scope answers: 422 if the request itself is
    inadmissible, else 403."""
    for reason in decision.reasons:
        if reason in INVALID_SUBMISSION:
            return InvalidInput(
                f"refused by the sharing rules: {reason}",
                field=INVALID_SUBMISSION[reason],
                reason=reason,
            )
    return Forbidden(
        f"refused by the sharing rules: {reasons(decision)}", reason=decision.reasons[0]
    )
