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

Each consultation and message gets a fresh data key wrapped by the key ring
(`broker.crypto.seal`); the associated data binds the ciphertext to its row —
and, for a consultation, to who asked — so moving a ciphertext to another row,
or rewriting who asked, makes it fail to open (an integrity alarm), never a
silent read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import structlog

from broker.audit import Outcome
from broker.crypto import Envelope, IntegrityFailure, KeyRing, canonical_json, open_envelope, seal
from broker.domain import (
    Actor,
    AuditAction,
    AuditDraft,
    Body,
    BodyKind,
    EventDraft,
    EventKind,
    MemberStatus,
    Reader,
    Tier,
)
from broker.domain.consultations import (
    Consultation,
    ConsultationPage,
    Message,
    Party,
    StoredConsultation,
    StoredMessage,
)
from broker.errors import Forbidden, IntegrityAlarm, NotFound
from broker.services.auditor import Auditor
from broker.services.clock import Clock
from broker.services.ids import new_id
from broker.services.keyring import Keys
from broker.services.paging import decode_id_cursor, encode_cursor
from broker.store.obligations_repo import as_utc
from broker.store.uow import Store
from broker.tlp import (
    ConsultationRole,
    Decision,
    consultation_role,
    is_addressee,
    may_consult,
    may_reply,
    may_reveal,
    may_see_consultation,
    shows_consulter,
)

__all__ = [
    "ConsultationService",
    "consultation_key_aad",
    "message_key_aad",
]

log = structlog.get_logger("broker.consultations")

_NOT_FOUND = "no consultation with that id"

Rule = Callable[[Reader, str], Decision]
"""A `broker.tlp.consultations` decision on a reader and the consulting member."""


