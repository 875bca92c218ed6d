"""Every sealed record's wrapped data key, for key rotation (`council-broker keys rotate`).

Items, feedback comments, consultations, consultation messages, violation
reports, resolution texts and webhook secrets each keep a data key wrapped by
the key ring; rotation re-wraps them under a new key version without touching
their ciphertext.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from broker.store.tables import (
    consultation_messages,
    consultations,
    items,
    obligations,
    reports,
    resolutions,
    webhooks,
)

__all__ = ["SealedKey", "SealedRepository", "SealedTable"]


class SealedTable(StrEnum):
    """The tables whose records are sealed with a data key of their own."""

    ITEMS = "items"
    FEEDBACK_COMMENTS = "obligations"
    CONSULTATIONS = "consultations"
    CONSULTATION_MESSAGES = "consultation_messages"
    WEBHOOK_SECRETS = "webhooks"
    REPORTS = "reports"
    RESOLUTIONS = "resolutions"


@dataclass(frozen=True, slots=True)
class SealedKey:
    """One record's wrapped data key, with the facts of the record its wrapping is
    bound to (the inputs of its associated data; those a table lacks stay unset)."""

    id: str
    wrapped_key: bytes
    kek_version: int
    member_id: str | None = None
    item_id: str | None = None
    user_id: str | None = None
    consultation_id: str | None = None
    author_member_id: str | None = None
    from_consulter: bool = False
    scope_version: int = 0


@dataclass(frozen=True, slots=True)
class _Columns:
    table: Table
    wrapped_key: str
    kek_version: str
    bound: tuple[str, ...]

    def on_old_version(self, version: int) -> ColumnElement[bool]:
        # Rows with a key (not erased) wrapped under another version than `version`.
        return (self.table.c[self.wrapped_key].is_not(None)) & (
            self.table.c[self.kek_version] != version
        )


_COLUMNS = {
    SealedTable.ITEMS: _Columns(items, "wrapped_key", "kek_version", ("scope_version",)),
    SealedTable.FEEDBACK_COMMENTS: _Columns(
        obligations, "comment_wrapped_key", "comment_kek_version", ("item_id", "member_id")
    ),
    SealedTable.CONSULTATIONS: _Columns(
        consultations, "wrapped_key", "kek_version", ("member_id", "user_id")
    ),
    SealedTable.CONSULTATION_MESSAGES: _Columns(
        consultation_messages,
        "wrapped_key",
        "kek_version",
        ("consultation_id", "author_member_id", "from_consulter"),
    ),
    SealedTable.WEBHOOK_SECRETS: _Columns(
        webhooks, "secret_wrapped_key", "secret_kek_version", ("member_id",)
    ),
    SealedTable.REPORTS: _Columns(reports, "wrapped_key", "kek_version", ("member_id", "user_id")),
    SealedTable.RESOLUTIONS: _Columns(resolutions, "wrapped_key", "kek_version", ()),
}


def _key(columns: _Columns, row: Any) -> SealedKey:
    m = row._mapping
    return SealedKey(
        id=m["id"],
        wrapped_key=bytes(m[columns.wrapped_key]),
        kek_version=int(m[columns.kek_version]),
        **{name: m[name] for name in columns.bound},
    )


class SealedRepository:
    """The wrapped data keys of every sealed table, on one unit of work's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def kek_versions_in_use(self) -> set[int]:
        """Every key version some record's data key is wrapped under (a backup needs
        exactly these in the key ring it is restored with)."""
        versions: set[int] = set()
        for columns in _COLUMNS.values():
            column = columns.table.c[columns.kek_version]
            query = (
                select(column).where(columns.table.c[columns.wrapped_key].is_not(None)).distinct()
            )
            versions.update(int(v) for v in (await self._conn.execute(query)).scalars())
        return versions

    async def count_on_old_version(self, table: SealedTable, version: int) -> int:
        """How many records of `table` have a key wrapped under another version."""
        columns = _COLUMNS[table]
        query = (
            select(func.count()).select_from(columns.table).where(columns.on_old_version(version))
        )
        return int((await self._conn.execute(query)).scalar_one())

    async def on_old_version(
        self, table: SealedTable, version: int, *, after: str, limit: int
    ) -> list[SealedKey]:
        """The next `limit` records of `table` by id after `after` whose key is wrapped
        under another version than `version`."""
        columns = _COLUMNS[table]
        ident = columns.table.c.id
        query = (
            select(
                ident,
                columns.table.c[columns.wrapped_key],
                columns.table.c[columns.kek_version],
                *(columns.table.c[name] for name in columns.bound),
            )
            .where(ident > after, columns.on_old_version(version))
            .order_by(ident)
            .limit(limit)
        )
        return [_key(columns, row) for row in (await self._conn.execute(query)).all()]

    async def replace_key(
        self, table: SealedTable, key: SealedKey, wrapped_key: bytes, kek_version: int
    ) -> None:
        """Store a re-wrapped data key, only if the record still has the key it had when
        read (not edited or erased meanwhile: a comment edited, an item withdrawn)."""
        columns = _COLUMNS[table]
        await self._conn.execute(
            update(columns.table)
            .where(
                columns.table.c.id == key.id,
                columns.table.c[columns.wrapped_key] == key.wrapped_key,
            )
            .values({columns.wrapped_key: wrapped_key, columns.kek_version: kek_version})
        )
