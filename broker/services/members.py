"""Members, their users and registered handlers (SPEC §1, §6; charter art. 6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from broker.crypto import hash_token, new_token
from broker.domain import BodyKind, MemberStatus, Role
from broker.errors import Conflict, Forbidden, InvalidInput, NotFound
from broker.services.core import Actor, Core, new_id
from broker.services.obligations import DEPARTED_STATUSES, close_for_member
from broker.services.views import handler_view, member_view, user_view
from broker.store.audit_repo import append_events
from broker.store.feed_repo import EventDraft, insert_events
from broker.store.members_repo import body_row
from broker.store.tables import bodies, handlers, users
from broker.store.uow import UnitOfWork

# What a member's own admin may change about its body; the rest is the
# coordinator's (API.md PATCH /v1/members/{id}).
SELF_SERVICE_FIELDS = frozenset({"listed", "refuses_secrets", "early_warning"})


class MemberService:
    """Create, read and change bodies, users and handlers; every change audited."""

    def __init__(self, core: Core) -> None:
        self.core = core

    async def create_member(self, actor: Actor, fields: dict[str, Any]) -> dict[str, Any]:
        """The coordinator admits a member (after the committee's approval, art. 6)."""
        core = self.core
        if not actor.is_coordinator_admin:
            raise await core.deny(
                Forbidden("only the coordinator's administrators create members"),
                core.draft(actor, "member.create", "denied", reason="not_coordinator_admin"),
            )
        now = core.clock()
        member_id = new_id()
        row = {
            "id": member_id,
            "kind": BodyKind.MEMBER.value,
            "status": MemberStatus.ACTIVE.value,
            "created_at": now,
            "updated_at": now,
            **fields,
        }
        async with core.db.write() as conn:
            await insert_events(conn, [_directory_changed(now)])
            await conn.execute(insert(bodies).values(**row))
            await append_events(
                conn,
                [
                    core.draft(
                        actor,
                        "member.create",
                        subject_member_id=member_id,
                        details=_audit_safe(fields),
                    )
                ],
            )
            stored = await body_row(conn, member_id)
        core.forget_directory()  # routing and sign-in must see this change at once
        return member_view(stored)

    async def list_members(self, actor: Actor) -> list[dict[str, Any]]:
        """Every body for the coordinator and secretariat; a member sees itself."""
        async with self.core.db.read() as conn:
            query = select(bodies).order_by(bodies.c.created_at, bodies.c.id)
            if not (actor.is_coordinator or actor.is_secretariat):
                query = query.where(bodies.c.id == actor.member_id)
            rows = (await conn.execute(query)).all()
        return [member_view(r) for r in rows]

    async def get_member(self, actor: Actor, member_id: str) -> dict[str, Any]:
        """One body, if the caller may see it (else 404)."""
        async with self.core.db.read() as conn:
            row = await self._visible_body(conn, actor, member_id, "member.read")
        return member_view(row)

    async def update_member(
        self, actor: Actor, member_id: str, fields: dict[str, Any]
    ) -> dict[str, Any]:
        """Change a body: anything for the coordinator, self-service flags for its admin."""
        core = self.core
        async with core.db.read() as conn:
            await self._visible_body(conn, actor, member_id, "member.update")
        if not actor.is_coordinator_admin:
            outside = sorted(set(fields) - SELF_SERVICE_FIELDS)
            if not actor.admin_of(member_id) or outside:
                raise await core.deny(
                    Forbidden(
                        "only the coordinator may change "
                        + (", ".join(outside) if outside else "this member"),
                        field=outside[0] if outside else None,
                    ),
                    core.draft(
                        actor,
                        "member.update",
                        "denied",
                        subject_member_id=member_id,
                        reason="not_permitted",
                        details={"fields": sorted(fields)},
                    ),
                )
        now = core.clock()
        async with core.db.write() as conn:
            await insert_events(conn, [_directory_changed(now)])
            if fields:
                await conn.execute(
                    update(bodies).where(bodies.c.id == member_id).values(**fields, updated_at=now)
                )
            # Task force (SPEC §4): a member that leaves or is restricted owes nothing more.
            if fields.get("status") is not None and MemberStatus(fields["status"]) in (
                DEPARTED_STATUSES
            ):
                await close_for_member(UnitOfWork(conn), member_id, now)
            if "status" in fields:
                # Live connections of the member close at once (rule 7, art. 8(2)).
                await insert_events(
                    conn,
                    [
                        EventDraft(
                            kind="member_status",
                            created_at=now,
                            member_id=member_id,
                            payload={"status": fields["status"]},
                        )
                    ],
                )
            await append_events(
                conn,
                [
                    core.draft(
                        actor,
                        "member.update",
                        subject_member_id=member_id,
                        details=_audit_safe(fields),
                    )
                ],
            )
            row = await body_row(conn, member_id)
        core.forget_directory()  # routing and sign-in must see this change at once
        return member_view(row)

    async def roster(self) -> list[dict[str, Any]]:
        """The public roster: active members that agreed to be listed (art. 25)."""
        query = (
            select(bodies.c.id, bodies.c.name, bodies.c.category)
            .where(
                bodies.c.kind == BodyKind.MEMBER.value,
                bodies.c.status == MemberStatus.ACTIVE.value,
                bodies.c.listed.is_(True),
            )
            .order_by(bodies.c.name)
        )
        async with self.core.db.read() as conn:
            rows = (await conn.execute(query)).all()
        # Ids are listed so members can name each other in scopes (art. 17(1)).
        return [{"id": r.id, "name": r.name, "category": r.category} for r in rows]

    async def create_user(
        self, actor: Actor, member_id: str, name: str, role: Role
    ) -> dict[str, Any]:
        """A new user and its token, shown once (stored only as a hash)."""
        core = self.core
        async with core.db.read() as conn:
            body = await self._visible_body(conn, actor, member_id, "user.create")
        if not actor.admin_of(member_id):
            raise await core.deny(
                Forbidden("only the member's administrators or the coordinator create users"),
                core.draft(
                    actor, "user.create", "denied", subject_member_id=member_id, reason="not_admin"
                ),
            )
        if role is Role.COMMITTEE and body.kind == BodyKind.MEMBER.value:
            raise InvalidInput(
                "the committee role belongs to users of the coordinator or the secretariat",
                field="role",
            )
        token = new_token()
        now = core.clock()
        user_id = new_id()
        async with core.db.write() as conn:
            await conn.execute(
                insert(users).values(
                    id=user_id,
                    member_id=member_id,
                    name=name,
                    role=role.value,
                    token_hash=hash_token(token),
                    created_at=now,
                )
            )
            await append_events(
                conn,
                [
                    core.draft(
                        actor,
                        "user.create",
                        subject_member_id=member_id,
                        details={"user_id": user_id, "role": role.value},
                    )
                ],
            )
            row = (await conn.execute(select(users).where(users.c.id == user_id))).one()
        return {"user": user_view(row), "token": token}

    async def list_users(self, actor: Actor, member_id: str) -> list[dict[str, Any]]:
        """The users of a body, for its admins and the coordinator."""
        async with self.core.db.read() as conn:
            await self._visible_body(conn, actor, member_id, "user.list")
            if not (actor.admin_of(member_id) or actor.is_coordinator):
                raise Forbidden("only the member's administrators see its users")
            rows = (
                await conn.execute(
                    select(users).where(users.c.member_id == member_id).order_by(users.c.id)
                )
            ).all()
        return [user_view(r) for r in rows]

    async def revoke_user(self, actor: Actor, member_id: str, user_id: str) -> dict[str, Any]:
        """Revoke a user's token at once; the user keeps its audit history."""
        core = self.core
        async with core.db.read() as conn:
            await self._visible_body(conn, actor, member_id, "user.revoke")
            row = await _user_of(conn, member_id, user_id)
        if not actor.admin_of(member_id):
            raise await core.deny(
                Forbidden("only the member's administrators or the coordinator revoke users"),
                core.draft(
                    actor,
                    "user.revoke",
                    "denied",
                    subject_member_id=member_id,
                    reason="not_admin",
                    details={"user_id": user_id},
                ),
            )
        now = core.clock()
        async with core.db.write() as conn:
            await insert_events(conn, [_directory_changed(now)])
            if row.revoked_at is None:
                await conn.execute(
                    update(users).where(users.c.id == user_id).values(revoked_at=now)
                )
            await append_events(
                conn,
                [
                    core.draft(
                        actor,
                        "user.revoke",
                        subject_member_id=member_id,
                        details={"user_id": user_id},
                    )
                ],
            )
            row = (await conn.execute(select(users).where(users.c.id == user_id))).one()
        core.forget_directory()  # the revoked token stops working at once
        return user_view(row)

    async def add_handler(
        self, actor: Actor, member_id: str, user_id: str, effective_from: datetime | None
    ) -> dict[str, Any]:
        """Register a handler of secret information (art. 6(6)); may take effect later (6(8))."""
        core = self.core
        now = core.clock()
        async with core.db.read() as conn:
            await self._visible_body(conn, actor, member_id, "handler.add")
            user = await _user_of(conn, member_id, user_id)
        if not actor.admin_of(member_id):
            raise await core.deny(
                Forbidden("only the member's administrators or the coordinator register handlers"),
                core.draft(
                    actor,
                    "handler.add",
                    "denied",
                    subject_member_id=member_id,
                    reason="not_admin",
                    details={"user_id": user_id},
                ),
            )
        if user.revoked_at is not None:
            raise Conflict("a revoked user cannot become a handler", field="user_id")
        start = effective_from or now
        handler_id = new_id()
        async with core.db.write() as conn:
            await insert_events(conn, [_directory_changed(now)])
            current = (
                await conn.execute(
                    select(handlers.c.id).where(
                        handlers.c.member_id == member_id,
                        handlers.c.user_id == user_id,
                        (handlers.c.effective_until.is_(None)) | (handlers.c.effective_until > now),
                    )
                )
            ).first()
            if current is not None:
                raise Conflict("this user is already a registered handler", field="user_id")
            await conn.execute(
                insert(handlers).values(
                    id=handler_id,
                    member_id=member_id,
                    user_id=user_id,
                    effective_from=start,
                    effective_until=None,
                    created_at=now,
                )
            )
            await append_events(
                conn,
                [
                    core.draft(
                        actor,
                        "handler.add",
                        subject_member_id=member_id,
                        details={"user_id": user_id, "effective_from": start.isoformat()},
                    )
                ],
            )
            row = (await conn.execute(select(handlers).where(handlers.c.id == handler_id))).one()
        core.forget_directory()  # routing and sign-in must see this change at once
        return handler_view(row)

    async def remove_handler(
        self, actor: Actor, member_id: str, user_id: str, effective_until: datetime | None = None
    ) -> dict[str, Any]:
        """End a handler registration (at once unless a later time is given)."""
        core = self.core
        now = core.clock()
        end = effective_until or now
        async with core.db.read() as conn:
            await self._visible_body(conn, actor, member_id, "handler.remove")
        if not actor.admin_of(member_id):
            raise await core.deny(
                Forbidden("only the member's administrators or the coordinator remove handlers"),
                core.draft(
                    actor,
                    "handler.remove",
                    "denied",
                    subject_member_id=member_id,
                    reason="not_admin",
                    details={"user_id": user_id},
                ),
            )
        async with core.db.write() as conn:
            await insert_events(conn, [_directory_changed(now)])
            row = (
                await conn.execute(
                    select(handlers).where(
                        handlers.c.member_id == member_id,
                        handlers.c.user_id == user_id,
                        (handlers.c.effective_until.is_(None)) | (handlers.c.effective_until > now),
                    )
                )
            ).first()
            if row is None:
                raise NotFound("no registered handler with that user id", field="user_id")
            await conn.execute(
                update(handlers).where(handlers.c.id == row.id).values(effective_until=end)
            )
            await append_events(
                conn,
                [
                    core.draft(
                        actor,
                        "handler.remove",
                        subject_member_id=member_id,
                        details={"user_id": user_id, "effective_until": end.isoformat()},
                    )
                ],
            )
            row = (await conn.execute(select(handlers).where(handlers.c.id == row.id))).one()
        core.forget_directory()  # routing and sign-in must see this change at once
        return handler_view(row)

    async def list_handlers(self, actor: Actor, member_id: str) -> list[dict[str, Any]]:
        """Every handler registration of a body, past and future, with its times."""
        async with self.core.db.read() as conn:
            await self._visible_body(conn, actor, member_id, "handler.list")
            rows = (
                await conn.execute(
                    select(handlers)
                    .where(handlers.c.member_id == member_id)
                    .order_by(handlers.c.effective_from, handlers.c.id)
                )
            ).all()
        return [handler_view(r) for r in rows]

    async def _visible_body(self, conn: Any, actor: Actor, member_id: str, action: str) -> Any:
        row = await body_row(conn, member_id)
        visible = actor.is_coordinator or actor.is_secretariat or actor.member_id == member_id
        if row is None or not visible:
            # Same answer whether it exists or not (API.md: 404 reveals nothing).
            raise await self.core.deny(
                NotFound("no member with that id", field="id"),
                self.core.draft(
                    actor,
                    action,
                    "denied",
                    reason="not_visible",
                    details={"member_id": member_id[:64]},
                ),
            )
        return row


async def _user_of(conn: Any, member_id: str, user_id: str) -> Any:
    row = (
        await conn.execute(
            select(users).where(users.c.id == user_id, users.c.member_id == member_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound("no user with that id in this member", field="user_id")
    return row


def _directory_changed(now: datetime) -> EventDraft:
    # Every replica's feed poller sees it and drops its cached directory and
    # sign-ins, so routing and authentication follow the change within
    # milliseconds everywhere (charter art. 7, 8: "from the moment it takes effect").
    return EventDraft(kind="directory_changed", created_at=now)


def _audit_safe(fields: dict[str, Any]) -> dict[str, Any]:
    # Membership attributes are metadata, not content: fine to keep in the log.
    return {k: (v.value if hasattr(v, "value") else v) for k, v in fields.items()}
