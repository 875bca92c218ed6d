"""The unit of work: one transaction and the repositories on it.

Services never see a connection. They ask the `Store` (the unit-of-work
factory the composition root builds) for a unit of work and use its
repositories, one per aggregate:

    async with store.write() as uow:      # committed when the block ends,
        await uow.items.get(item_id)      # rolled back if it raises
        await uow.audit.append([draft])

`read()` is a snapshot that writes nothing; `grouped(work)` runs `work` in a
durable transaction shared with other callers (group commit, each caller in
its own savepoint: `broker.store.batching`), which is how denials and alarms
are audited without a write lock of their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from broker.store.audit_repo import AuditRepository
from broker.store.batching import BatchWriter
from broker.store.consultations_repo import ConsultationRepository
from broker.store.database import Database
from broker.store.feed_repo import FeedRepository
from broker.store.items_repo import ItemRepository
from broker.store.members_repo import MemberRepository
from broker.store.obligations_repo import ObligationRepository
from broker.store.reports_repo import ReportRepository
from broker.store.resolutions_repo import ResolutionRepository
from broker.store.sealed_repo import SealedRepository
from broker.store.stix_refs_repo import StixRefRepository
from broker.store.submissions_repo import PreparedSubmission, write_submissions
from broker.store.taxii_repo import TaxiiRepository
from broker.store.webhooks_repo import WebhookRepository

__all__ = ["Store", "StoreUnreadable", "UnitOfWork"]

T = TypeVar("T")
E = TypeVar("E")


class UnitOfWork:
    """The repositories over one transaction (read-only or read-write)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.items = ItemRepository(conn)
        self.members = MemberRepository(conn)
        self.obligations = ObligationRepository(conn)
        self.consultations = ConsultationRepository(conn)
        self.reports = ReportRepository(conn)
        self.webhooks = WebhookRepository(conn)
        self.feed = FeedRepository(conn)
        self.audit = AuditRepository(conn)
        self.sealed = SealedRepository(conn)
        self.resolutions = ResolutionRepository(conn)
        self.taxii = TaxiiRepository(conn)
        self.stix_refs = StixRefRepository(conn)


class StoreUnreadable(Exception):
    """The database does not answer, or answers that it cannot be read."""


class Store:
    """The unit-of-work factory over the one `Database` of a process."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._submissions: BatchWriter[PreparedSubmission] | None = None

    @property
    def is_sqlite(self) -> bool:
        """Whether this is the embedded SQLite database (single writer, one process)."""
        return self.db.is_sqlite

    @asynccontextmanager
    async def read(self) -> AsyncIterator[UnitOfWork]:
        """A read-only unit of work (a snapshot; rolled back at the end)."""
        async with self.db.read() as conn:
            yield UnitOfWork(conn)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[UnitOfWork]:
        """A read-write unit of work: committed when the block ends, rolled back if it raises."""
        async with self.db.write() as conn:
            yield UnitOfWork(conn)

    async def grouped(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run `work` in a shared durable transaction (its own savepoint); its
        result once the group is committed."""

        async def on_connection(conn: AsyncConnection) -> T:
            return await work(UnitOfWork(conn))

        return await self.db.grouped(on_connection)

    async def write_submission(self, prepared: PreparedSubmission) -> Any:
        """Write one submission with others in a shared durable transaction, a
        statement per table (group commit); its stored result once durable."""
        if self._submissions is None:
            self._submissions = self.db.batch_writer(write_submissions)
        return await self._submissions.write(prepared)

    def batch_writer(
        self, write_many: Callable[[Connection, Sequence[E]], list[Any]]
    ) -> BatchWriter[E]:
        """A group-commit writer for entries written together, a statement per table
        (`broker.store.submissions_repo`)."""
        return self.db.batch_writer(write_many)

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every committed write (the feed poller's wake-up)."""
        self.db.on_commit.append(listener)

    async def ping(self) -> bool:
        """Whether the database answers a trivial read (readiness; first start,
        before the database exists)."""
        try:
            async with self.db.read() as conn:
                await conn.execute(text("SELECT 1"))
        except DBAPIError:
            return False
        return True

    async def has_schema(self) -> bool:
        """Whether the database holds the broker's tables (False: an empty database).

        Raises `StoreUnreadable`, with the database's own one-line complaint, when
        it cannot be read at all (unreachable, not a database, no permission).
        """
        try:
            async with self.db.read() as conn:
                names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        except (DBAPIError, OSError) as exc:
            # asyncpg reports a refused connection as a plain OSError.
            orig = exc.orig if isinstance(exc, DBAPIError) else None
            detail = (str(orig) if orig is not None else str(exc)).strip()
            raise StoreUnreadable(detail.splitlines()[0] if detail else "no answer") from None
        return "bodies" in names and "alembic_version" in names

    async def migrate(self) -> None:
        """Create or upgrade the schema to the newest migration."""
        await self.db.migrate()

    async def dispose(self) -> None:
        """Stop the group writers and close every connection."""
        await self.db.dispose()
