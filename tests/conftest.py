"""Shared fixtures: a real broker over real HTTP on a real database.

Property tests run under a hypothesis profile chosen by `HYPOTHESIS_PROFILE`:
`dev` (the default, about 200 examples a test: `make test` stays quick) or
`ci` (10,000 examples a test: `.ci/run` sets it, so every CI run checks the
policy against its reference models on at least 10,000 generated cases).
Tests whose single example is costly (whole audit chains) keep their own
smaller count.

`COUNCIL_TEST_POSTGRES_URL` (an asyncpg URL) runs the database-backed tests
against PostgreSQL instead of the embedded SQLite; in CI (`CI=true`) an
unreachable server is a failure, on a laptop the PostgreSQL run is skipped
with a message saying so.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from sqlalchemy import text

from broker.app import create_app, server_options
from broker.crypto import KeyRing
from broker.logging import configure_logging
from broker.services.bootstrap import initialise
from broker.settings import Settings
from broker.store import Database
from broker.store.tables import metadata
from clients.sdk import CouncilClient

POSTGRES_URL = os.environ.get("COUNCIL_TEST_POSTGRES_URL")

# No per-example deadline: a busy machine (CI beside other work) makes one example
# slow without making it wrong; pytest-timeout still catches a hang.
hypothesis.settings.register_profile("dev", max_examples=200, deadline=None)
hypothesis.settings.register_profile("ci", max_examples=10_000, deadline=None)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests under integration/ and e2e/ need a database: mark them `db`."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "integration" in parts or "e2e" in parts:
            item.add_marker(pytest.mark.db)


@pytest.fixture(autouse=True)
def quiet_logs() -> None:
    """The broker's own JSON logging, at WARNING, on stderr (tests read stdout).

    Set for every test: a test that runs a CLI's `main` under capture leaves
    logging on its captured stream, which pytest closes after that test.
    """
    configure_logging("warning", sys.stderr)


class ManualClock:
    """A clock the test moves by hand (no sleeping in tests)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move time forward by a timedelta's keyword arguments."""
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """A fresh, migrated PostgreSQL database for the session, or None for SQLite."""
    if not POSTGRES_URL:
        yield None
        return
    import asyncpg  # type: ignore[import-untyped]

    name = f"council_test_{os.getpid()}"
    admin_dsn = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")

    async def create() -> None:
        try:
            conn = await asyncpg.connect(admin_dsn)
        except OSError as exc:
            if os.environ.get("CI"):
                raise RuntimeError(f"PostgreSQL is unreachable in CI: {exc}") from exc
            pytest.skip(f"PostgreSQL at {admin_dsn} is unreachable: {exc}")
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(admin_dsn)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    asyncio.run(create())
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"

    async def migrate() -> None:
        db = Database(url)
        await db.migrate()
        await db.dispose()

    asyncio.run(migrate())
    yield url
    asyncio.run(drop())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is faster)."""
    path = tmp_path_factory.mktemp("template") / "council.db"

    async def migrate() -> None:
        db = Database(f"sqlite+aiosqlite:///{path}")
        await db.migrate()
        await db.dispose()

    asyncio.run(migrate())
    return path


@pytest.fixture
async def database_url(tmp_path: Path, sqlite_template: Path, postgres_database: str | None) -> str:
    """An empty, migrated database for one test."""
    if postgres_database is None:
        target = tmp_path / "data" / "council.db"
        target.parent.mkdir()
        shutil.copy(sqlite_template, target)
        return f"sqlite+aiosqlite:///{target}"
    db = Database(postgres_database)
    async with db.write() as conn:
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        await conn.execute(text(f"TRUNCATE {names} CASCADE"))
    await db.dispose()
    return postgres_database


@dataclass
class Broker:
    """A running broker and what a test needs to drive it."""

    url: str
    settings: Settings
    ring: KeyRing
    clock: ManualClock
    admin_token: str
    coordinator_id: str
    admin_user_id: str
    clients: list[CouncilClient] = field(default_factory=list)

    def client(self, token: str | None) -> CouncilClient:
        """An SDK client for `token`, closed at the end of the test."""
        client = CouncilClient(self.url, token)
        self.clients.append(client)
        return client

    @property
    def admin(self) -> CouncilClient:
        """The coordinator's first administrator (a registered handler)."""
        return self.client(self.admin_token)

    def database(self) -> Database:
        """A second connection to the broker's database, for inspection and tampering."""
        return Database(self.settings.resolved_database_url)


@pytest.fixture
def clock() -> ManualClock:
    """The broker's clock."""
    return ManualClock()


@pytest.fixture
def broker_settings() -> dict[str, Any]:
    """Settings a test module gives its brokers (override the fixture to set limits)."""
    return {}


@pytest.fixture
async def broker(
    tmp_path: Path, database_url: str, clock: ManualClock, broker_settings: dict[str, Any]
) -> AsyncIterator[Broker]:
    """A real broker on a real socket, initialised, with its first admin."""
    ring = KeyRing.generate()
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        key_ring=SecretStr(ring.to_env_value()),
        # Retries fall due on the manual clock; notice them promptly in real time.
        webhook_poll_interval=timedelta(milliseconds=20),
        # Test receivers listen on this machine only: allow exactly that.
        webhook_allow_hosts=["127.0.0.1", "::1"],
        **broker_settings,
    )
    first = await initialise(settings, clock)
    server = TestServer(create_app(settings, clock=clock, ring=ring), host="127.0.0.1")
    # The HTTP server's own limits, as `council-broker serve` sets them.
    await server.start_server(**server_options(settings))
    handle = Broker(
        url=str(server.make_url("")).rstrip("/"),
        settings=settings,
        ring=ring,
        clock=clock,
        admin_token=first["token"],
        coordinator_id=first["member_id"],
        admin_user_id=first["user_id"],
    )
    try:
        yield handle
    finally:
        try:
            async with asyncio.timeout(60):
                for client in handle.clients:
                    await client.aclose()
                await server.close()
        except TimeoutError:
            # Name what is stuck instead of hanging the run.
            for task in asyncio.all_tasks():
                task.print_stack(file=sys.stderr)
            raise
