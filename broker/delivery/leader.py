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

from broker.store import Database

log = structlog.get_logger("broker.delivery")

_LEADER_KEY = 7261003
_RETRY_SECONDS = 5.0


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
            await work()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background_leader_lost")
            await asyncio.sleep(_RETRY_SECONDS)
        finally:
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.close()


async def _acquire(connection: Any) -> None:
    # Another process holds the lock: nothing local to wait on but time.
    while True:
        if await connection.fetchval("SELECT pg_try_advisory_lock($1)", _LEADER_KEY):
            return
        await asyncio.sleep(_RETRY_SECONDS)
