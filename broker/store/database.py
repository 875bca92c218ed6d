"""The one place that opens the database.

Group commit (`broker.store.batching`): `grouped(work)` runs a unit of work
in a transaction shared with other callers, each in its own savepoint;
`batch_writer(write_many)` writes entries of one kind together, a statement
per table, through `write_together`.

`write_together(fn)` runs a synchronous unit of work in one write
transaction. On a SQLite file it runs whole in a dedicated writer thread on
its own connection: one hop for the group instead of one per statement. Each
hop through aiosqlite waits its turn behind every request the event loop has
ready, so a group of a dozen statements spent more time queued than writing
(measured: ~82 µs per hop when idle, milliseconds under load).

SQLite (the embedded default) runs in WAL mode with `synchronous=FULL`, so a
commit that returned is on disk; writers are serialised in-process because
SQLite has a single writer anyway and waiting on an asyncio lock is cheaper
than spinning on SQLITE_BUSY. PostgreSQL serialises the audit chain with a
row lock on its head instead (see `broker.store.audit_repo`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from broker.store.batching import BatchWriter, run_each_in_savepoint
from broker.store.migrate import upgrade_to_head

__all__ = ["FEED_CHANNEL", "Database", "Work", "WriteMany"]

T = TypeVar("T")
E = TypeVar("E")
FEED_CHANNEL = "council_feed"
_WRITE_KEY = {"key": 7261002}
Work = Callable[[AsyncConnection], Awaitable[Any]]
# Writes a group in the caller's (synchronous) transaction: one outcome per entry.
WriteMany = Callable[[Connection, Sequence[E]], list[Any]]


class Database:
    """An async engine plus the transaction discipline the services rely on."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        self._sync_engine: Engine | None = None
        self._writer_thread: ThreadPoolExecutor | None = None
        if not self.is_sqlite:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        elif make_url(url).database not in (None, "", ":memory:"):
            _make_private(Path(str(make_url(url).database)))
            # A file database: enough pooled connections that a burst of reads
            # (64 concurrent submitters) does not open a connection (a thread,
            # the file, the pragmas) and close it again each time: that churn
            # was ~3 % of the event loop under ingest.
            kwargs.update(pool_size=16, max_overflow=16)
            # The group writer's own connection, used only from its own thread.
            self._sync_engine = create_engine(
                make_url(url).set(drivername="sqlite"),
                echo=echo,
                pool_size=1,
                max_overflow=0,
                connect_args={"check_same_thread": False},
            )
            self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="group-commit")
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            for engine in (self.engine.sync_engine, self._sync_engine):
                if engine is not None:
                    event.listen(engine, "connect", _sqlite_pragmas)
                    event.listen(engine, "begin", _sqlite_begin)
        self._write_lock = asyncio.Lock()
        # Called after every committed write (the feed poller's wake-up).
        self.on_commit: list[Callable[[], None]] = []
        self._work_writer: BatchWriter[Work] = BatchWriter(self._write_works)
        self._writers: list[BatchWriter[Any]] = [self._work_writer]

    async def migrate(self) -> None:
        """Create or upgrade the schema to the newest migration."""
        await upgrade_to_head(self.engine)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A read-write transaction: committed on success, rolled back on error."""
        if self.is_sqlite:
            async with self._write_lock, self.engine.connect() as plain:
                connection = await plain.execution_options(council_write=True)
                async with connection.begin():
                    yield connection
        else:
            async with self.engine.begin() as connection:
                # One writer at a time across replicas: rows numbered inside
                # (audit seq, event seq) then commit in the order they were
                # numbered, so a stream cursor never skips a late commit.
                await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), _WRITE_KEY)
                yield connection
                # Delivered on commit: wakes the feed pollers of every replica.
                await connection.execute(text(f"NOTIFY {FEED_CHANNEL}"))
        for listener in self.on_commit:
            listener()

    async def write_together(self, work: Callable[[Connection], T]) -> T:
        """Run the synchronous `work` in one write transaction; its result once committed."""
        if self._sync_engine is None or self._writer_thread is None:
            async with self.write() as connection:
                return await connection.run_sync(work)
        loop = asyncio.get_running_loop()
        async with self._write_lock:  # the in-process writers' turn, as in `write`
            result = await loop.run_in_executor(self._writer_thread, self._write_sync, work)
        for listener in self.on_commit:
            listener()
        return result

    def _write_sync(self, work: Callable[[Connection], T]) -> T:
        assert self._sync_engine is not None
        with self._sync_engine.connect() as plain:
            connection = plain.execution_options(council_write=True)
            with connection.begin():
                return work(connection)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only connection (its transaction is rolled back at the end)."""
        async with self.engine.connect() as connection:
            yield connection

    async def grouped(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run `work` in a shared, durable transaction (its own savepoint); return
        its result once the group is committed."""
        result: T = await self._work_writer.write(work)
        return result

    def batch_writer(self, write_many: WriteMany[E]) -> BatchWriter[E]:
        """A group-commit writer for entries that are written together, a statement
        per table (see `broker.store.submissions_repo`)."""

        async def write_group(group: list[E]) -> list[Any]:
            return await self.write_together(lambda connection: write_many(connection, group))

        writer = BatchWriter(write_group)
        self._writers.append(writer)
        return writer

    async def _write_works(self, works: list[Work]) -> list[Any]:
        async with self.write() as connection:
            return await run_each_in_savepoint(connection, works)

    async def dispose(self) -> None:
        """Stop the group writers and close every connection."""
        for writer in self._writers:
            await writer.close()
        await self.engine.dispose()
        if self._writer_thread is not None:
            self._writer_thread.shutdown(wait=True)
        if self._sync_engine is not None:
            self._sync_engine.dispose()


def _make_private(database: Path) -> None:
    """The SQLite database and its WAL and SHM files readable by the broker's user only.

    They hold the audit log, the members' token hashes and sealed contents:
    0600 like the key ring. The database file is created 0600 before SQLite
    opens it, and SQLite gives the -wal and -shm files it creates the
    database file's mode; files left by an older broker are tightened here.
    """
    if not database.parent.is_dir():
        return  # SQLite reports the missing directory itself
    with contextlib.suppress(FileExistsError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for path in (
        database,
        database.with_name(database.name + "-wal"),
        database.with_name(database.name + "-shm"),
    ):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path, 0o600)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling would defeat BEGIN IMMEDIATE below.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # durable: a 201 means on disk
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Writers take the write lock at BEGIN so a read-then-write never fails
    # half-way; readers get a plain (snapshot) transaction.
    write = connection.get_execution_options().get("council_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