class ConsultationService:
    """Open, read, list, answer and unmask consultations; every step audited."""

    def __init__(self, *, store: Store, clock: Clock, keys: Keys, auditor: Auditor) -> None:
        self._store = store
        self._clock = clock
        self._keys = keys
        self._auditor = auditor

    async def open(
        self, actor: Actor, title: str, body: str, reveal_identity: bool
    ) -> Consultation:
        """Open a consultation to the coordinator and the tier-one group (art. 16(3))."""
        allowed = may_consult(actor.reader)
        if not allowed:
            raise await self._auditor.deny(
                Forbidden("this body cannot open a consultation"),
                self._auditor.draft(
                    actor, AuditAction.CONSULTATION_OPEN, "denied", reason=_reasons(allowed)
                ),
            )
        now = as_utc(self._clock())
        consultation_id = new_id()
        content = {"title": title, "body": body}
        stored = StoredConsultation(
            id=consultation_id,
            member_id=actor.member_id,
            user_id=actor.user_id,
            revealed_at=now if reveal_identity else None,
            created_at=now,
            last_message_at=now,
            messages=0,
            sealed=_seal_consultation(
                self._keys.ring, consultation_id, actor.member_id, actor.user_id, content
            ),
        )
        async with self._store.write() as uow:
            await uow.consultations.add(stored)
            addressees = _addressees(
                await uow.members.bodies_with_handlers(now), exclude=actor.member_id
            )
            await uow.feed.append(
                [
                    EventDraft(
                        member_id=m,
                        kind=EventKind.CONSULTATION,
                        created_at=now,
                        payload={"consultation_id": consultation_id},
                    )
                    for m in addressees
                ]
            )
            await uow.audit.append(
                [
                    self._draft(
                        actor,
                        AuditAction.CONSULTATION_OPEN,
                        stored,
                        details={"revealed": reveal_identity},
                    )
                ]
            )
            names = await uow.members.names([actor.member_id])
        log.info("consultation_opened", consultation_id=consultation_id)
        return _seen(actor, stored, content, [], names)

    async def read(self, actor: Actor, consultation_id: str) -> Consultation:
        """One consultation with its thread, the consulter masked unless the caller may know."""
        stored = await self._visible(
            actor, consultation_id, AuditAction.CONSULTATION_READ, may_see_consultation
        )
        async with self._store.read() as uow:
            messages = await uow.consultations.messages(stored.id)
            authors = {m.author_member_id for m in messages} | {stored.member_id}
            names = await uow.members.names(sorted(authors))
        content, opened = await self._open(stored, messages)
        await self._auditor.record(
            self._draft(
                actor,
                AuditAction.CONSULTATION_READ,
                stored,
                details={"messages": len(messages)},
            )
        )
        return _seen(actor, stored, content, list(zip(messages, opened, strict=True)), names)

    async def listing(self, actor: Actor, limit: int, cursor: str | None) -> ConsultationPage:
        """The consultations the caller may see, newest first (its own; all for addressees)."""
        before = decode_id_cursor(cursor)
        reader = actor.reader
        async with self._store.read() as uow:
            found = await uow.consultations.newest(
                limit + 1,
                before=before,
                # Anyone but an addressee sees at most its own member's consultations.
                member_id=None if is_addressee(reader) else actor.member_id,
            )
            names = await uow.members.names(sorted({c.member_id for c in found}))
        found = [c for c in found if consultation_role(reader, c.member_id) is not None]
        page: list[Consultation] = []
        for stored in found[:limit]:
            try:
                content = _open_consultation(self._keys.ring_for, stored)
            except IntegrityAlarm:
                await self._alarm(stored.id)
                continue
            page.append(_seen(actor, stored, content, [], names))
        next_cursor = encode_cursor(found[limit - 1].id) if len(found) > limit else None
        # Listing is an access like reading (SPEC §5); the caller's own
        # unrevealed consultations would name it, so the listing event is
        # anonymous when it shows any of them.
        own_hidden = any(
            c.member_id == actor.member_id and c.revealed_at is None for c in found[:limit]
        )
        await self._auditor.record(
            self._auditor.draft(
                None if own_hidden else actor,
                AuditAction.CONSULTATION_LIST,
                details={"count": len(page), **({"by": "consulter"} if own_hidden else {})},
                item_refs=[c.id for c in page],
            )
        )
        return ConsultationPage(tuple(page), next_cursor)

    async def reply(self, actor: Actor, consultation_id: str, body: str) -> Message:
        """Answer a consultation (an addressee) or follow up on it (the consulter)."""
        stored = await self._visible(
            actor, consultation_id, AuditAction.CONSULTATION_REPLY, may_reply
        )
        now = as_utc(self._clock())
        from_consulter = actor.member_id == stored.member_id
        message_id = new_id()
        message = StoredMessage(
            id=message_id,
            consultation_id=stored.id,
            author_member_id=actor.member_id,
            author_user_id=actor.user_id,
            from_consulter=from_consulter,
            created_at=now,
            sealed=_seal_message(
                self._keys.ring, message_id, stored.id, actor.member_id, from_consulter, body
            ),
        )
        async with self._store.write() as uow:
            await uow.consultations.add_message(message)
            everyone = await uow.members.bodies_with_handlers(now)
            # Answers go back privately to the asker (and the coordinator); a
            # follow-up goes to the addressees.
            if from_consulter:
                recipients = _addressees(everyone, exclude=actor.member_id)
            else:
                recipients = sorted(
                    {stored.member_id, *_coordinators(everyone.values())} - {actor.member_id}
                )
            await uow.feed.append(
                [
                    EventDraft(
                        member_id=m,
                        kind=EventKind.CONSULTATION_REPLY,
                        created_at=now,
                        payload={"consultation_id": stored.id, "message_id": message.id},
                    )
                    for m in recipients
                ]
            )
            await uow.audit.append(
                [
                    self._draft(
                        actor,
                        AuditAction.CONSULTATION_REPLY,
                        stored,
                        details={"message_id": message.id},
                    )
                ]
            )
            names = await uow.members.names([actor.member_id, stored.member_id])
        role = consultation_role(actor.reader, stored.member_id)
        assert role is not None  # may_reply allowed it
        return _message(role, stored.revealed_at is not None, message, body, names)

    async def reveal(self, actor: Actor, consultation_id: str) -> Consultation:
        """The consulting member unmasks itself to the tier-one group (its choice, art. 16(3))."""
        stored = await self._visible(
            actor, consultation_id, AuditAction.CONSULTATION_REVEAL, may_see_consultation
        )
        allowed = may_reveal(actor.reader, stored.member_id)
        if not allowed:
            raise await self._auditor.deny(
                Forbidden("only the consulting member reveals its identity"),
                self._auditor.draft(
                    actor,
                    AuditAction.CONSULTATION_REVEAL,
                    "denied",
                    item_id=stored.id,
                    reason=_reasons(allowed),
                ),
            )
        now = as_utc(self._clock())
        async with self._store.write() as uow:
            await uow.consultations.reveal(stored.id, now)
            # From here on the consulter is known: the event names it.
            await uow.audit.append(
                [self._auditor.draft(actor, AuditAction.CONSULTATION_REVEAL, item_id=stored.id)]
            )
        return await self.read(actor, consultation_id)

    # -- shared ----------------------------------------------------------------------

    def _draft(
        self,
        actor: Actor,
        action: AuditAction,
        stored: StoredConsultation,
        *,
        details: dict[str, Any] | None = None,
        outcome: Outcome = "allowed",
        reason: str | None = None,
    ) -> AuditDraft:
        """An audit event on a consultation, without an actor if it would unmask the consulter."""
        if actor.member_id == stored.member_id and stored.revealed_at is None:
            # SPEC §4: the consulter is known only to the coordinator; the
            # secretariat and coordinator read this log, the secretariat may not learn it.
            return self._auditor.draft(
                None,
                action,
                outcome,
                item_id=stored.id,
                reason=reason,
                details={**(details or {}), "by": "consulter"},
            )
        return self._auditor.draft(
            actor, action, outcome, item_id=stored.id, reason=reason, details=details
        )

    async def _visible(
        self, actor: Actor, consultation_id: str, action: AuditAction, rule: Rule
    ) -> StoredConsultation:
        async with self._store.read() as uow:
            stored = await uow.consultations.get(consultation_id)
        decision = rule(actor.reader, stored.member_id) if stored else None
        if stored is None or not decision:
            # One answer for "absent" and "not yours" (docs/api.md); the reason is only audited.
            denied = (
                self._draft(
                    actor,
                    action,
                    stored,
                    outcome="denied",
                    reason=_reasons(decision) if decision is not None else "denied",
                )
                if stored is not None
                else self._auditor.draft(
                    actor, action, "denied", item_id=consultation_id[:64], reason="not_found"
                )
            )
            raise await self._auditor.deny(NotFound(_NOT_FOUND, field="id"), denied)
        return stored

    async def _open(
        self, stored: StoredConsultation, messages: Sequence[StoredMessage]
    ) -> tuple[dict[str, Any], list[str]]:
        try:
            content = _open_consultation(self._keys.ring_for, stored)
            opened = [_open_message(self._keys.ring_for, m) for m in messages]
        except IntegrityAlarm:
            await self._alarm(stored.id)
            raise
        return content, opened

    async def _alarm(self, consultation_id: str) -> None:
        log.error("integrity_alarm", consultation_id=consultation_id)
        await self._auditor.record(
            self._auditor.draft(
                None,
                AuditAction.INTEGRITY_ALARM,
                "error",
                item_id=consultation_id,
                reason="stored_consultation_failed_authentication",
            )
        )


