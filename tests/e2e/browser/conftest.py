"""One broker and one headless Chromium for the portal's browser tests (module scope).

Debian's Chromium (`/usr/bin/chromium`, installed by `.ci/run` when missing)
driven by Playwright; a fresh browser context (cookies, storage) per test.
The broker is real: HTTP on a socket, the database, the key ring.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, BrowserContext, async_playwright
from pydantic import SecretStr

from broker.app import create_app
from broker.crypto import KeyRing
from broker.services.bootstrap import initialise
from broker.settings import Settings
from tests.conftest import Broker, ManualClock

CHROMIUM = Path(os.environ.get("COUNCIL_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "browser" / "artifacts"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_broker(
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    postgres_database: str | None,
) -> AsyncIterator[Broker]:
    """A real broker on a real socket, shared by the tests of one module.

    On SQLite only: the portal reaches the database through the same services
    as the API, whose PostgreSQL runs cover them; one browser run keeps CI short.
    """
    if postgres_database is not None:
        pytest.skip("the portal's browser tests run once, in the SQLite run (make test)")
    data = tmp_path_factory.mktemp("portal") / "data"
    data.mkdir()
    shutil.copy(sqlite_template, data / "council.db")
    url = f"sqlite+aiosqlite:///{data / 'council.db'}"
    ring = KeyRing.generate()
    clock = ManualClock()
    settings = Settings(
        data_dir=data,
        database_url=url,
        key_ring=SecretStr(ring.to_env_value()),
        webhook_poll_interval=timedelta(milliseconds=50),
    )
    first = await initialise(settings, clock)
    server = TestServer(create_app(settings, clock=clock, ring=ring), host="127.0.0.1")
    await server.start_server()
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
        for client in handle.clients:
            await client.aclose()
        await server.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium, one per module."""
    if not CHROMIUM.exists():  # noqa: ASYNC240 - once per module, before any browser
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium fonts-ipafont-gothic")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def context(browser: Browser, shared_broker: Broker) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile against the shared broker (English Accept-Language)."""
    created = await browser.new_context(base_url=shared_broker.url, locale="en-US")
    try:
        yield created
    finally:
        await created.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (ignored by git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
