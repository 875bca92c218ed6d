"""First start: schema, key ring, the coordinator and secretariat, the first admin."""

from __future__ import annotations

import os
from datetime import datetime

from broker.crypto import KeyRing, hash_token, new_token
from broker.domain import AuditAction, BodyKind, Category, MemberStatus, Role, Tier
from broker.domain.members import HandlerRegistration, Member, User
from broker.services.auditor import Auditor
from broker.services.clock import Clock, utc_now
from broker.services.ids import new_id
from broker.settings import Settings
from broker.store import Database
from broker.store.uow import Store

__all__ = ["AlreadyInitialised", "initialise", "is_initialised"]


class AlreadyInitialised(Exception):
    """`init` refuses to run twice on the same database."""


async def is_initialised(settings: Settings) -> bool:
    """Whether the database already has its coordinator."""
    store = Store(Database(settings.resolved_database_url))
    try:
        if not await store.ping():
            return False  # no database yet
        async with store.read() as uow:
            return await uow.members.has_coordinator()
    finally:
        await store.dispose()


def _ensure_key_ring(settings: Settings) -> None:
    if settings.key_ring is not None:
        KeyRing.from_env(settings.key_ring.get_secret_value())
    elif settings.key_ring_path.exists():
        # Another replica (or an earlier, interrupted init) made it: share it.
        KeyRing.load(settings.key_ring_path)
    else:
        KeyRing.create(settings.key_ring_path)


async def initialise(settings: Settings, clock: Clock = utc_now) -> dict[str, str]:
    """Create everything a new broker needs; returns the first admin's token once."""
    if await is_initialised(settings):
        raise AlreadyInitialised("this broker is already initialised")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)  # the key ring and database live here
    _ensure_key_ring(settings)
    store = Store(Database(settings.resolved_database_url))
    try:
        await store.migrate()
        return await _first_bodies(store, clock)
    finally:
        await store.dispose()


def _first_body(body_id: str, name: str, kind: BodyKind, now: datetime) -> Member:
    return Member(
        id=body_id,
        name=name,
        kind=kind,
        category=Category.GOVERNMENT if kind is BodyKind.SECRETARIAT else Category.OTHER,
        tier=Tier.NONE,
        status=MemberStatus.ACTIVE,
        regulator=False,
        law_enforcement=False,
        foreign=False,
        mutual_aid=False,
        listed=False,
        refuses_secrets=False,
        early_warning=True,
        created_at=now,
        updated_at=now,
    )


async def _first_bodies(store: Store, clock: Clock) -> dict[str, str]:
    auditor = Auditor(store, clock)
    now = clock()
    coordinator_id, secretariat_id, admin_id = new_id(), new_id(), new_id()
    token = new_token()
    async with store.write() as uow:
        if await uow.members.has_coordinator():
            raise AlreadyInitialised("this broker is already initialised")
        await uow.members.add(
            _first_body(coordinator_id, "Coordinator", BodyKind.COORDINATOR, now),
            _first_body(secretariat_id, "Secretariat", BodyKind.SECRETARIAT, now),
        )
        await uow.members.add_user(
            User(
                id=admin_id,
                member_id=coordinator_id,
                name="First administrator",
                role=Role.MEMBER_ADMIN,
                created_at=now,
            ),
            hash_token(token),
        )
        # The first admin handles secrets for the coordinator (README, "Operating it").
        await uow.members.add_handler(
            HandlerRegistration(
                id=new_id(),
                member_id=coordinator_id,
                user_id=admin_id,
                effective_from=now,
                effective_until=None,
                created_at=now,
            )
        )
        await uow.audit.append(
            [
                auditor.draft(None, AuditAction.SYSTEM_INIT, at=now),
                auditor.draft(
                    None,
                    AuditAction.MEMBER_CREATE,
                    subject_member_id=coordinator_id,
                    at=now,
                    details={"kind": "coordinator"},
                ),
                auditor.draft(
                    None,
                    AuditAction.MEMBER_CREATE,
                    subject_member_id=secretariat_id,
                    at=now,
                    details={"kind": "secretariat"},
                ),
                auditor.draft(
                    None,
                    AuditAction.USER_CREATE,
                    subject_member_id=coordinator_id,
                    at=now,
                    details={"user_id": admin_id, "role": Role.MEMBER_ADMIN.value},
                ),
                auditor.draft(
                    None,
                    AuditAction.HANDLER_ADD,
                    subject_member_id=coordinator_id,
                    at=now,
                    details={"user_id": admin_id},
                ),
            ]
        )
    return {"token": token, "member_id": coordinator_id, "user_id": admin_id}