def _seen(
    actor: Actor,
    stored: StoredConsultation,
    content: dict[str, Any],
    thread: Sequence[tuple[StoredMessage, str]],
    names: Mapping[str, str],
) -> Consultation:
    """`stored` as the caller sees it: the consulter shown only to those who may know."""
    role = consultation_role(actor.reader, stored.member_id)
    assert role is not None  # only shown to those who may see it
    revealed = stored.revealed_at is not None
    return Consultation(
        id=stored.id,
        title=content.get("title"),
        body=content.get("body"),
        created_at=stored.created_at,
        last_message_at=stored.last_message_at,
        messages=stored.messages,
        revealed_at=stored.revealed_at,
        role=role,
        consulter=_party(stored.member_id, names) if shows_consulter(role, revealed) else None,
        replies=tuple(_message(role, revealed, m, text, names) for m, text in thread),
    )


def _party(member_id: str, names: Mapping[str, str]) -> Party:
    return Party(member_id, names.get(member_id))


def _message(
    role: ConsultationRole,
    revealed: bool,
    message: StoredMessage,
    text: str,
    names: Mapping[str, str],
) -> Message:
    hidden = message.from_consulter and not shows_consulter(role, revealed)
    return Message(
        id=message.id,
        body=text,
        created_at=message.created_at,
        from_consulter=message.from_consulter,
        author=None if hidden else _party(message.author_member_id, names),
    )


