"""Violation reports to the secretariat (charter art. 29).

A member's user tells the secretariat of a suspected leak, scope breach or
misuse. Every access decision is `broker.tlp.reports`'; this module seals,
stores and audits.

The report's text, the item and the member it names, and the secretariat's
latest note are sealed together under a fresh data key wrapped by the key
ring (`broker.crypto.seal`), like an item's content: the database and the
logs never hold them in the clear. The wrapped key is bound to the report
and to who filed it, so moving a report to another reporter, or another
report's ciphertext to this one, makes it fail to open (an integrity alarm).

The member reported on must never learn who reported: it cannot see reports
at all, and the audit events of a report name no item and no subject member
(a provider reads the audit of its own items, a member the audit about
itself), only the report's id and kind.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import structlog

from broker.crypto import Envelope, IntegrityFailure, KeyRing, canonical_json, open_envelope, seal
from broker.domain import Actor, AuditAction
from broker.domain.reports import (
    Report,
    ReportContent,
    ReportKind,
    ReportPage,
    ReportStatus,
    StoredReport,
)
from broker.errors import Conflict, Forbidden, IntegrityAlarm, NotFound
from broker.services.auditor import Auditor
from broker.services.clock import Clock
from broker.services.ids import new_id
from broker.services.keyring import Keys
from broker.services.paging import decode_id_cursor, encode_cursor
from broker.store.obligations_repo import as_utc
from broker.store.uow import Store
from broker.tlp import (
    Decision,
    Reason,
    may_handle_reports,
    may_report,
    may_see_report,
    report_transition,
)

__all__ = ["ReportService", "report_key_aad"]

log = structlog.get_logger("broker.reports")

_NOT_FOUND = "no report with that id"


class ReportService:
    """File, list, read and move on violation reports; every step audited."""

    def __init__(self, *, store: Store, clock: Clock, keys: Keys, auditor: Auditor) -> None:
        self._store = store
        self._clock = clock
        self._keys = keys
        self._auditor = auditor

    async def create(
        self,
        actor: Actor,
        kind: ReportKind,
        text: str,
        item_id: str | None = None,
        member_id: str | None = None,
    ) -> Report:
        """File a report with the secretariat (art. 29).

        `item_id` and `member_id` are taken as the reporter gives them and
        not looked up: checking them would tell the reporter whether an item
        or member it cannot see exists, and a leaked item may well be one the
        reporter was never sent.
        """
        allowed = may_report(actor.reader)
        if not allowed:
            raise await self._auditor.deny(
                Forbidden(
                    "only users of an active member or of the coordinator file reports "
                    "(charter art. 29)"
                ),
                self._auditor.draft(
                    actor, AuditAction.REPORT_CREATE, "denied", reason=_reasons(allowed)
                ),
            )
        now = as_utc(self._clock())
        report_id = new_id()
        content = ReportContent(text=text, item_id=item_id, member_id=member_id)
        stored = StoredReport(
            id=report_id,
            member_id=actor.member_id,
            user_id=actor.user_id,
            kind=kind,
            status=ReportStatus.RECEIVED,
            created_at=now,
            updated_at=now,
            sealed=_seal(self._keys.ring, report_id, actor.member_id, actor.user_id, content),
        )
        async with self._store.write() as uow:
            await uow.reports.add(stored)
            await uow.audit.append(
                [
                    self._auditor.draft(
                        actor,
                        AuditAction.REPORT_CREATE,
                        details={"report_id": report_id, "kind": kind.value},
                    )
                ]
            )
        log.info("report_filed", report_id=report_id, kind=kind.value)
        return _opened(stored, content)

    async def read(self, actor: Actor, report_id: str) -> Report:
        """One report, for its reporter or the secretariat (404 for anyone else)."""
        stored = await self._visible(actor, report_id, AuditAction.REPORT_READ)
        content = await self._open(stored)
        await self._auditor.record(
            self._auditor.draft(actor, AuditAction.REPORT_READ, details={"report_id": stored.id})
        )
        return _opened(stored, content)

    async def listing(self, actor: Actor, limit: int, cursor: str | None) -> ReportPage:
        """The reports the caller may see, newest first: all for the secretariat's
        staff, the caller's own for anyone else."""
        before = decode_id_cursor(cursor)
        sees_all = bool(may_handle_reports(actor.reader))
        async with self._store.read() as uow:
            found = await uow.reports.newest(
                limit + 1, before=before, user_id=None if sees_all else actor.user_id
            )
        # The policy decides on every row, whatever the query already narrowed.
        found = [r for r in found if may_see_report(actor.reader, r.user_id)]
        page: list[Report] = []
        for stored in found[:limit]:
            try:
                content = _open(self._keys.ring_for, stored)
            except IntegrityAlarm:
                await self._alarm(stored.id)
                continue
            page.append(_opened(stored, content))
        next_cursor = encode_cursor(found[limit - 1].id) if len(found) > limit else None
        await self._auditor.record(
            self._auditor.draft(actor, AuditAction.REPORT_LIST, details={"count": len(page)})
        )
        return ReportPage(tuple(page), next_cursor)

    async def update(
        self, actor: Actor, report_id: str, status: ReportStatus, note: str | None
    ) -> Report:
        """The secretariat moves a report on (forward only), with an optional note that
        replaces the previous one."""
        stored = await self._visible(actor, report_id, AuditAction.REPORT_UPDATE)
        handles = may_handle_reports(actor.reader)
        if not handles:
            # The reporter sees its report but does not handle it.
            raise await self._denied(
                Forbidden("only the secretariat moves a report on (charter art. 29)"),
                actor,
                stored.id,
                handles,
            )
        moves = report_transition(stored.status, status)
        if not moves:
            message = (
                "this report is closed: file a new report for a new concern"
                if Reason.REPORT_CLOSED in moves.reasons
                else f"a report moves forward only: it is {stored.status.value} already"
            )
            raise await self._denied(Conflict(message, field="status"), actor, stored.id, moves)
        content = await self._open(stored)
        if note is not None:
            content = ReportContent(
                text=content.text, item_id=content.item_id, member_id=content.member_id, note=note
            )
        now = as_utc(self._clock())
        sealed = _seal(self._keys.ring, stored.id, stored.member_id, stored.user_id, content)
        async with self._store.write() as uow:
            if not await uow.reports.update(stored.id, status, sealed, now):
                raise Conflict("this report was closed meanwhile", field="status")
            await uow.audit.append(
                [
                    self._auditor.draft(
                        actor,
                        AuditAction.REPORT_UPDATE,
                        details={
                            "report_id": stored.id,
                            "from": stored.status.value,
                            "to": status.value,
                            "noted": note is not None,
                        },
                    )
                ]
            )
            updated = await uow.reports.get(stored.id)
        assert updated is not None, "written in this unit of work"
        return _opened(updated, content)

    async def _visible(self, actor: Actor, report_id: str, action: AuditAction) -> StoredReport:
        async with self._store.read() as uow:
            stored = await uow.reports.get(report_id)
        decision = (
            Decision.deny(Reason.NOT_REPORTER)
            if stored is None
            else may_see_report(actor.reader, stored.user_id)
        )
        if stored is None or not decision:
            # The same 404 whether it exists or not (docs/api.md); the member a
            # report is about gets exactly this, and learns nothing.
            raise await self._auditor.deny(
                NotFound(_NOT_FOUND, field="id"),
                self._auditor.draft(
                    actor,
                    action,
                    "denied",
                    reason="not_visible",
                    details={"report_id": report_id[:64]},
                ),
            )
        return stored

    async def _denied(
        self, error: Forbidden | Conflict, actor: Actor, report_id: str, decision: Decision
    ) -> Forbidden | Conflict:
        await self._auditor.deny(
            error,
            self._auditor.draft(
                actor,
                AuditAction.REPORT_UPDATE,
                "denied",
                reason=_reasons(decision),
                details={"report_id": report_id},
            ),
        )
        return error

    async def _open(self, stored: StoredReport) -> ReportContent:
        try:
            return _open(self._keys.ring_for, stored)
        except IntegrityAlarm:
            await self._alarm(stored.id)
            raise

    async def _alarm(self, report_id: str) -> None:
        log.error("integrity_alarm", report_id=report_id)
        await self._auditor.record(
            self._auditor.draft(
                None,
                AuditAction.INTEGRITY_ALARM,
                "error",
                reason="stored_report_failed_authentication",
                details={"report_id": report_id},
            )
        )


