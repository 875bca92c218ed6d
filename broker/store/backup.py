"""Backups of the database and restoring one: the file and SQL work only.

A backup is a SQLite file, whatever the database it was taken from, plus a
`council_backup` table holding its manifest (JSON written by
`broker.services.backup`):

- from SQLite, by SQLite's online backup API, page by page, inside one read
  transaction on the source connection: in WAL mode the broker keeps writing
  while the copy proceeds, and the copy is the snapshot at its start (a change
  committed meanwhile is not in it). Should SQLite restart the copy anyway,
  it is taken again in one step;
- from PostgreSQL, row by row inside one `SERIALIZABLE READ ONLY DEFERRABLE`
  transaction (a snapshot that waits for no lock and cannot fail to
  serialise), into a SQLite file built by the migrations, so that its schema
  is the declared one.

Restoring copies the file into a new SQLite data directory with the same
backup API, or, for PostgreSQL, migrates an empty database and copies the
rows in, table by table in foreign-key order, then moves the event sequence
past the restored events.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Table, func, insert, inspect, make_url, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from broker.store.audit_repo import AuditRepository
from broker.store.migrate import upgrade_to_head
from broker.store.sealed_repo import SealedRepository
from broker.store.tables import metadata

__all__ = [
    "MANIFEST_TABLE",
    "BackupFileError",
    "Progress",
    "SnapshotFacts",
    "backup_sqlite",
    "copy_rows",
    "is_empty",
    "read_manifest",
    "restore_postgres",
    "restore_sqlite",
    "snapshot_facts",
    "snapshot_postgres",
    "sqlite_engine",
    "sqlite_file",
    "write_manifest",
]

MANIFEST_TABLE = "council_backup"  # the name the SQL below spells out
# (done, total): pages for SQLite copies, rows for row copies.
Progress = Callable[[int, int], None]
_STEP_PAGES = 256  # 1 MiB of 4 KiB pages per step: a progress bar that moves
_ROWS = 500


class BackupFileError(Exception):
    """The file is not a readable council backup; the message says why."""


class _Restarted(Exception):
    """The copy must start again (the source changed under it); not an error."""


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL, None for any other database."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database))


def sqlite_engine(path: Path) -> AsyncEngine:
    """An engine on a SQLite file (a backup, or a snapshot being written)."""
    return create_async_engine(f"sqlite+aiosqlite:///{path.resolve()}")


def backup_sqlite(source: Path, target: Path, progress: Progress) -> None:
    """Copy the SQLite database `source` into the new file `target`, online."""
    with contextlib.closing(sqlite3.connect(source, isolation_level=None)) as src:
        # The read transaction pins the snapshot: in WAL mode writers go on,
        # and the copy's steps all read the database as it was here.
        src.execute("BEGIN")
        src.execute("SELECT count(*) FROM sqlite_master").fetchone()
        with contextlib.closing(sqlite3.connect(target)) as dst:
            _copy_pages(src, dst, progress)
        src.execute("COMMIT")


def _copy_pages(src: sqlite3.Connection, dst: sqlite3.Connection, progress: Progress) -> None:
    remaining_before: list[int] = []

    def step(_status: int, remaining: int, total: int) -> None:
        if remaining_before and remaining > remaining_before[-1]:
            raise _Restarted  # the source changed under the copy: start over
        remaining_before.append(remaining)
        progress(total - remaining, total)

    try:
        src.backup(dst, pages=_STEP_PAGES, progress=step)
    except _Restarted:
        # One step holds the source's read lock throughout: it cannot restart.
        src.backup(dst, pages=-1)
        total = remaining_before[0] if remaining_before else 1
        progress(total, total)


async def snapshot_postgres(url: str, target: Path, progress: Progress) -> None:
    """Copy every table of the PostgreSQL database at `url`, as of one snapshot,
    into the new SQLite file `target` (its schema built by the migrations)."""
    destination = sqlite_engine(target)
    source = create_async_engine(url)
    try:
        await upgrade_to_head(destination)
        async with source.connect() as plain:
            snapshot = await plain.execution_options(
                isolation_level="SERIALIZABLE", postgresql_readonly=True, postgresql_deferrable=True
            )
            async with snapshot.begin(), destination.begin() as into:
                await copy_rows(snapshot, into, progress)
    finally:
        await source.dispose()
        await destination.dispose()


async def copy_rows(source: AsyncConnection, target: AsyncConnection, progress: Progress) -> None:
    """Copy every declared table's rows from `source` to `target`, parents first."""
    tables = list(metadata.sorted_tables)
    counts = {t.name: await _count(source, t) for t in tables}
    total = sum(counts.values()) or 1
    done = 0
    progress(done, total)
    for table in tables:
        if not counts[table.name]:
            continue
        # By primary key: rows referring to earlier rows of their own table
        # (ULIDs sort by creation) arrive after them.
        query = select(table).order_by(*table.primary_key.columns)
        result = await source.stream(query)
        async for rows in result.partitions(_ROWS):
            await target.execute(insert(table), [dict(row._mapping) for row in rows])
            done += len(rows)
            progress(done, total)
    if target.dialect.name == "postgresql":
        # The event sequence must continue after the restored events.
        await target.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('events', 'seq'), "
                "COALESCE((SELECT max(seq) FROM events), 0) + 1, false)"
            )
        )
    progress(total, total)