def _addressees(bodies: Mapping[str, Body], *, exclude: str) -> list[str]:
    """The coordinator and the active tier-one members (art. 16(3)), minus `exclude`."""
    return sorted(
        b.id
        for b in bodies.values()
        if b.id != exclude
        and b.status is MemberStatus.ACTIVE
        and (
            b.kind is BodyKind.COORDINATOR
            or (b.kind is BodyKind.MEMBER and b.tier is Tier.TIER_ONE)
        )
    )


def _coordinators(bodies: Iterable[Body]) -> list[str]:
    return [b.id for b in bodies if b.kind is BodyKind.COORDINATOR]


def _reasons(decision: Decision) -> str:
    return ",".join(str(r) for r in decision.reasons) or "denied"


# -- sealing consultations and their messages -----------------------------------------

RingFor = Callable[[int | None], KeyRing]
"""`Keys.ring_for`: the ring, reloaded if a newer key version turned up."""


def _consultation_aad(consultation_id: str, member_id: str, user_id: str) -> tuple[bytes, bytes]:
    content = canonical_json({"purpose": "consultation", "consultation": consultation_id})
    # Who asked is bound in: rewriting it in the database breaks the seal (art. 16(3)).
    key = canonical_json(
        {
            "purpose": "consultation-key",
            "consultation": consultation_id,
            "member": member_id,
            "user": user_id,
        }
    )
    return content, key


def consultation_key_aad(row: Any) -> bytes:
    """The associated data a stored consultation's key is wrapped with (key rotation)."""
    return _consultation_aad(row.id, row.member_id, row.user_id)[1]


def _seal_consultation(
    ring: KeyRing, consultation_id: str, member_id: str, user_id: str, content: dict[str, Any]
) -> Envelope:
    content_aad, key_aad = _consultation_aad(consultation_id, member_id, user_id)
    return seal(ring, canonical_json(content), content_aad=content_aad, key_aad=key_aad)


def _open_consultation(ring_for: RingFor, stored: StoredConsultation) -> dict[str, Any]:
    """A stored consultation's title and body, or IntegrityAlarm."""
    content_aad, key_aad = _consultation_aad(stored.id, stored.member_id, stored.user_id)
    content: dict[str, Any] = json.loads(_open(ring_for, stored.sealed, content_aad, key_aad))
    return content


def _message_aad(
    message_id: str, consultation_id: str, author_member_id: str, from_consulter: bool
) -> tuple[bytes, bytes]:
    content = canonical_json({"purpose": "consultation-message", "message": message_id})
    key = canonical_json(
        {
            "purpose": "consultation-message-key",
            "message": message_id,
            "consultation": consultation_id,
            "author": author_member_id,
            "from_consulter": from_consulter,
        }
    )
    return content, key


def message_key_aad(row: Any) -> bytes:
    """The associated data a stored consultation message's key is wrapped with (key rotation)."""
    return _message_aad(
        row.id, row.consultation_id, row.author_member_id, bool(row.from_consulter)
    )[1]


def _seal_message(
    ring: KeyRing,
    message_id: str,
    consultation_id: str,
    author_member_id: str,
    from_consulter: bool,
    body: str,
) -> Envelope:
    content_aad, key_aad = _message_aad(
        message_id, consultation_id, author_member_id, from_consulter
    )
    return seal(ring, body.encode("utf-8"), content_aad=content_aad, key_aad=key_aad)


def _open_message(ring_for: RingFor, message: StoredMessage) -> str:
    """A stored consultation message's text, or IntegrityAlarm."""
    content_aad, key_aad = _message_aad(
        message.id, message.consultation_id, message.author_member_id, message.from_consulter
    )
    return _open(ring_for, message.sealed, content_aad, key_aad).decode("utf-8")


def _open(ring_for: RingFor, env: Envelope, content_aad: bytes, key_aad: bytes) -> bytes:
    try:
        return open_envelope(
            ring_for(env.kek_version), env, content_aad=content_aad, key_aad=key_aad
        )
    except IntegrityFailure as exc:
        raise IntegrityAlarm() from exc