def _reasons(decision: Decision) -> str:
    return ",".join(str(r) for r in decision.reasons) or "denied"


def _opened(stored: StoredReport, content: ReportContent) -> Report:
    return Report(
        id=stored.id,
        kind=stored.kind,
        status=stored.status,
        content=content,
        reporter_member_id=stored.member_id,
        reporter_user_id=stored.user_id,
        created_at=stored.created_at,
        updated_at=stored.updated_at,
    )


# -- sealing ----------------------------------------------------------------------------

RingFor = Callable[[int | None], KeyRing]
"""`Keys.ring_for`: the ring, reloaded if a newer key version turned up."""


def _aad(report_id: str, member_id: str, user_id: str) -> tuple[bytes, bytes]:
    content = canonical_json({"purpose": "report", "report": report_id})
    # Who reported is bound in: rewriting it in the database breaks the seal.
    key = canonical_json(
        {"purpose": "report-key", "report": report_id, "member": member_id, "user": user_id}
    )
    return content, key


def report_key_aad(report_id: str, member_id: str, user_id: str) -> bytes:
    """The associated data a stored report's data key is wrapped with (key rotation)."""
    return _aad(report_id, member_id, user_id)[1]


def _seal(
    ring: KeyRing, report_id: str, member_id: str, user_id: str, content: ReportContent
) -> Envelope:
    content_aad, key_aad = _aad(report_id, member_id, user_id)
    plaintext = {
        "text": content.text,
        "item_id": content.item_id,
        "member_id": content.member_id,
        "note": content.note,
    }
    return seal(ring, canonical_json(plaintext), content_aad=content_aad, key_aad=key_aad)


def _open(ring_for: RingFor, stored: StoredReport) -> ReportContent:
    """A stored report's sealed content, or IntegrityAlarm."""
    content_aad, key_aad = _aad(stored.id, stored.member_id, stored.user_id)
    env = stored.sealed
    try:
        plaintext = open_envelope(
            ring_for(env.kek_version), env, content_aad=content_aad, key_aad=key_aad
        )
    except IntegrityFailure as exc:
        raise IntegrityAlarm() from exc
    data: dict[str, Any] = json.loads(plaintext)
    return ReportContent(
        text=data["text"],
        item_id=data.get("item_id"),
        member_id=data.get("member_id"),
        note=data.get("note"),
    )