async def _count(conn: AsyncConnection, table: Table) -> int:
    return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


@dataclass(frozen=True, slots=True)
class SnapshotFacts:
    """What a backup holds, read from the backup itself (so, of its snapshot)."""

    revision: str | None
    rows: dict[str, int]
    audit_size: int
    audit_head: str
    kek_versions: frozenset[int]
    signing_key_ids: frozenset[str]


async def snapshot_facts(path: Path) -> SnapshotFacts:
    """The schema revision, row counts, audit head and the key versions in use
    of the SQLite database (a fresh backup) at `path`."""
    engine = sqlite_engine(path)
    try:
        async with engine.connect() as conn:
            revision = (
                await conn.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar_one_or_none()
            rows = {t.name: await _count(conn, t) for t in metadata.sorted_tables}
            audit = AuditRepository(conn)
            size, head = await audit.head()
            key_ids = {checkpoint.key_id for checkpoint in await audit.checkpoints()}
            versions = await SealedRepository(conn).kek_versions_in_use()
    finally:
        await engine.dispose()
    return SnapshotFacts(
        revision=revision,
        rows=rows,
        audit_size=size,
        audit_head=head,
        kek_versions=frozenset(versions),
        signing_key_ids=frozenset(key_ids),
    )


def write_manifest(target: Path, manifest: str) -> None:
    """Store the manifest in the backup file."""
    with contextlib.closing(sqlite3.connect(target)) as db:
        # One self-contained file: no write-ahead log beside it.
        db.execute("PRAGMA journal_mode=DELETE")
        with db:
            db.execute("CREATE TABLE council_backup (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.execute("INSERT INTO council_backup VALUES ('manifest', ?)", (manifest,))


def read_manifest(path: Path) -> str:
    """The manifest stored in a backup file, or BackupFileError."""
    if not path.is_file():
        raise BackupFileError(f"{path} does not exist or is not a file")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            query = "SELECT value FROM council_backup WHERE key = 'manifest'"
            row = db.execute(query).fetchone()
    except sqlite3.DatabaseError:
        raise BackupFileError(f"{path} is not a council broker backup") from None
    if row is None:
        raise BackupFileError(f"{path} is not a council broker backup (no manifest)")
    return str(row[0])


def restore_sqlite(backup: Path, target: Path, progress: Progress) -> None:
    """Copy a backup into the new SQLite database file `target` (mode 0600),
    without the manifest."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    with contextlib.closing(sqlite3.connect(f"file:{backup}?mode=ro", uri=True)) as src:
        with contextlib.closing(sqlite3.connect(target)) as dst:
            _copy_pages(src, dst, progress)
            with dst:
                dst.execute("DROP TABLE council_backup")
            dst.execute("PRAGMA journal_mode=WAL")


async def restore_postgres(backup: Path, url: str, progress: Progress) -> None:
    """Migrate the empty PostgreSQL database at `url` and copy a backup's rows in,
    in one transaction (a failed restore leaves the schema and no rows)."""
    source = sqlite_engine(backup)
    target = create_async_engine(url)
    try:
        await upgrade_to_head(target)
        async with source.connect() as reading, target.begin() as writing:
            await copy_rows(reading, writing, progress)
    finally:
        await source.dispose()
        await target.dispose()


async def is_empty(url: str) -> bool:
    """Whether the database at `url` holds no broker data (no schema, or no body)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            present = await conn.run_sync(lambda c: inspect(c).has_table("bodies"))
            if not present:
                return True
            return not (await conn.execute(text("SELECT 1 FROM bodies LIMIT 1"))).first()
    finally:
        await engine.dispose()
