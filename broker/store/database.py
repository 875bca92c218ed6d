"""The one place that opens the database.

SQLite (the embedded default) runs in WAL mode with `synchronous=FULL`, so a
commit that returned is on disk; writers are serialised in-process because
SQLite has a single writer anyway and waiting on an asyncio lock is cheaper
than spinning on SQLITE_BUSY. PostgreSQL serialises the audit chain with a
row lock on its head instead (see `broker.store.audit_store`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from broker.store.migrate import upgrade_to_head


class Database:
    """An async engine plus the transaction discipline the services rely on."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if not self.is_sqlite:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
        self._write_lock = asyncio.Lock()

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
                yield connection

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only connection (its transaction is rolled back at the end)."""
        async with self.engine.connect() as connection:
            yield connection

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


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
