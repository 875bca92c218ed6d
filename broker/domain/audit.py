"""What the audit log records: its actions and an event before the chain places it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from broker.audit import AuditEvent, Outcome

__all__ = ["AuditAction", "AuditDraft", "AuditFilter", "AuditPage"]


class AuditAction(StrEnum):
    """Every action the audit log names (SPEC §5): `<resource>.<verb>`."""

    SYSTEM_INIT = "system.init"
    # Signing in and its limits (README, "Limits"; "TLS").
    AUTH_CERTIFICATE = "auth.certificate"
    REQUEST_RATE_LIMITED = "request.rate_limited"
    # Members, users, handlers (SPEC §1, charter art. 6).
    MEMBER_CREATE = "member.create"
    MEMBER_READ = "member.read"
    MEMBER_UPDATE = "member.update"
    # Withdrawal by the member's own notice, effective at once (art. 7).
    MEMBER_WITHDRAW = "member.withdraw"
    # The task force's approval of a tier, given by the coordinator on its
    # behalf (Task Force Rules art. 3).
    MEMBER_TIER_APPROVE = "member.tier_approve"
    USER_CREATE = "user.create"
    USER_LIST = "user.list"
    USER_REVOKE = "user.revoke"
    USER_TOKEN_ROTATE = "user.token_rotate"  # noqa: S105 - an action name
    HANDLER_ADD = "handler.add"
    HANDLER_LIST = "handler.list"
    HANDLER_REMOVE = "handler.remove"
    # Governance (SPEC §6; charter art. 6, 8, 10, 11, 23, 27).
    RESOLUTION_CREATE = "resolution.create"
    RESOLUTION_READ = "resolution.read"
    RESOLUTION_LIST = "resolution.list"
    RESOLUTION_VOTE = "resolution.vote"
    RESOLUTION_RECUSAL = "resolution.recusal"
    RESOLUTION_REFUSAL = "resolution.refusal"
    RESOLUTION_DECIDE = "resolution.decide"
    RESOLUTION_PUBLISH = "resolution.publish"
    INFORMATION_REQUEST_LIST = "information_request.list"
    # Items (SPEC §2, §3).
    ITEM_SUBMIT = "item.submit"
    ITEM_DERIVE = "item.derive"
    ITEM_READ = "item.read"
    ITEM_LIST = "item.list"
    ITEM_BREAK_GLASS = "item.break_glass"
    ITEM_SCOPE_CHANGE = "item.scope_change"
    ITEM_CONSENT = "item.consent"
    ITEM_WITHDRAW = "item.withdraw"
    ITEM_ACCESS_LOG = "item.access_log"
    CONSENT_LIST = "consent.list"
    INTEGRITY_ALARM = "integrity.alarm"
    # The task force (SPEC §4).
    OBLIGATION_LIST = "obligation.list"
    OBLIGATION_OVERDUE = "obligation.overdue"
    FEEDBACK_ANSWER = "feedback.answer"
    FEEDBACK_READ = "feedback.read"
    LEDGER_READ = "ledger.read"
    CONSULTATION_OPEN = "consultation.open"
    CONSULTATION_LIST = "consultation.list"
    CONSULTATION_READ = "consultation.read"
    CONSULTATION_REPLY = "consultation.reply"
    CONSULTATION_REVEAL = "consultation.reveal"
    # Violation reports to the secretariat (art. 29): never their contents.
    REPORT_CREATE = "report.create"
    REPORT_LIST = "report.list"
    REPORT_READ = "report.read"
    REPORT_UPDATE = "report.update"
    # Live delivery.
    STREAM_OPEN = "stream.open"
    STREAM_CLOSE = "stream.close"
    WEBHOOK_CREATE = "webhook.create"
    WEBHOOK_LIST = "webhook.list"
    WEBHOOK_DELETE = "webhook.delete"
    # The audit log itself (SPEC §5).
    AUDIT_QUERY = "audit.query"
    AUDIT_EXPORT = "audit.export"
    AUDIT_CHECKPOINT = "audit.checkpoint"
    AUDIT_VERIFY = "audit.verify"


@dataclass(frozen=True, slots=True)
class AuditDraft:
    """An audit event before it has a place in the chain."""

    id: str
    at: str
    action: AuditAction
    outcome: Outcome
    actor_user_id: str | None = None
    actor_member_id: str | None = None
    item_id: str | None = None
    subject_member_id: str | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    # Items a listing showed: indexed so each provider's access log finds it.
    item_refs: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What a query of the log asks for (docs/api.md `GET /v1/audit`): every given field
    must match; `item` also matches events that listed the item (`item_refs`);
    `member` is the actor's or the subject's body; `since` and `until` bound `at`."""

    item: str | None = None
    member: str | None = None
    user: str | None = None
    action: str | None = None
    outcome: str | None = None
    since: str | None = None
    until: str | None = None

    def given(self) -> dict[str, str]:
        """The fields that were given, in declaration order (what a query audits)."""
        fields = ("item", "member", "user", "action", "outcome", "since", "until")
        return {name: value for name in fields if (value := getattr(self, name)) is not None}


@dataclass(frozen=True, slots=True)
class AuditPage:
    """A page of audit events, oldest first; `next_seq` is the seq the next page starts
    after (the cursor), None on the last page."""

    events: tuple[AuditEvent, ...]
    next_seq: int | None
