"""Members, their users and registered handlers (SPEC §1, §6; charter art. 6)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from broker import tlp
from broker.crypto import hash_token, new_token
from broker.domain import (
    Actor,
    AuditAction,
    AuditDraft,
    Body,
    BodyKind,
    Category,
    EventDraft,
    EventKind,
    MemberStatus,
    Role,
    Tier,
)
from broker.domain.members import (
    BODY_FLAGS,
    CreatedUser,
    HandlerRegistration,
    Member,
    NewMember,
    RosterEntry,
    User,
)
from broker.domain.timestamps import rfc3339
from broker.errors import Conflict, Forbidden, InvalidInput, NotFound
from broker.services.auditor import Auditor
from broker.services.clock import Clock
from broker.services.directory import Directory
from broker.services.ids import new_id
from broker.services.obligations import DEPARTED_STATUSES, close_for_member
from broker.store.uow import Store, UnitOfWork

__all__ = [
    "CLOCK_SKEW",
    "RESOLVED_STATUSES",
    "SELF_SERVICE_FIELDS",
    "MemberService",
    "apply_status",
    "needs_task_force_exception",
]

CLOCK_SKEW = timedelta(minutes=5)
"""How far before the request a handler registration's effective time may lie:
the caller's clock may run a little behind ours, but a registration is never
back-dated (art. 6(8): a change takes effect from when it is notified)."""

SELF_SERVICE_FIELDS = frozenset({"listed", "refuses_secrets", "early_warning"})
"""What a member's own admin may change about its body; the rest is the
coordinator's (docs/api.md PATCH /v1/members/{id})."""


RESOLVED_STATUSES = frozenset({MemberStatus.ACTIVE, MemberStatus.RESTRICTED, MemberStatus.EXPELLED})
"""Statuses only a committee resolution sets (SPEC §6): admission and a lift
(active), restriction (art. 8(2)), expulsion (art. 8(1)). The coordinator's
PATCH may not set them by hand (409 `decided_by_resolution`)."""


def needs_task_force_exception() -> Conflict:
    """Art. 6(4): a foreign member joins the task force only by a passed committee
    `task_force_exception`; the coordinator's tier change is refused without it."""
    return Conflict(
        "a foreign member joins the task force only after the steering committee passes a "
        "task_force_exception resolution for it (charter art. 6(4))",
        field="tier",
        code="needs_task_force_exception",
    )


async def apply_status(
    uow: UnitOfWork, member_id: str, status: MemberStatus, now: datetime
) -> None:
    """Set a member's status in `uow`, with what must happen in the same transaction:
    every replica's directory is told, a member that leaves or is restricted owes
    nothing more (SPEC §4), and its live connections close at once on every
    replica (rule 7, art. 7, 8(2)). The caller drops its own directory cache
    after the commit."""
    await uow.feed.append([_directory_changed(now)])
    await uow.members.change(member_id, {"status": status.value}, now)
    if status in DEPARTED_STATUSES:
        await close_for_member(uow, member_id, now)
    await uow.feed.append(
        [
            EventDraft(
                kind=EventKind.MEMBER_STATUS,
                created_at=now,
                member_id=member_id,
                payload={"member_id": member_id, "status": status.value},
            )
        ]
    )


