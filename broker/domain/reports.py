"""Violation reports to the secretariat (charter art. 29) as the use cases see them.

A member that believes information was leaked, shared beyond its scope or
misused tells the secretariat. The report's text, and whom or what it names,
are sealed like an item's content; only who reported, the kind and the
status are stored in the clear, because listings need them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from broker.crypto import Envelope

__all__ = [
    "Report",
    "ReportContent",
    "ReportKind",
    "ReportPage",
    "ReportStatus",
    "StoredReport",
]


class ReportKind(StrEnum):
    """What the reporter believes happened (art. 29: 漏えい, 共有範囲の逸脱, 目的外利用...)."""

    LEAK = "leak"
    SCOPE_BREACH = "scope_breach"
    MISUSE = "misuse"
    OTHER = "other"


class ReportStatus(StrEnum):
    """Where the secretariat is with a report: it only moves forward."""

    RECEIVED = "received"
    INVESTIGATING = "investigating"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class ReportContent:
    """What is sealed: the text, what it names, and the secretariat's latest note."""

    text: str
    item_id: str | None = None
    member_id: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class StoredReport:
    """A report as stored: who reported in the clear, the rest sealed."""

    id: str
    member_id: str  # the reporting body
    user_id: str  # the reporting user
    kind: ReportKind
    status: ReportStatus
    created_at: datetime
    updated_at: datetime
    sealed: Envelope


@dataclass(frozen=True, slots=True)
class Report:
    """A report opened for someone allowed to see it (the reporter or the secretariat)."""

    id: str
    kind: ReportKind
    status: ReportStatus
    content: ReportContent
    reporter_member_id: str
    reporter_user_id: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ReportPage:
    """A page of reports, newest first, and the cursor of the next page (None: the last)."""

    items: tuple[Report, ...]
    next_cursor: str | None
