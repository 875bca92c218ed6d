"""Obligations, answers and the feedback views as docs/api.md JSON ("Task force")."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from broker.domain.obligations import (
    Answer,
    ItemFeedback,
    MemberAnswer,
    ObligationPage,
    OwedObligation,
)
from broker.domain.timestamps import rfc3339, rfc3339_or_none
from broker.feedback import AnswerSummary, ExpertFeedbackCounts, QuickAnswerCounts

__all__ = ["answer_json", "feedback_json", "obligation_page_json"]


def _answer_fields(answer: Answer) -> dict[str, Any]:
    """One obligation with its answer, for the member that owes it (or the privileged)."""
    ob = answer.obligation
    return {
        "obligation_id": ob.id,
        "item_id": ob.item_id,
        "kind": ob.kind.value,
        "status": ob.status.value,
        "due_at": rfc3339(ob.due_at),
        "overdue": answer.overdue,
        "verdict": ob.verdict.value if ob.verdict else None,
        "comment": ob.comment,
        "answered_at": rfc3339_or_none(ob.answered_at),
        "late": ob.late,
        "changes": ob.changes,
    }


def answer_json(answer: Answer) -> dict[str, Any]:
    """`POST /v1/items/{id}/feedback`: the caller's obligation with its answer and `change`."""
    view = _answer_fields(answer)
    if answer.change is not None:
        view["change"] = answer.change.value
    return view


def _owed_json(entry: OwedObligation) -> dict[str, Any]:
    ob = entry.obligation
    view = _answer_fields(Answer(ob, entry.overdue))
    view.update(
        id=ob.id,
        due=rfc3339(ob.due_at),  # the SDK's name for the due time
        title=entry.title,
        reminded_at=rfc3339_or_none(ob.reminded_at),
        overdue_marked_at=rfc3339_or_none(ob.overdue_marked_at),
    )
    view.pop("comment")  # a listing shows what is owed, not what was said
    return view


def obligation_page_json(page: ObligationPage) -> dict[str, Any]:
    """`GET /v1/obligations`: a page of what the caller's member owes."""
    return {"items": [_owed_json(entry) for entry in page.items], "next_cursor": page.next_cursor}


def _individual_json(entry: MemberAnswer) -> dict[str, Any]:
    view = _answer_fields(entry.answer)
    view.update(
        member_id=entry.answer.obligation.member_id,
        member_name=entry.member_name,
        category=entry.category.value,
        tier=entry.tier.value,
    )
    return view


def _counts(counts: QuickAnswerCounts | ExpertFeedbackCounts) -> dict[str, int]:
    data: dict[str, int] = asdict(counts)
    data["answered"] = counts.answered
    return data


def _summary_json(summary: AnswerSummary) -> dict[str, Any]:
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


def feedback_json(feedback: ItemFeedback) -> dict[str, Any]:
    """`GET /v1/items/{id}/feedback`: the answers on an item as the caller may see them."""
    item = feedback.item
    return {
        "item_id": feedback.item_id,
        "view": feedback.view,
        "item": {
            "kind": str(item.kind),
            "confidence": str(item.confidence),
            "status": str(item.status),
            "feedback_due": rfc3339_or_none(item.feedback_due),
        },
        "summary": _summary_json(feedback.summary) if feedback.summary is not None else None,
        "answers": [_individual_json(a) for a in feedback.answers]
        if feedback.answers is not None
        else None,
        "own": _answer_fields(feedback.own) if feedback.own is not None else None,
    }