class MemberService:
    """Create, read and change bodies, users and handlers; every change audited."""

    def __init__(
        self, *, store: Store, clock: Clock, auditor: Auditor, directory: Directory
    ) -> None:
        self._store = store
        self._clock = clock
        self._auditor = auditor
        self._directory = directory

    async def create_member(self, actor: Actor, new: NewMember) -> Member:
        """The coordinator admits a member (after the committee's approval, art. 6)."""
        auditor = self._auditor
        if not actor.is_coordinator_admin:
            raise await auditor.deny(
                Forbidden(
                    "only the coordinator's administrators create members",
                    fix="ask the coordinator to admit the member (after the committee's approval)",
                ),
                auditor.draft(
                    actor, AuditAction.MEMBER_CREATE, "denied", reason="not_coordinator_admin"
                ),
            )
        if new.foreign and new.tier is not Tier.NONE:
            # A new member has no task_force_exception yet (art. 6(4)).
            raise await auditor.deny(
                needs_task_force_exception(),
                auditor.draft(
                    actor,
                    AuditAction.MEMBER_CREATE,
                    "denied",
                    reason="needs_task_force_exception",
                ),
            )
        status = self._admission_status(new)
        now = self._clock()
        member = Member(
            id=new_id(),
            name=new.name,
            kind=BodyKind.MEMBER,
            category=new.category,
            tier=new.tier,
            status=status,
            **{flag: getattr(new, flag) for flag in BODY_FLAGS},
            created_at=now,
            updated_at=now,
        )
        details = {
            "name": new.name,
            "category": new.category.value,
            "tier": new.tier.value,
            **{flag: getattr(new, flag) for flag in BODY_FLAGS},
            "status": status.value,
            "admission": _admission(new),
        }
        drafts = [
            auditor.draft(
                actor, AuditAction.MEMBER_CREATE, subject_member_id=member.id, details=details
            )
        ]
        if new.tier is not Tier.NONE:
            drafts.append(_tier_approval(auditor, actor, member.id, Tier.NONE, new.tier))
        async with self._store.write() as uow:
            await uow.feed.append([_directory_changed(now)])
            await uow.members.add(member)
            await uow.audit.append(drafts)
            stored = await _stored(uow, member.id)
        self._directory.forget()  # routing and sign-in must see this change at once
        return stored

    @staticmethod
    def _admission_status(new: NewMember) -> MemberStatus:
        """The status a new member starts in (art. 6(1), 6(5)).

        An applicant (art. 6(1)) waits for the committee's approval and
        receives nothing meanwhile. An agency of the national government that
        notifies its joining (art. 6(5)) is deemed approved when the notice is
        received, so it starts active and never is an applicant. Without
        either, the coordinator records a member the committee has approved.
        """
        if new.notification:
            if new.category is not Category.GOVERNMENT:
                raise InvalidInput(
                    "only a national government agency joins by notification (charter art. "
                    "6(5)): use category government, or register an applicant",
                    field="notification",
                )
            if new.status is not MemberStatus.ACTIVE:
                raise InvalidInput(
                    "a notifying agency is admitted when its notice is received (charter art. "
                    "6(5)): leave status out",
                    field="status",
                )
        if new.status not in (MemberStatus.APPLICANT, MemberStatus.ACTIVE):
            raise InvalidInput(
                "a new member is an applicant or active; restriction, withdrawal and "
                "expulsion come later",
                field="status",
            )
        return new.status

    async def list_members(self, actor: Actor) -> list[Member]:
        """Every body for the coordinator and secretariat; a member sees itself."""
        sees_all = actor.is_coordinator or actor.is_secretariat
        async with self._store.read() as uow:
            return await uow.members.listing(None if sees_all else actor.member_id)

    async def get_member(self, actor: Actor, member_id: str) -> Member:
        """One body, if the caller may see it (else 404)."""
        async with self._store.read() as uow:
            return await self._visible_body(uow, actor, member_id, AuditAction.MEMBER_READ)

    async def update_member(
        self, actor: Actor, member_id: str, fields: Mapping[str, Any]
    ) -> Member:
        """Change a body: anything for the coordinator, self-service flags for its admin.

        `fields` are the attributes the caller sent, by name, as plain JSON values.
        """
        auditor = self._auditor
        async with self._store.read() as uow:
            body = await self._visible_body(uow, actor, member_id, AuditAction.MEMBER_UPDATE)
        nulls = sorted(name for name, value in fields.items() if value is None)
        if nulls:
            # Every attribute always has a value: null cannot mean "unset" (it would
            # hit the store's NOT NULL constraint); leaving a field out keeps it.
            raise InvalidInput(
                f"{nulls[0]} cannot be null: send a value, or leave the field out to keep it",
                field=nulls[0],
            )
        if not actor.is_coordinator_admin:
            await self._require(
                actor, body, tlp.AdminAct.CHANGE_SETTINGS, AuditAction.MEMBER_UPDATE
            )
            outside = sorted(set(fields) - SELF_SERVICE_FIELDS)
            if outside:
                raise await auditor.deny(
                    Forbidden(
                        "only the coordinator may change "
                        + (", ".join(outside) if outside else "this member"),
                        field=outside[0] if outside else None,
                        fix="ask the coordinator to record this change (art. 6-8)",
                    ),
                    auditor.draft(
                        actor,
                        AuditAction.MEMBER_UPDATE,
                        "denied",
                        subject_member_id=member_id,
                        reason="not_permitted",
                        details={"fields": sorted(fields)},
                    ),
                )
        if "status" in fields and fields["status"] != body.status.value:
            status = MemberStatus(fields["status"])
            if status in RESOLVED_STATUSES:
                raise await auditor.deny(
                    Conflict(
                        f"a member becomes {status.value} only by a steering-committee "
                        "resolution (POST /v1/resolutions; charter art. 6, 8)",
                        field="status",
                        code="decided_by_resolution",
                    ),
                    auditor.draft(
                        actor,
                        AuditAction.MEMBER_UPDATE,
                        "denied",
                        subject_member_id=member_id,
                        reason="decided_by_resolution",
                        details={"status": status.value},
                    ),
                )
        foreign = fields.get("foreign", body.foreign)
        tier = Tier(fields.get("tier", body.tier.value))
        if ("tier" in fields or "foreign" in fields) and foreign and tier is not Tier.NONE:
            async with self._store.read() as uow:
                excepted = await uow.resolutions.passed_exception_for(member_id)
            if not excepted:
                raise await auditor.deny(
                    needs_task_force_exception(),
                    auditor.draft(
                        actor,
                        AuditAction.MEMBER_UPDATE,
                        "denied",
                        subject_member_id=member_id,
                        reason="needs_task_force_exception",
                        details={"tier": tier.value},
                    ),
                )
        now = self._clock()
        changes = {name: value for name, value in fields.items() if name != "status"}
        async with self._store.write() as uow:
            await uow.feed.append([_directory_changed(now)])
            if changes:
                await uow.members.change(member_id, changes, now)
            if "status" in fields:
                await apply_status(uow, member_id, MemberStatus(fields["status"]), now)
            drafts = [
                auditor.draft(
                    actor,
                    AuditAction.MEMBER_UPDATE,
                    subject_member_id=member_id,
                    details=_audit_safe(fields),
                )
            ]
            if fields.get("tier") is not None and Tier(fields["tier"]) is not body.tier:
                drafts.append(
                    _tier_approval(auditor, actor, member_id, body.tier, Tier(fields["tier"]))
                )
            await uow.audit.append(drafts)
            stored = await _stored(uow, member_id)
        self._directory.forget()  # routing and sign-in must see this change at once
        return stored

    async def provider_names(self, member_ids: Sequence[str]) -> dict[str, str]:
        """The names of the providers of items the caller already may open, by id
        (the native item shows `provider_id`; a MISP event names its creator)."""
        async with self._store.read() as uow:
            return await uow.members.names(sorted(set(member_ids)))

    async def roster(self) -> list[RosterEntry]:
        """The public roster: active members that agreed to be listed (art. 25)."""
        async with self._store.read() as uow:
            return await uow.members.roster()

    async def create_user(
        self,
        actor: Actor,
        member_id: str,
        name: str,
        role: Role,
        lifetime: timedelta | None = None,
        *,
        chair: bool = False,
    ) -> CreatedUser:
        """A new user and its token, shown once (stored only as a hash); with a
        `lifetime`, the token stops signing in that long from now.

        A steering-committee seat is a `committee` user of the secretariat's
        body (SPEC §6, art. 11); one seat may be the chair (art. 11(5)).
        """
        auditor = self._auditor
        async with self._store.read() as uow:
            body = await self._visible_body(uow, actor, member_id, AuditAction.USER_CREATE)
        if role is Role.COMMITTEE and body.kind is not BodyKind.SECRETARIAT:
            raise InvalidInput(
                "committee seats are users of the secretariat's body (charter art. 11): "
                "create them on the secretariat's id",
                field="role",
            )
        if chair and role is not Role.COMMITTEE:
            raise InvalidInput("only a committee seat can be the chair", field="chair")
        await self._require(actor, body, tlp.AdminAct.CREATE_USER, AuditAction.USER_CREATE)
        token = new_token()
        now = self._clock()
        expires_at = None if lifetime is None else now + lifetime
        user = User(
            id=new_id(),
            member_id=member_id,
            name=name,
            role=role,
            created_at=now,
            expires_at=expires_at,
            chair=chair,
        )
        if chair:
            async with self._store.read() as uow:
                sitting = await uow.members.chair_of(member_id)
            if sitting is not None:
                # Art. 11(5): one chair; revoke the sitting chair's seat first.
                raise await auditor.deny(
                    Conflict(
                        "the committee has a chair already: revoke that seat first",
                        field="chair",
                    ),
                    auditor.draft(
                        actor,
                        AuditAction.USER_CREATE,
                        "denied",
                        subject_member_id=member_id,
                        reason="chair_taken",
                    ),
                )
        details: dict[str, Any] = {"user_id": user.id, "role": role.value}
        if expires_at is not None:
            details["expires_at"] = rfc3339(expires_at)
        if chair:
            details["chair"] = True
        async with self._store.write() as uow:
            if chair and await uow.members.chair_of(member_id) is not None:
                raise Conflict("the committee has a chair already", field="chair")
            await uow.members.add_user(user, hash_token(token))
            await uow.audit.append(
                [
                    auditor.draft(
                        actor,
                        AuditAction.USER_CREATE,
                        subject_member_id=member_id,
                        details=details,
                    )
                ]
            )
            stored = await _stored_user(uow, user.id)
        return CreatedUser(user=stored, token=token)

    async def withdraw(self, actor: Actor, member_id: str, reason: str | None) -> Member:
        """The member's own notice of withdrawal, effective at once (charter art. 7).

        From this moment the member receives nothing and its tokens stop
        working, exactly as a restriction stops its deliveries (SPEC §3 rule
        7): its open obligations close, and every replica closes its live
        connections and drops its sign-ins.
        """
        auditor = self._auditor
        async with self._store.read() as uow:
            body = await self._visible_body(uow, actor, member_id, AuditAction.MEMBER_WITHDRAW)
        target = Body(id=body.id, kind=body.kind, status=body.status)
        decision = tlp.may_leave(actor.reader, target)
        if not decision:
            first = decision.reasons[0]
            error: Forbidden | Conflict = (
                Conflict("this member has left the council already", field="id")
                if first is tlp.Reason.ALREADY_GONE
                else Forbidden(
                    "the coordinator and the secretariat cannot withdraw"
                    if first is tlp.Reason.NOT_A_MEMBER
                    else "only the member's own administrators give its notice of "
                    "withdrawal (charter art. 7)"
                )
            )
            raise await auditor.deny(
                error,
                auditor.draft(
                    actor,
                    AuditAction.MEMBER_WITHDRAW,
                    "denied",
                    subject_member_id=member_id,
                    reason=",".join(str(r) for r in decision.reasons),
                ),
            )
        now = self._clock()
        status = MemberStatus.WITHDRAWN
        async with self._store.write() as uow:
            # Its obligations close and its live connections close at once, on
            # every replica (rule 7).
            await apply_status(uow, member_id, status, now)
            await uow.audit.append(
                [
                    auditor.draft(
                        actor,
                        AuditAction.MEMBER_WITHDRAW,
                        subject_member_id=member_id,
                        # The notice is addressed to the secretariat (art. 7), which
                        # reads the audit log: its reason is kept with it.
                        details={
                            "from": body.status.value,
                            **({"reason": reason} if reason else {}),
                        },
                    )
                ]
            )
            stored = await _stored(uow, member_id)
        self._directory.forget()  # its tokens stop working at once
        return stored

    async def list_users(self, actor: Actor, member_id: str) -> list[User]:
        """The users of a body, for its admins and the coordinator."""
        async with self._store.read() as uow:
            await self._visible_body(uow, actor, member_id, AuditAction.USER_LIST)
            allowed = actor.admin_of(member_id) or actor.is_coordinator
            users = await uow.members.users_of(member_id) if allowed else []
        if not allowed:
            # Rule 10: a refusal is an audit event like any other decision.
            raise await self._auditor.deny(
                Forbidden(
                    "only the member's administrators see its users", reason=tlp.Reason.NOT_ADMIN
                ),
                self._auditor.draft(
                    actor,
                    AuditAction.USER_LIST,
                    "denied",
                    subject_member_id=member_id,
                    reason="not_admin",
                ),
            )
        return users

    async def revoke_user(self, actor: Actor, member_id: str, user_id: str) -> User:
        """Revoke a user's token at once; the user keeps its audit history."""
        auditor = self._auditor
        async with self._store.read() as uow:
            body = await self._visible_body(uow, actor, member_id, AuditAction.USER_REVOKE)
            user = await self._user_of(uow, actor, member_id, user_id, AuditAction.USER_REVOKE)
        await self._require(
            actor, body, tlp.AdminAct.REVOKE_USER, AuditAction.USER_REVOKE, user_id=user_id
        )
        now = self._clock()
        async with self._store.write() as uow:
            # The user's open connections are re-decided on every replica (rules 3, 7).
            await uow.feed.append(
                [
                    _directory_changed(now),
                    EventDraft(
                        kind=EventKind.USER_ACCESS,
                        created_at=now,
                        member_id=member_id,
                        payload={"user_id": user_id},
                    ),
                ]
            )
            if user.revoked_at is None:
                await uow.members.revoke_user(user_id, now)
            await uow.audit.append(
                [
                    auditor.draft(
                        actor,
                        AuditAction.USER_REVOKE,
                        subject_member_id=member_id,
                        details={"user_id": user_id},
                    )
                ]
            )
            stored = await _stored_user(uow, user_id)
        self._directory.forget()  # the revoked token stops working at once
        return stored

    async def rotate_token(
        self, actor: Actor, member_id: str, user_id: str, lifetime: timedelta | None = None
    ) -> CreatedUser:
        """A new token for a user, shown once; the old one stops signing in at once,
        on every replica, and the user's open streams close (no grace period: a
        rotation is often done because the old token leaked).

        With `lifetime` the new token expires that long from now; without it the
        user's expiry stays as it was.
        """
        auditor = self._auditor
        async with self._store.read() as uow:
            body = await self._visible_body(uow, actor, member_id, AuditAction.USER_TOKEN_ROTATE)
            user = await self._user_of(
                uow, actor, member_id, user_id, AuditAction.USER_TOKEN_ROTATE
            )
        await self._require(
            actor, body, tlp.AdminAct.ROTATE_TOKEN, AuditAction.USER_TOKEN_ROTATE, user_id=user_id
        )
        if user.revoked_at is not None:
            raise await auditor.deny(
                Conflict("a revoked user's token cannot be rotated", field="user_id"),
                _refused(
                    auditor, actor, AuditAction.USER_TOKEN_ROTATE, member_id, user_id, "revoked"
                ),
            )
        now = self._clock()
        expires_at = user.expires_at if lifetime is None else now + lifetime
        if expires_at is not None and expires_at <= now:
            # Kept as it was, the new token would be born expired.
            raise InvalidInput(
                "this user's token has expired: give expires_in (e.g. P90D) for the new one",
                field="expires_in",
            )
        token = new_token()
        details: dict[str, Any] = {"user_id": user_id}
        if expires_at is not None:
            details["expires_at"] = rfc3339(expires_at)
        async with self._store.write() as uow:
            # The user's open connections close on every replica (rules 3, 7):
            # they were opened with the old token.
            await uow.feed.append(
                [
                    _directory_changed(now),
                    EventDraft(
                        kind=EventKind.USER_ACCESS,
                        created_at=now,
                        member_id=member_id,
                        payload={"user_id": user_id},
                    ),
                ]
            )
            await uow.members.replace_token(user_id, hash_token(token), expires_at)
            await uow.audit.append(
                [
                    auditor.draft(
                        actor,
                        AuditAction.USER_TOKEN_ROTATE,
                        subject_member_id=member_id,
                        details=details,
                    )
                ]
            )
            stored = await _stored_user(uow, user_id)
        self._directory.forget()  # the old token stops working at once
        return CreatedUser(user=stored, token=token)

    async def add_handler(
        self, actor: Actor, member_id: str, user_id: str, effective_from: datetime | None
    ) -> HandlerRegistration:
        """Register a handler of secret information (art. 6(6)); may take effect later (6(8))."""
        auditor = self._auditor
        now = self._clock()
        async with self._store.read() as uow:
            body = await self._visible_body(uow, actor, member_id, AuditAction.HANDLER_ADD)
            user = await self._user_of(uow, actor, member_id, user_id, AuditAction.HANDLER_ADD)
        await self._require(
            actor, body, tlp.AdminAct.ADD_HANDLER, AuditAction.HANDLER_ADD, user_id=user_id
        )
        if effective_from is not None and effective_from < now - CLOCK_SKEW:
            raise await auditor.deny(
                InvalidInput(
                    "effective_from lies in the past: a registration takes effect now "
                    "(leave it out) or later, never back-dated",
                    field="effective_from",
                ),
                _refused(auditor, actor, AuditAction.HANDLER_ADD, member_id, user_id, "backdated"),
            )
        if user.revoked_at is not None:
            raise await auditor.deny(
                Conflict("a revoked user cannot become a handler", field="user_id"),
                _refused(
                    auditor, actor, AuditAction.HANDLER_ADD, member_id, user_id, "user_revoked"
                ),
            )
        async with self._store.read() as uow:
            standing = await uow.members.unended_handler(member_id, user_id, now)
        if standing is not None:
            # Rule 10: audited here; the check in the write below only guards a race.
            raise await auditor.deny(
                Conflict("this user is already a registered handler", field="user_id"),
                _refused(
                    auditor, actor, AuditAction.HANDLER_ADD, member_id, user_id, "already_handler"
                ),
            )
        start = effective_from or now
        registration = HandlerRegistration(
            id=new_id(),
            member_id=member_id,
            user_id=user_id,
            effective_from=start,
            effective_until=None,
            created_at=now,
        )
        async with self._store.write() as uow:
            # The user's open connections are re-decided on every replica (rules 3, 7).
            await uow.feed.append(
                [
                    _directory_changed(now),
                    EventDraft(
                        kind=EventKind.USER_ACCESS,
                        created_at=now,
                        member_id=member_id,
                        payload={"user_id": user_id},
                    ),
                ]
            )
            if await uow.members.unended_handler(member_id, user_id, now) is not None:
                raise Conflict("this user is already a registered handler", field="user_id")
            await uow.members.add_handler(registration)
            await uow.audit.append(
                [
                    auditor.draft(
                        actor,
                        AuditAction.HANDLER_ADD,
                        subject_member_id=member_id,
                        details={"user_id": user_id, "effective_from": start.isoformat()},
                    )
                ]
            )
            stored = await _stored_handler(uow, registration.id)
        self._directory.forget()  # routing and sign-in must see this change at once
        return stored

    async def remove_handler(
        self, actor: Actor, member_id: str, user_id: str, effective_until: datetime | None = None
    ) -> HandlerRegistration:
        """End a handler registration (at once unless a later time is given)."""
        auditor = self._auditor
        now = self._clock()
        end = effective_until or now
        async with self._store.read() as uow:
            body = await self._visible_body(uow, actor, member_id, AuditAction.HANDLER_REMOVE)
        await self._require(
            actor, body, tlp.AdminAct.REMOVE_HANDLER, AuditAction.HANDLER_REMOVE, user_id=user_id
        )
        if effective_until is not None and effective_until < now - CLOCK_SKEW:
            raise await auditor.deny(
                InvalidInput(
                    "effective_until lies in the past: a registration ends now or later",
                    field="effective_until",
                ),
                _refused(
                    auditor, actor, AuditAction.HANDLER_REMOVE, member_id, user_id, "backdated"
                ),
            )
        async with self._store.read() as uow:
            standing = await uow.members.unended_handler(member_id, user_id, now)
        if standing is None:
            # Rule 10: audited here; the check in the write below only guards a race.
            raise await auditor.deny(
                NotFound("no registered handler with that user id", field="user_id"),
                _refused(
                    auditor,
                    actor,
                    AuditAction.HANDLER_REMOVE,
                    member_id,
                    user_id[:64],
                    "no_such_handler",
                ),
            )
        async with self._store.write() as uow:
            # The user's open connections are re-decided on every replica (rules 3, 7).
            await uow.feed.append(
                [
                    _directory_changed(now),
                    EventDraft(
                        kind=EventKind.USER_ACCESS,
                        created_at=now,
                        member_id=member_id,
                        payload={"user_id": user_id},
                    ),
                ]
            )
            current = await uow.members.unended_handler(member_id, user_id, now)
            if current is None:
                raise NotFound("no registered handler with that user id", field="user_id")
            await uow.members.end_handler(current.id, end)
            await uow.audit.append(
                [
                    auditor.draft(
                        actor,
                        AuditAction.HANDLER_REMOVE,
                        subject_member_id=member_id,
                        details={"user_id": user_id, "effective_until": end.isoformat()},
                    )
                ]
            )
            stored = await _stored_handler(uow, current.id)
        self._directory.forget()  # routing and sign-in must see this change at once
        return stored

    async def list_handlers(self, actor: Actor, member_id: str) -> list[HandlerRegistration]:
        """Every handler registration of a body, past and future, with its times."""
        async with self._store.read() as uow:
            await self._visible_body(uow, actor, member_id, AuditAction.HANDLER_LIST)
            return await uow.members.handlers_of(member_id)

    async def _require(
        self,
        actor: Actor,
        body: Member,
        act: tlp.AdminAct,
        action: AuditAction,
        *,
        user_id: str | None = None,
    ) -> None:
        """Ask the policy whether `actor` may do `act` to `body`; audit and raise if not."""
        async with self._store.read() as uow:
            users = await uow.members.users_of(body.id)
        # Ever had an admin, revoked ones included: revoking a member's admins must
        # not hand the member back to the coordinator (SPEC §3 rule 1).
        has_admin = any(u.role is Role.MEMBER_ADMIN for u in users)
        target = Body(id=body.id, kind=body.kind, status=body.status)
        decision = tlp.may_administer(actor.reader, target, act, target_has_admin=has_admin)
        if decision:
            return
        raise await self._auditor.deny(
            Forbidden(
                _REFUSALS.get(decision.reasons[0], "you may not do this for this member"),
                reason=decision.reasons[0],
            ),
            self._auditor.draft(
                actor,
                action,
                "denied",
                subject_member_id=body.id,
                reason=",".join(str(r) for r in decision.reasons),
                details={"user_id": user_id} if user_id is not None else None,
            ),
        )

    async def _user_of(
        self, uow: UnitOfWork, actor: Actor, member_id: str, user_id: str, action: AuditAction
    ) -> User:
        user = await uow.members.user(user_id, member_id)
        if user is None:
            raise await self._auditor.deny(
                NotFound("no user with that id in this member", field="user_id"),
                _refused(self._auditor, actor, action, member_id, user_id[:64], "no_such_user"),
            )
        return user

    async def _visible_body(
        self, uow: UnitOfWork, actor: Actor, member_id: str, action: AuditAction
    ) -> Member:
        member = await uow.members.get(member_id)
        visible = actor.is_coordinator or actor.is_secretariat or actor.member_id == member_id
        if member is None or not visible:
            # Same answer whether it exists or not (docs/api.md: 404 reveals nothing).
            raise await self._auditor.deny(
                NotFound("no member with that id", field="id"),
                self._auditor.draft(
                    actor,
                    action,
                    "denied",
                    reason="not_visible",
                    details={"member_id": member_id[:64]},
                ),
            )
        return member


