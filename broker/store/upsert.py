"""Dialect-aware `INSERT ... ON CONFLICT DO NOTHING`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["ignoring_duplicates", "insert_ignoring_duplicates", "insert_ignoring_duplicates_sync"]


def ignoring_duplicates(dialect_name: str, table: Table) -> Insert:
    """An insert into `table` that silently skips rows whose key already exists."""
    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


async def insert_ignoring_duplicates(
    conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]]
) -> None:
    """Insert `rows`, silently skipping those whose key already exists."""
    if rows:
        await conn.run_sync(insert_ignoring_duplicates_sync, table, rows)


def insert_ignoring_duplicates_sync(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]]
) -> None:
    """`insert_ignoring_duplicates` in a synchronous transaction."""
    if rows:
        conn.execute(ignoring_duplicates(conn.dialect.name, table), list(rows))
