"""Which database failures are the deployment's condition (503/507), not bugs."""

from __future__ import annotations

import errno
import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from broker.store.failures import StoreFailure, classify_failure


def _wrapped(inner: BaseException) -> OperationalError:
    # How SQLAlchemy hands a driver's error to the broker: the driver's as `orig`,
    # and as the cause when raised `from` it.
    outer = OperationalError("INSERT INTO items ...", {}, inner)
    outer.__cause__ = inner
    return outer


class ConnectionDoesNotExistError(Exception):
    """Named like asyncpg's: the connection was closed in the middle of operation."""


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (_wrapped(sqlite3.OperationalError("database or disk is full")), StoreFailure.STORAGE_FULL),
        (OSError(errno.ENOSPC, "No space left on device"), StoreFailure.STORAGE_FULL),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), StoreFailure.STORAGE_FULL),
        (_wrapped(sqlite3.OperationalError("disk I/O error")), StoreFailure.UNAVAILABLE),
        (
            ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed"),
            StoreFailure.UNAVAILABLE,
        ),
        (_wrapped(ConnectionDoesNotExistError("connection closed")), StoreFailure.UNAVAILABLE),
        (_wrapped(ConnectionResetError(errno.ECONNRESET, "reset")), StoreFailure.UNAVAILABLE),
    ],
)
def test_deployment_conditions_are_recognised_through_their_causes(
    failure: BaseException, expected: StoreFailure
) -> None:
    """Full storage and an unreachable database are told apart, however wrapped."""
    assert classify_failure(failure) is expected


@pytest.mark.parametrize(
    "failure",
    [
        ValueError("bad value"),
        _wrapped(sqlite3.OperationalError("no such table: items")),
        KeyError("x"),
        OSError(errno.EACCES, "Permission denied"),
    ],
)
def test_everything_else_stays_a_bug(failure: BaseException) -> None:
    """A failure that is not the deployment's condition stays a 500 (logged)."""
    assert classify_failure(failure) is None


def test_a_cause_cycle_ends() -> None:
    """Causes that loop back (context chains can) do not hang the classification."""
    first, second = ValueError("a"), ValueError("b")
    first.__context__, second.__context__ = second, first
    assert classify_failure(first) is None