async def _stored(uow: UnitOfWork, member_id: str) -> Member:
    member = await uow.members.get(member_id)
    assert member is not None, "written in this unit of work"
    return member


async def _stored_user(uow: UnitOfWork, user_id: str) -> User:
    user = await uow.members.user(user_id)
    assert user is not None, "written in this unit of work"
    return user


async def _stored_handler(uow: UnitOfWork, handler_id: str) -> HandlerRegistration:
    registration = await uow.members.handler(handler_id)
    assert registration is not None, "written in this unit of work"
    return registration


_REFUSALS = {
    tlp.Reason.NOT_ADMIN: "only the member's administrators may do this",
    tlp.Reason.MEMBER_ADMINISTERS_ITSELF: (
        "this member has its own administrators: only they may do this; "
        "the coordinator may revoke a user or a handler"
    ),
    tlp.Reason.INACTIVE_MEMBER: (
        "your member is restricted (charter art. 8(2)) or not admitted yet (art. 6(1)): "
        "it may read its audit log and withdraw, nothing else"
    ),
}
"""What a refused caller is told, by the policy's first reason (it may see the body)."""


def _refused(
    auditor: Auditor,
    actor: Actor,
    action: AuditAction,
    member_id: str,
    user_id: str,
    reason: str,
) -> AuditDraft:
    return auditor.draft(
        actor,
        action,
        "denied",
        subject_member_id=member_id,
        reason=reason,
        details={"user_id": user_id},
    )


