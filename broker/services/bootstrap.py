"""First start: schema, key ring, the coordinator and secretariat, the first admin."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError

from broker.crypto import KeyRing, hash_token, new_token
from broker.domain import BodyKind, Category, MemberStatus, Role, Tier
from broker.services.core import Clock, Core, new_id, utc_now
from broker.settings import Settings
from broker.store import Database
from broker.store.audit_repo import append_events
from broker.store.tables import bodies, handlers, users


class AlreadyInitialised(Exception):
    """`init` refuses to run twice on the same database."""


async def is_initialised(settings: Settings) -> bool:
    """Whether the database already has its coordinator."""
    db = Database(settings.resolved_database_url)
    try:
        async with db.read() as conn:
            found = (
                await conn.execute(
                    select(bodies.c.id).where(bodies.c.kind == BodyKind.COORDINATOR.value)
                )
            ).first()
        return found is not None
    except DBAPIError:
        return False  # no schema yet
    finally:
        await db.dispose()


def _key_ring(settings: Settings) -> KeyRing:
    if settings.key_ring is not None:
        return KeyRing.from_env(settings.key_ring.get_secret_value())
    if settings.key_ring_path.exists():
        # Another replica (or an earlier, interrupted init) made it: share it.
        return KeyRing.load(settings.key_ring_path)
    return KeyRing.create(settings.key_ring_path)


async def initialise(settings: Settings, clock: Clock = utc_now) -> dict[str, str]:
    """Create everything a new broker needs; returns the first admin's token once."""
    if await is_initialised(settings):
        raise AlreadyInitialised("this broker is already initialised")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)  # the key ring and database live here
    ring = _key_ring(settings)
    db = Database(settings.resolved_database_url)
    try:
        await db.migrate()
        core = Core.over(settings, db, ring, clock)
        return await _first_bodies(core)
    finally:
        await db.dispose()


async def _first_bodies(core: Core) -> dict[str, str]:
    now = core.clock()
    coordinator_id, secretariat_id, admin_id = new_id(), new_id(), new_id()
    token = new_token()

    def body(body_id: str, name: str, kind: BodyKind) -> dict[str, Any]:
        return {
            "id": body_id,
            "name": name,
            "kind": kind.value,
            "category": Category.GOVERNMENT.value
            if kind is BodyKind.SECRETARIAT
            else Category.OTHER.value,
            "tier": Tier.NONE.value,
            "status": MemberStatus.ACTIVE.value,
            "regulator": False,
            "law_enforcement": False,
            "foreign": False,
            "mutual_aid": False,
            "listed": False,
            "refuses_secrets": False,
            "early_warning": True,
            "created_at": now,
            "updated_at": now,
        }

    async with core.db.write() as conn:
        if (
            await conn.execute(
                select(bodies.c.id).where(bodies.c.kind == BodyKind.COORDINATOR.value)
            )
        ).first():
            raise AlreadyInitialised("this broker is already initialised")
        await conn.execute(
            insert(bodies),
            [
                body(coordinator_id, "Coordinator", BodyKind.COORDINATOR),
                body(secretariat_id, "Secretariat", BodyKind.SECRETARIAT),
            ],
        )
        await conn.execute(
            insert(users).values(
                id=admin_id,
                member_id=coordinator_id,
                name="First administrator",
                role=Role.MEMBER_ADMIN.value,
                token_hash=hash_token(token),
                created_at=now,
            )
        )
        # The first admin handles secrets for the coordinator (API.md bootstrap).
        await conn.execute(
            insert(handlers).values(
                id=new_id(),
                member_id=coordinator_id,
                user_id=admin_id,
                effective_from=now,
                effective_until=None,
                created_at=now,
            )
        )
        await append_events(
            conn,
            [
                core.draft(None, "system.init", at=now),
                core.draft(
                    None,
                    "member.create",
                    subject_member_id=coordinator_id,
                    at=now,
                    details={"kind": "coordinator"},
                ),
                core.draft(
                    None,
                    "member.create",
                    subject_member_id=secretariat_id,
                    at=now,
                    details={"kind": "secretariat"},
                ),
                core.draft(
                    None,
                    "user.create",
                    subject_member_id=coordinator_id,
                    at=now,
                    details={"user_id": admin_id, "role": Role.MEMBER_ADMIN.value},
                ),
                core.draft(
                    None,
                    "handler.add",
                    subject_member_id=coordinator_id,
                    at=now,
                    details={"user_id": admin_id},
                ),
            ],
        )
    return {"token": token, "member_id": coordinator_id, "user_id": admin_id}
