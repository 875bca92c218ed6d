"""Violation reports as docs/api.md JSON (charter art. 29)."""

from __future__ import annotations

from typing import Any

from broker.domain.reports import Report, ReportPage
from broker.domain.timestamps import rfc3339

__all__ = ["report_json", "report_page_json"]


def report_json(report: Report) -> dict[str, Any]:
    """A report as its reporter or the secretariat sees it."""
    return {
        "id": report.id,
        "kind": report.kind.value,
        "status": report.status.value,
        "text": report.content.text,
        "item_id": report.content.item_id,
        "member_id": report.content.member_id,
        "note": report.content.note,
        "reporter": {
            "member_id": report.reporter_member_id,
            "user_id": report.reporter_user_id,
        },
        "created_at": rfc3339(report.created_at),
        "updated_at": rfc3339(report.updated_at),
    }


def report_page_json(page: ReportPage) -> dict[str, Any]:
    """A page of reports, newest first."""
    return {"items": [report_json(r) for r in page.items], "next_cursor": page.next_cursor}