def _admission(new: NewMember) -> str:
    # How the member came in, for the record (art. 6(1), 6(5)).
    if new.notification:
        return "notification"
    return "application" if new.status is MemberStatus.APPLICANT else "approved"


def _tier_approval(
    auditor: Auditor, actor: Actor, member_id: str, before: Tier, after: Tier
) -> AuditDraft:
    # Task Force Rules art. 3: a member becomes tier one or two when the task force
    # approves; the coordinator gives that approval on its behalf, and it is recorded
    # as such, apart from the member change that carries it.
    return auditor.draft(
        actor,
        AuditAction.MEMBER_TIER_APPROVE,
        subject_member_id=member_id,
        details={"from": before.value, "to": after.value, "approved_by": "task_force"},
    )


def _directory_changed(now: datetime) -> EventDraft:
    # Every replica's feed poller sees it and drops its cached directory and
    # sign-ins, so routing and authentication follow the change within
    # milliseconds everywhere (charter art. 7, 8: "from the moment it takes effect").
    return EventDraft(kind=EventKind.DIRECTORY_CHANGED, created_at=now)


def _audit_safe(fields: Mapping[str, Any]) -> dict[str, Any]:
    # Membership attributes are metadata, not content: fine to keep in the log.
    return {k: (v.value if isinstance(v, Enum) else v) for k, v in fields.items()}
