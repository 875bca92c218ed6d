"""The contribution ledger as docs/api.md JSON (`GET /v1/ledger`)."""

from __future__ import annotations

from typing import Any

from broker.domain.obligations import Ledger, LedgerEntry
from broker.domain.timestamps import rfc3339

__all__ = ["ledger_json"]


def _entry_json(entry: LedgerEntry) -> dict[str, Any]:
    row, body = entry.row, entry.body
    return {
        "member_id": row.member_id,
        "name": entry.name,
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


def ledger_json(ledger: Ledger) -> dict[str, Any]:
    """The ledger for a period, with the thresholds it was judged by; one page."""
    return {
        "period": {
            "name": ledger.period,
            "start": rfc3339(ledger.start),
            "end": rfc3339(ledger.end),
        },
        "policy": {
            "min_original_submissions_tier_one": ledger.policy.min_original_submissions_tier_one,
            "min_on_time_ratio": ledger.policy.min_on_time_ratio,
        },
        "items": [_entry_json(entry) for entry in ledger.entries],
        "next_cursor": None,
    }
