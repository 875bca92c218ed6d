"""Private consultations: "something feels off" (charter art. 16(3), SPEC §4).

Any member may consult the coordinator and the tier-one group privately; the
consulting member's identity is known only to the coordinator unless it
chooses to reveal it; answers come back privately. Every access decision is
`broker.tlp.consultations`'; this module stores, seals and audits.

Keeping the identity from everyone but the coordinator reaches into the audit
log too: the secretariat reads the log (SPEC §5), so an action the consulting
member takes on its own unrevealed consultation is logged without an actor,
marked `by: consulter`. Who asked stays recorded where the coordinator reads
it — the consultation row, whose sealed content is bound to the asking member
and user, so that rewriting who asked breaks the seal.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from broker.audit import Outcome
from broker.domain import BodyKind, MemberStatus, Tier
from broker.errors import Forbidden, IntegrityAlarm, InvalidInput, NotFound
from broker.services.core import Actor, Core, new_id, rfc3339
from broker.services.taskforce_sealing import (
    open_consultation,
    open_message,
    seal_consultation,
    seal_message,
)
from broker.store.audit_repo import AuditDraft, append_events
from broker.store.obligations_repo import EventDraft, as_utc, insert_events
from broker.store.tables import bodies, consultation_messages, consultations
from broker.tlp import Decision
from broker.tlp.consultations import (
    ConsultationRole,
    consultation_role,
    is_addressee,
    may_consult,
    may_reply,
    may_reveal,
    may_see_consultation,
    shows_consulter,
)

__all__ = ["ConsultationService"]

log = structlog.get_logger("broker.consultations")

_NOT_FOUND = "no consultation with that id"


class ConsultationService:
    """Open, read, list, answer and unmask consultations; every step audited."""

    def __init__(self, core: Core) -> None:
        self.core = core

    async def open(
        self, actor: Actor, title: str, body: str, reveal_identity: bool
    ) -> dict[str, Any]:
        """Open a consultation to the coordinator and the tier-one group (art. 16(3))."""
        core = self.core
        allowed = may_consult(actor.reader)
        if not allowed:
            raise await core.deny(
                Forbidden("this body cannot open a consultation"),
                core.draft(actor, "consultation.open", "denied", reason=_reasons(allowed)),
            )
        now = as_utc(core.clock())
        consultation_id = new_id()
        envelope = seal_consultation(
            core.ring,
            consultation_id,
            actor.member_id,
            actor.user_id,
            {"title": title, "body": body},
        )
        row = {
            "id": consultation_id,
            "member_id": actor.member_id,
            "user_id": actor.user_id,
            "revealed_at": now if reveal_identity else None,
            "created_at": now,
            "last_message_at": now,
            "messages": 0,
            "nonce": envelope.nonce,
            "ciphertext": envelope.ciphertext,
            "wrapped_key": envelope.wrapped_key,
            "kek_version": envelope.kek_version,
        }
        async with core.db.write() as conn:
            await conn.execute(consultations.insert().values(**row))
            addressees = await _addressees(conn, exclude=actor.member_id)
            await insert_events(
                conn,
                [
                    EventDraft(
                        member_id=m,
                        kind="consultation",
                        created_at=now,
                        payload={"consultation_id": consultation_id},
                    )
                    for m in addressees
                ],
            )
            await append_events(
                conn,
                [
                    self._draft(
                        actor,
                        "consultation.open",
                        consultation_id,
                        actor.member_id,
                        revealed=reveal_identity,
                        details={"revealed": reveal_identity},
                    )
                ],
            )
            stored = (
                await conn.execute(
                    select(consultations).where(consultations.c.id == consultation_id)
                )
            ).one()
            names = await _names(conn, [actor.member_id])
        log.info("consultation_opened", consultation_id=consultation_id)
        return self._view(actor, stored, {"title": title, "body": body}, [], names)

    async def read(self, actor: Actor, consultation_id: str) -> dict[str, Any]:
        """One consultation with its thread, the consulter masked unless the caller may know."""
        core = self.core
        stored = await self._visible(
            actor, consultation_id, "consultation.read", may_see_consultation
        )
        async with core.db.read() as conn:
            messages = (
                await conn.execute(
                    select(consultation_messages)
                    .where(consultation_messages.c.consultation_id == stored.id)
                    .order_by(consultation_messages.c.id)
                )
            ).all()
            authors = {m.author_member_id for m in messages} | {stored.member_id}
            names = await _names(conn, sorted(authors))
        content, opened = await self._open(actor, stored, messages)
        await core.audit(
            self._draft(
                actor,
                "consultation.read",
                stored.id,
                stored.member_id,
                revealed=stored.revealed_at is not None,
                details={"messages": len(messages)},
            )
        )
        return self._view(actor, stored, content, list(zip(messages, opened, strict=True)), names)

    async def listing(self, actor: Actor, limit: int, cursor: str | None) -> dict[str, Any]:
        """The consultations the caller may see, newest first (its own; all for addressees)."""
        core = self.core
        after = _decode_cursor(cursor)
        reader = actor.reader
        page: list[dict[str, Any]] = []
        next_cursor: str | None = None
        query = select(consultations).order_by(consultations.c.id.desc()).limit(limit + 1)
        if not is_addressee(reader):
            # Anyone but an addressee sees at most its own member's consultations.
            query = query.where(consultations.c.member_id == actor.member_id)
        if after is not None:
            query = query.where(consultations.c.id < after)
        async with core.db.read() as conn:
            rows = (await conn.execute(query)).all()
            names = await _names(conn, sorted({r.member_id for r in rows}))
        rows = [r for r in rows if consultation_role(reader, r.member_id) is not None]
        shown: list[str] = []
        for row in rows[:limit]:
            try:
                content = open_consultation(core.ring_for, row)
            except IntegrityAlarm:
                await self._alarm(actor, row.id)
                continue
            view = self._view(actor, row, content, [], names)
            view.pop("replies")
            view.pop("body")
            page.append(view)
            shown.append(row.id)
        if len(rows) > limit:
            next_cursor = _encode_cursor(rows[limit - 1].id)
        # Listing is an access like reading (SPEC §5); the caller's own
        # unrevealed consultations would name it, so the listing event is
        # anonymous when it shows any of them.
        own_hidden = any(
            r.member_id == actor.member_id and r.revealed_at is None for r in rows[:limit]
        )
        await core.audit(
            core.draft(
                None if own_hidden else actor,
                "consultation.list",
                details={"count": len(page), **({"by": "consulter"} if own_hidden else {})},
                item_refs=shown,
            )
        )
        return {"items": page, "next_cursor": next_cursor}

    async def reply(self, actor: Actor, consultation_id: str, body: str) -> dict[str, Any]:
        """Answer a consultation (an addressee) or follow up on it (the consulter)."""
        core = self.core
        stored = await self._visible(actor, consultation_id, "consultation.reply", may_reply)
        now = as_utc(core.clock())
        from_consulter = actor.member_id == stored.member_id
        message_id = new_id()
        envelope = seal_message(
            core.ring, message_id, stored.id, actor.member_id, from_consulter, body
        )
        async with core.db.write() as conn:
            await conn.execute(
                consultation_messages.insert().values(
                    id=message_id,
                    consultation_id=stored.id,
                    author_member_id=actor.member_id,
                    author_user_id=actor.user_id,
                    from_consulter=from_consulter,
                    created_at=now,
                    nonce=envelope.nonce,
                    ciphertext=envelope.ciphertext,
                    wrapped_key=envelope.wrapped_key,
                    kek_version=envelope.kek_version,
                )
            )
            await conn.execute(
                update(consultations)
                .where(consultations.c.id == stored.id)
                .values(last_message_at=now, messages=consultations.c.messages + 1)
            )
            # Answers go back privately to the asker (and the coordinator); a
            # follow-up goes to the addressees.
            if from_consulter:
                recipients = await _addressees(conn, exclude=actor.member_id)
            else:
                recipients = sorted(
                    {stored.member_id, *await _coordinators(conn)} - {actor.member_id}
                )
            await insert_events(
                conn,
                [
                    EventDraft(
                        member_id=m,
                        kind="consultation_reply",
                        created_at=now,
                        payload={"consultation_id": stored.id, "message_id": message_id},
                    )
                    for m in recipients
                ],
            )
            await append_events(
                conn,
                [
                    self._draft(
                        actor,
                        "consultation.reply",
                        stored.id,
                        stored.member_id,
                        revealed=stored.revealed_at is not None,
                        details={"message_id": message_id},
                    )
                ],
            )
            names = await _names(conn, [actor.member_id, stored.member_id])
        role = consultation_role(actor.reader, stored.member_id)
        assert role is not None  # may_reply allowed it
        return _message_view(
            role,
            stored.revealed_at is not None,
            message_id,
            actor.member_id,
            from_consulter,
            now,
            body,
            names,
        )

    async def reveal(self, actor: Actor, consultation_id: str) -> dict[str, Any]:
        """The consulting member unmasks itself to the tier-one group (its choice, art. 16(3))."""
        core = self.core
        stored = await self._visible(
            actor, consultation_id, "consultation.reveal", may_see_consultation
        )
        allowed = may_reveal(actor.reader, stored.member_id)
        if not allowed:
            raise await core.deny(
                Forbidden("only the consulting member reveals its identity"),
                core.draft(
                    actor,
                    "consultation.reveal",
                    "denied",
                    item_id=stored.id,
                    reason=_reasons(allowed),
                ),
            )
        now = as_utc(core.clock())
        async with core.db.write() as conn:
            await conn.execute(
                update(consultations)
                .where(consultations.c.id == stored.id, consultations.c.revealed_at.is_(None))
                .values(revealed_at=now)
            )
            # From here on the consulter is known: the event names it.
            await append_events(conn, [core.draft(actor, "consultation.reveal", item_id=stored.id)])
        return await self.read(actor, consultation_id)

    # -- shared ----------------------------------------------------------------------

    def _draft(
        self,
        actor: Actor,
        action: str,
        consultation_id: str,
        consulter_id: str,
        *,
        revealed: bool,
        details: dict[str, Any] | None = None,
        outcome: Outcome = "allowed",
        reason: str | None = None,
    ) -> AuditDraft:
        """An audit event on a consultation, without an actor if it would unmask the consulter."""
        if actor.member_id == consulter_id and not revealed:
            # SPEC §4: the consulter is known only to the coordinator; the
            # secretariat and coordinator read this log, the secretariat may not learn it.
            return self.core.draft(
                None,
                action,
                outcome,
                item_id=consultation_id,
                reason=reason,
                details={**(details or {}), "by": "consulter"},
            )
        return self.core.draft(
            actor, action, outcome, item_id=consultation_id, reason=reason, details=details
        )

    async def _visible(self, actor: Actor, consultation_id: str, action: str, rule: Any) -> Any:
        async with self.core.db.read() as conn:
            stored = (
                await conn.execute(
                    select(consultations).where(consultations.c.id == consultation_id)
                )
            ).one_or_none()
        decision: Decision | None = rule(actor.reader, stored.member_id) if stored else None
        if stored is None or not decision:
            # One answer for "absent" and "not yours" (API.md); the reason is only audited.
            denied = (
                self._draft(
                    actor,
                    action,
                    stored.id,
                    stored.member_id,
                    revealed=stored.revealed_at is not None,
                    outcome="denied",
                    reason=_reasons(decision) if decision is not None else "denied",
                )
                if stored is not None
                else self.core.draft(
                    actor, action, "denied", item_id=consultation_id[:64], reason="not_found"
                )
            )
            raise await self.core.deny(NotFound(_NOT_FOUND, field="id"), denied)
        return stored

    async def _open(
        self, actor: Actor, stored: Any, messages: Sequence[Any]
    ) -> tuple[dict[str, Any], list[str]]:
        try:
            content = open_consultation(self.core.ring_for, stored)
            opened = [open_message(self.core.ring_for, m) for m in messages]
        except IntegrityAlarm:
            await self._alarm(actor, stored.id)
            raise
        return content, opened

    async def _alarm(self, actor: Actor, consultation_id: str) -> None:
        log.error("integrity_alarm", consultation_id=consultation_id)
        await self.core.audit(
            self.core.draft(
                None,
                "integrity.alarm",
                "error",
                item_id=consultation_id,
                reason="stored_consultation_failed_authentication",
            )
        )

    def _view(
        self,
        actor: Actor,
        stored: Any,
        content: dict[str, Any],
        thread: Sequence[tuple[Any, str]],
        names: dict[str, str],
    ) -> dict[str, Any]:
        role = consultation_role(actor.reader, stored.member_id)
        assert role is not None  # only shown to those who may see it
        revealed = stored.revealed_at is not None
        return {
            "id": stored.id,
            "title": content.get("title"),
            "body": content.get("body"),
            "created_at": rfc3339(stored.created_at),
            "last_message_at": rfc3339(stored.last_message_at),
            "messages": int(stored.messages),
            # The SDK's field: whether the consulter is shown to the tier-one group.
            "reveal_identity": revealed,
            "revealed_at": rfc3339(stored.revealed_at) if revealed else None,
            "role": role.value,
            "mine": role is ConsultationRole.CONSULTER,
            "consulter": _party(stored.member_id, names)
            if shows_consulter(role, revealed)
            else None,
            "replies": [
                _message_view(
                    role,
                    revealed,
                    m.id,
                    m.author_member_id,
                    bool(m.from_consulter),
                    m.created_at,
                    text,
                    names,
                )
                for m, text in thread
            ],
        }


def _party(member_id: str, names: dict[str, str]) -> dict[str, Any]:
    return {"member_id": member_id, "name": names.get(member_id)}


def _message_view(
    role: ConsultationRole,
    revealed: bool,
    message_id: str,
    author_member_id: str,
    from_consulter: bool,
    at: datetime,
    text: str,
    names: dict[str, str],
) -> dict[str, Any]:
    hidden = from_consulter and not shows_consulter(role, revealed)
    return {
        "id": message_id,
        "body": text,
        "created_at": rfc3339(at),
        "from_consulter": from_consulter,
        "author": None if hidden else _party(author_member_id, names),
    }


async def _addressees(conn: AsyncConnection, *, exclude: str) -> list[str]:
    """The coordinator and the active tier-one members (art. 16(3)), minus `exclude`."""
    rows = (
        await conn.execute(
            select(bodies.c.id, bodies.c.kind, bodies.c.tier).where(
                bodies.c.status == MemberStatus.ACTIVE.value
            )
        )
    ).all()
    return sorted(
        r.id
        for r in rows
        if r.id != exclude
        and (
            r.kind == BodyKind.COORDINATOR.value
            or (r.kind == BodyKind.MEMBER.value and r.tier == Tier.TIER_ONE.value)
        )
    )


async def _coordinators(conn: AsyncConnection) -> list[str]:
    rows = await conn.execute(
        select(bodies.c.id).where(bodies.c.kind == BodyKind.COORDINATOR.value)
    )
    return list(rows.scalars())


async def _names(conn: AsyncConnection, member_ids: Sequence[str]) -> dict[str, str]:
    if not member_ids:
        return {}
    rows = await conn.execute(
        select(bodies.c.id, bodies.c.name).where(bodies.c.id.in_(list(member_ids)))
    )
    return {r.id: r.name for r in rows.all()}


def _reasons(decision: Decision) -> str:
    return ",".join(str(r) for r in decision.reasons) or "denied"


def _encode_cursor(consultation_id: str) -> str:
    return base64.urlsafe_b64encode(consultation_id.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("bad cursor", field="cursor") from None
    if not decoded or len(decoded) > 40 or not decoded.isalnum():
        raise InvalidInput("bad cursor", field="cursor")
    return decoded
