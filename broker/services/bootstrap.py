"""First start: schema, key ring, the coordinator and secretariat, the first admin."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from broker.crypto import KeyRing, KeyRingError, hash_token, new_token
from broker.domain import AuditAction, BodyKind, Category, MemberStatus, Role, Tier
from broker.domain.members import HandlerRegistration, Member, User
from broker.services.auditor import Auditor
from broker.services.clock import Clock, utc_now
from broker.services.ids import new_id
from broker.settings import Settings
from broker.store import Database
from broker.store.uow import Store, StoreUnreadable

__all__ = [
    "NOT_INITIALISED",
    "UNREADABLE",
    "AlreadyInitialised",
    "DataDirProblem",
    "check_data_dir",
    "check_directory",
    "initialise",
    "is_initialised",
]

NOT_INITIALISED = 3
"""`council-broker`'s exit status when the data directory holds no broker yet."""
UNREADABLE = 4
"""`council-broker`'s exit status when the data directory, its database or key ring
cannot be read."""


class AlreadyInitialised(Exception):
    """`init` refuses to run twice on the same database."""


class DataDirProblem(Exception):
    """The data directory cannot be used as it is: one line saying why and what to do.

    `exit_code` is `NOT_INITIALISED` or `UNREADABLE` (documented in
    `council-broker --help` and the operator's guide).
    """

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _sqlite_file(settings: Settings) -> Path | None:
    """The embedded database's file, or None when COUNCIL_DATABASE_URL names another."""
    return None if settings.database_url else settings.data_dir / "council.db"


async def is_initialised(settings: Settings) -> bool:
    """Whether the database already has its coordinator.

    An embedded database that does not exist yet is not opened: SQLite would
    create an empty file, and a failed connect leaves aiosqlite's worker thread
    to report to an event loop that `asyncio.run` has already closed (the
    "Event loop is closed" thread error the first `serve --init` printed).
    """
    sqlite_file = _sqlite_file(settings)
    if sqlite_file is not None and not sqlite_file.is_file():
        return False
    store = Store(Database(settings.resolved_database_url))
    try:
        if not await store.has_schema():
            return False  # an empty database: the first start creates the schema
        async with store.read() as uow:
            return await uow.members.has_coordinator()
    except StoreUnreadable as exc:
        raise _cannot_read(settings, exc) from None
    finally:
        await store.dispose()


def _unreadable(message: str) -> DataDirProblem:
    return DataDirProblem(message, UNREADABLE)


def _cannot_read(settings: Settings, exc: StoreUnreadable) -> DataDirProblem:
    sqlite_file = _sqlite_file(settings)
    if sqlite_file is not None:
        return _unreadable(
            f"cannot read the database {sqlite_file} ({exc}): restore it from a backup"
        )
    return _unreadable(
        f"cannot read the database ({exc}): check COUNCIL_DATABASE_URL and that the "
        "database server is running"
    )


def check_directory(settings: Settings) -> None:
    """Refuse a data directory that is not a directory or cannot be read and entered."""
    where = settings.data_dir
    if where.exists() and not where.is_dir():
        raise _unreadable(
            f"the data directory {where} is not a directory: give --data-dir (or "
            "COUNCIL_DATA_DIR) the directory `council-broker init` created"
        )
    if where.is_dir() and not os.access(where, os.R_OK | os.W_OK | os.X_OK):
        raise _unreadable(
            f"cannot read the data directory {where}: run council-broker as the user "
            "who owns it, or give that user read and write access"
        )


async def check_data_dir(settings: Settings, *, key_ring: bool = True) -> None:
    """Refuse, with one line that says how to fix it, a data directory the broker cannot
    use: missing or empty (`NOT_INITIALISED`: run `init`), or unreadable, damaged, or
    a database that does not answer (`UNREADABLE`). `key_ring=False` skips the ring."""
    check_directory(settings)
    where = settings.data_dir
    not_initialised = DataDirProblem(
        f"no broker is initialised in {where}: run `council-broker init --data-dir {where}` "
        "(or `council-broker serve --init`) first",
        NOT_INITIALISED,
    )
    sqlite_file = _sqlite_file(settings)
    if sqlite_file is not None:
        if not sqlite_file.exists():
            raise not_initialised
        if not sqlite_file.is_file() or not os.access(sqlite_file, os.R_OK | os.W_OK):
            raise _unreadable(
                f"cannot read the database {sqlite_file}: run council-broker as the user "
                "who owns it, or restore the file from a backup"
            )
    store = Store(Database(settings.resolved_database_url))
    try:
        try:
            if not await store.has_schema():
                raise not_initialised
            async with store.read() as uow:
                if not await uow.members.has_coordinator():
                    raise not_initialised
        except StoreUnreadable as exc:
            raise _cannot_read(settings, exc) from None
    finally:
        await store.dispose()
    if key_ring and settings.key_ring is None:
        _check_key_ring(settings)


def _check_key_ring(settings: Settings) -> None:
    path = settings.key_ring_path
    if not path.exists():
        raise _unreadable(
            f"the key ring {path} is missing: restore it from your backup "
            "(without it no stored content can be opened), or set COUNCIL_KEY_RING"
        )
    try:
        KeyRing.load(path)
    except KeyRingError as exc:
        raise _unreadable(f"{exc}: fix it or restore it from your backup") from None


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
