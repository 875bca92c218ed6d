"""`council-broker keys rotate`: a new key version, every data key re-wrapped.

Only wrapped data keys change (a few dozen bytes per record); ciphertext is
untouched. Every sealed record is re-wrapped: items, feedback comments,
consultations and their messages, and webhook signing secrets, so that once
the rotation is done nothing depends on an older key version any more.
Records are re-wrapped in small transactions so a broker serving the same
database keeps going; a broker that meets a key version it has not loaded
yet reloads the ring (`Core.ring_for`). The pass repeats until no record is
left on an old version, catching records sealed under the old version by
brokers that had not reloaded yet.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from rich.progress import Progress
from sqlalchemy import ColumnElement, Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from broker.crypto import IntegrityFailure, KeyRing, rewrap
from broker.services.sealing import key_aad
from broker.services.taskforce_sealing import (
    comment_key_aad,
    consultation_key_aad,
    message_key_aad,
)
from broker.services.webhooks import secret_aad
from broker.settings import Settings
from broker.store import Database
from broker.store.items_repo import ItemRepository
from broker.store.tables import consultation_messages, consultations, items, obligations, webhooks

_BATCH = 200

# The associated data each row's data key is wrapped with, by row id.
KeyAads = Callable[[AsyncConnection, Sequence[Any]], Awaitable[dict[str, bytes]]]


@dataclass(frozen=True)
class SealedRecords:
    """One table of sealed records: where its wrapped keys are and what binds them."""

    label: str
    table: Table
    wrapped_key: str
    kek_version: str
    key_aads: KeyAads

    def column(self, name: str) -> ColumnElement[Any]:
        """A column of the table, by name."""
        return self.table.c[name]

    def on_old_version(self, version: int) -> ColumnElement[bool]:
        """Rows with a key (not erased) wrapped under another version than `version`."""
        return (self.column(self.wrapped_key).is_not(None)) & (
            self.column(self.kek_version) != version
        )


async def _item_aads(conn: AsyncConnection, rows: Sequence[Any]) -> dict[str, bytes]:
    # An item's key binds its routing facts (broker.services.sealing).
    stored = await ItemRepository(conn).get_many([row.id for row in rows])
    return {item_id: key_aad(item.facts, item.scope_version) for item_id, item in stored.items()}


def _from_row(aad: Callable[[Any], bytes]) -> KeyAads:
    async def aads(_conn: AsyncConnection, rows: Sequence[Any]) -> dict[str, bytes]:
        return {row.id: aad(row) for row in rows}

    return aads


SEALED: tuple[SealedRecords, ...] = (
    SealedRecords("items", items, "wrapped_key", "kek_version", _item_aads),
    SealedRecords(
        "feedback comments",
        obligations,
        "comment_wrapped_key",
        "comment_kek_version",
        _from_row(comment_key_aad),
    ),
    SealedRecords(
        "consultations",
        consultations,
        "wrapped_key",
        "kek_version",
        _from_row(consultation_key_aad),
    ),
    SealedRecords(
        "consultation messages",
        consultation_messages,
        "wrapped_key",
        "kek_version",
        _from_row(message_key_aad),
    ),
    SealedRecords(
        "webhook secrets",
        webhooks,
        "secret_wrapped_key",
        "secret_kek_version",
        _from_row(lambda row: secret_aad(row.id, row.member_id)),
    ),
)


async def rotate_and_rewrap(settings: Settings) -> int:
    """Rotate the file-backed key ring and move every data key to the new version."""
    if settings.key_ring is not None:
        print("error: a key ring from the environment is rotated in your secret store, not here")
        return 1
    ring = KeyRing.load(settings.key_ring_path)
    version = ring.rotate()
    print(f"key ring rotated: new key version {version}")
    db = Database(settings.resolved_database_url)
    failed: list[str] = []
    try:
        for records in SEALED:
            await _rewrap_all(db, ring, version, records, failed)
    finally:
        await db.dispose()
    if failed:
        print(
            f"error: {len(failed)} record(s) failed their integrity check and were left as "
            f"they were: {', '.join(failed[:10])}"
        )
        return 1
    print("every data key is wrapped with the new key version")
    return 0


async def _rewrap_all(
    db: Database, ring: KeyRing, version: int, records: SealedRecords, failed: list[str]
) -> None:
    while True:
        async with db.read() as conn:
            remaining = (
                await conn.execute(
                    select(func.count())
                    .select_from(records.table)
                    .where(records.on_old_version(version))
                )
            ).scalar_one()
        stuck = sum(1 for entry in failed if entry.startswith(f"{records.label} "))
        if remaining == 0 or remaining <= stuck:
            return
        with Progress() as progress:
            task = progress.add_task(f"re-wrapping {records.label}", total=remaining)
            await _pass(db, ring, version, records, failed, partial(progress.advance, task))


async def _pass(
    db: Database,
    ring: KeyRing,
    version: int,
    records: SealedRecords,
    failed: list[str],
    advance: Callable[[int], None],
) -> None:
    ident = records.column("id")
    wrapped_key = records.column(records.wrapped_key)
    after = ""
    while True:
        async with db.write() as conn:
            rows = (
                await conn.execute(
                    select(records.table)
                    .where(ident > after, records.on_old_version(version))
                    .order_by(ident)
                    .limit(_BATCH)
                )
            ).all()
            if not rows:
                return
            aads = await records.key_aads(conn, rows)
            for row in rows:
                old = getattr(row, records.wrapped_key)
                try:
                    wrapped, new_version = rewrap(
                        ring,
                        bytes(old),
                        int(getattr(row, records.kek_version)),
                        old_key_aad=aads[row.id],
                    )
                except (IntegrityFailure, KeyError):
                    entry = f"{records.label} {row.id}"
                    if entry not in failed:
                        failed.append(entry)
                    continue
                # Only if unchanged meanwhile (a comment edited, an item withdrawn).
                await conn.execute(
                    update(records.table)
                    .where(ident == row.id, wrapped_key == old)
                    .values({records.wrapped_key: wrapped, records.kek_version: new_version})
                )
            after = rows[-1].id
        advance(len(rows))
