"""What a database failure means for a caller: unavailable (503) or full (507).

The edges turn any other exception into a 500; these two are conditions of
the deployment, not bugs, and a client should hear what to do: retry after
a while (the database is restarting, unreachable, or out of connections), or
tell the operator that the disk is full. Nothing the failed request meant to
write is half-stored: its transaction rolled back.
"""

from __future__ import annotations

import errno
import sqlite3
from enum import StrEnum

from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout

__all__ = ["StoreFailure", "classify_failure"]


class StoreFailure(StrEnum):
    """A deployment condition the store met."""

    UNAVAILABLE = "unavailable"
    STORAGE_FULL = "storage_full"


_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
_FULL_TEXT = ("database or disk is full", "disk full", "no space left on device")
# asyncpg's connection-level failures, by name: asyncpg is optional (SQLite-only
# installs), and these are the ones a restart or network cut produces.
_PG_CONNECTION_ERRORS = frozenset(
    {
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "CannotConnectNowError",
        "InterfaceError",
        "InternalClientError",
        "PostgresConnectionError",
        "ClientCannotConnectError",
        "AdminShutdownError",
        "CrashShutdownError",
        "TooManyConnectionsError",
        "ConnectionRejectionError",
        "DiskFullError",
    }
)


def classify_failure(exc: BaseException) -> StoreFailure | None:
    """The condition behind `exc` (following its causes), or None for anything else."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _one(current)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def _one(exc: BaseException) -> StoreFailure | None:
    text = str(exc).lower()
    name = type(exc).__name__
    if name == "DiskFullError" or any(marker in text for marker in _FULL_TEXT):
        return StoreFailure.STORAGE_FULL
    if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
        return StoreFailure.STORAGE_FULL
    if isinstance(exc, sqlite3.OperationalError) and "disk i/o error" in text:
        return StoreFailure.UNAVAILABLE  # the file system refused a write: not ours to fix
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return StoreFailure.UNAVAILABLE
    if isinstance(exc, (DisconnectionError, PoolTimeout, ConnectionError)):
        return StoreFailure.UNAVAILABLE
    if name in _PG_CONNECTION_ERRORS:
        return StoreFailure.UNAVAILABLE
    if isinstance(exc, OSError) and exc.errno in (
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.EPIPE,
    ):
        return StoreFailure.UNAVAILABLE
    if isinstance(exc, TimeoutError) and "connect" in text:
        return StoreFailure.UNAVAILABLE
    return None
