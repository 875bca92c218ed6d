"""Cluster-wide singletons: background work that must run once across replicas.

On PostgreSQL a replica runs the feedback sweeper and the webhook dispatcher
only while it holds a session advisory lock on a dedicated connection; if that
replica dies, its connection closes, the lock is released and another replica
takes over within one retry interval. On SQLite there is one process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from broker.delivery.waking import woken
from broker.store import Database

__all__ = ["close_quickly", "run_as_leader"]

log = structlog.get_logger("broker.delivery")

_LEADER_KEY = 7261003
_RETRY_SECONDS = 5.0
_WATCH_SECONDS = 1.0
_CLOSE_SECONDS = 2.0


async def run_as_leader(db: Database, work: Callable[[], Awaitable[None]]) -> None:
    """Run `work` (a loop) only while this replica holds the leader lock."""
    if db.is_sqlite:
        await work()
        return
    import asyncpg  # type: ignore[import-untyped]

    dsn = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    while True:
        connection: Any = None
        try:
            connection = await asyncpg.connect(dsn)
            await _acquire(connection)
            log.info("background_leader_acquired")
            await _lead_while_held(connection, work)
            log.warning("background_leader_lost", reason="the lock's session ended")
            await asyncio.sleep(_RETRY_SECONDS)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background_leader_lost")
            await asyncio.sleep(_RETRY_SECONDS)
        finally:
            if connection is not None:
                await close_quickly(connection)


async def _lead_while_held(connection: Any, work: Callable[[], Awaitable[None]]) -> None:
    """Run `work` until it ends or the session holding the lock does.

    If the session is gone (a failover, a terminated backend, a dropped
    connection), the lock is released and another replica may already lead:
    this one must stop at once, or both would send every webhook.
    """
    lost = asyncio.Event()
    connection.add_termination_listener(lambda _connection: lost.set())
    worker = asyncio.ensure_future(work())
    watcher = asyncio.create_task(_watch(connection, lost))
    try:
        await asyncio.wait({worker, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if worker.done():
            worker.result()  # raise what the work raised
    finally:
        for task in (worker, watcher):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _watch(connection: Any, lost: asyncio.Event) -> None:
    # A cheap round trip on the lock's own session notices a silent drop too.
    # Deadlines by `asyncio.timeout`, never `wait_for` (see `woken`): a lost
    # cancellation would keep a replica watching after it stopped leading.
    while not await woken(lost, _WATCH_SECONDS):
        try:
            async with asyncio.timeout(_WATCH_SECONDS):
                await connection.fetchval("SELECT 1")
        except Exception:
            return


async def _acquire(connection: Any) -> None:
    # Another process holds the lock: nothing local to wait on but time.
    while True:
        if await connection.fetchval("SELECT pg_try_advisory_lock($1)", _LEADER_KEY):
            return
        await asyncio.sleep(_RETRY_SECONDS)


async def close_quickly(connection: Any) -> None:
    """Close a dedicated asyncpg connection without ever hanging a shutdown.

    A graceful close waits for the server; if the connection was cancelled in
    the middle of a query that can take forever, so fall back to dropping the
    socket (the server then releases the session's locks and listeners).
    """
    try:
        async with asyncio.timeout(_CLOSE_SECONDS):
            await connection.close()
    except Exception:
        connection.terminate()
