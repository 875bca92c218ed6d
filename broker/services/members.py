"""Members, their users and registered handlers (SPEC §1, §6; charter art. 6)."""

from __future__ import annotations

from collections.abc import Mapping
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
    EventDraft,
    EventKind,
    MemberStatus,
    Role,
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
from broker.errors import Conflict, Forbidden, InvalidInput, NotFound
from broker.services.auditor import Auditor
from broker.services.clock import Clock
from broker.services.directory import Directory
from broker.services.ids import new_id
from broker.services.obligations import DEPARTED_STATUSES, close_for_member
from broker.store.uow import Store, UnitOfWork

__all__ = ["CLOCK_SKEW", "SELF_SERVICE_FIELDS", "MemberService"]

CLOCK_SKEW = timedelta(minutes=5)
"""How far before the request a handler registration's effective time may lie:
the caller's clock may run a little behind ours, but a registration is never
back-dated (art. 6(8): a change takes effect from when it is notified)."""

SELF_SERVICE_FIELDS = frozenset({"listed", "refuses_secrets", "early_warning"})
"""What a member's own admin may change about its body; the rest is the
coordinator's (docs/api.md PATCH /v1/members/{id})."""


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
        now = self._clock()
        member = Member(
            id=new_id(),
            name=new.name,
            kind=BodyKind.MEMBER,
            category=new.category,
            tier=new.tier,
            status=MemberStatus.ACTIVE,
            **{flag: getattr(new, flag) for flag in BODY_FLAGS},
            created_at=now,
            updated_at=now,
        )
        details = {
            "name": new.name,
            "category": new.category.value,
            "tier": new.tier.value,
            **{flag: getattr(new, flag) for flag in BODY_FLAGS},
        }
        async with self._store.write() as uow:
            await uow.feed.append([_directory_changed(now)])
            await uow.members.add(member)
            await uow.audit.append(
                [
                    auditor.draft(
                        actor,
                        AuditAction.MEMBER_CREATE,
                        subject_member_id=member.id,
                        details=details,
                    )
                ]
            )
            stored = await _stored(uow, member.id)
        self._directory.forget()  # routing and sign-in must see this change at once
        return stored

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
        now = self._clock()
        async with self._store.write() as uow:
            await uow.feed.append([_directory_changed(now)])
            if fields:
                await uow.members.change(member_id, fields, now)
            # Task force (SPEC §4): a member that leaves or is restricted owes nothing more.
            if fields.get("status") is not None and MemberStatus(fields["status"]) in (
                DEPARTED_STATUSES
            ):
                await close_for_member(uow, member_id, now)
            if "status" in fields:
                # Live connections of the member close at once (rule 7, art. 8(2)).
                await uow.feed.append(
                    [
                        EventDraft(
                            kind=EventKind.MEMBER_STATUS,
                            created_at=now,
                            member_id=member_id,
                            payload={"status": fields["status"]},
                        )
                    ]
                )
            await uow.audit.append(
                [
                    auditor.draft(
                        actor,
                        AuditAction.MEMBER_UPDATE,
                        subject_member_id=member_id,
                        details=_audit_safe(fields),
                    )
                ]
            )
            stored = await _stored(uow, member_id)
        self._directory.forget()  # routing and sign-in must see this change at once
        return stored

    async def roster(self) -> list[RosterEntry]:
        """The public roster: active members that agreed to be listed (art. 25)."""
        async with self._store.read() as uow:
            return await uow.members.roster()

    async def create_user(self, actor: Actor, member_id: str, name: str, role: Role) -> CreatedUser:
        """A new user and its token, shown once (stored only as a hash)."""
        auditor = self._auditor
        async with self._store.read() as uow:
            body = await self._visible_body(uow, actor, member_id, AuditAction.USER_CREATE)
        await self._require(actor, body, tlp.AdminAct.CREATE_USER, AuditAction.USER_CREATE)
        if role is Role.COMMITTEE and body.kind is BodyKind.MEMBER:
            raise InvalidInput(
                "the committee role belongs to users of the coordinator or the secretariat",
                field="role",
            )
        token = new_token()
        user = User(
            id=new_id(), member_id=member_id, name=name, role=role, created_at=self._clock()
        )
        async with self._store.write() as uow:
            await uow.members.add_user(user, hash_token(token))
            await uow.audit.append(
                [
                    auditor.draft(
                        actor,
                        AuditAction.USER_CREATE,
                        subject_member_id=member_id,
                        details={"user_id": user.id, "role": role.value},
                    )
                ]
            )
            stored = await _stored_user(uow, user.id)
        return CreatedUser(user=stored, token=token)

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
        "your member is restricted (charter art. 8(2)): it may read its audit log "
        "and withdraw, nothing else"
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


def _directory_changed(now: datetime) -> EventDraft:
    # Every replica's feed poller sees it and drops its cached directory and
    # sign-ins, so routing and authentication follow the change within
    # milliseconds everywhere (charter art. 7, 8: "from the moment it takes effect").
    return EventDraft(kind=EventKind.DIRECTORY_CHANGED, created_at=now)


def _audit_safe(fields: Mapping[str, Any]) -> dict[str, Any]:
    # Membership attributes are metadata, not content: fine to keep in the log.
    return {k: (v.value if isinstance(v, Enum) else v) for k, v in fields.items()}
