"""`council-broker keys rotate`: a new key version, every data key re-wrapped.

Only wrapped data keys change (a few dozen bytes per item); content
ciphertext is untouched. Items are re-wrapped in small transactions so a
broker serving the same database keeps going; a broker that meets a key
version it has not loaded yet reloads the ring (`Core.ring_with`). The pass
repeats until no item is left on an old version, catching items sealed under
the old version by brokers that had not reloaded yet.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from rich.progress import Progress
from sqlalchemy import func, select, update

from broker.crypto import IntegrityFailure, KeyRing, rewrap
from broker.services.sealing import key_aad
from broker.settings import Settings
from broker.store import Database
from broker.store.items_repo import get_items
from broker.store.tables import items

_BATCH = 200


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
        while True:
            async with db.read() as conn:
                remaining = (
                    await conn.execute(
                        select(func.count())
                        .select_from(items)
                        .where(items.c.wrapped_key.is_not(None), items.c.kek_version != version)
                    )
                ).scalar_one()
            if remaining == 0 or remaining <= len(failed):
                break
            with Progress() as progress:
                task = progress.add_task("re-wrapping data keys", total=remaining)
                await _pass(db, ring, version, failed, partial(progress.advance, task))
    finally:
        await db.dispose()
    if failed:
        print(
            f"error: {len(failed)} item(s) failed their integrity check and were left as "
            f"they were: {', '.join(failed[:10])}"
        )
        return 1
    print("every data key is wrapped with the new key version")
    return 0


async def _pass(db: Database, ring: KeyRing, version: int, failed: list[str], advance: Any) -> None:
    after = ""
    while True:
        async with db.write() as conn:
            ids = list(
                (
                    await conn.execute(
                        select(items.c.id)
                        .where(
                            items.c.id > after,
                            items.c.wrapped_key.is_not(None),
                            items.c.kek_version != version,
                        )
                        .order_by(items.c.id)
                        .limit(_BATCH)
                    )
                ).scalars()
            )
            if not ids:
                return
            for stored in (await get_items(conn, ids)).values():
                row = stored.row
                try:
                    wrapped, new_version = rewrap(
                        ring,
                        row.wrapped_key,
                        int(row.kek_version),
                        old_key_aad=key_aad(stored.facts, int(row.scope_version)),
                    )
                except IntegrityFailure:
                    if stored.id not in failed:
                        failed.append(stored.id)
                    continue
                await conn.execute(
                    update(items)
                    .where(items.c.id == stored.id, items.c.wrapped_key == row.wrapped_key)
                    .values(wrapped_key=wrapped, kek_version=new_version)
                )
            after = ids[-1]
        advance(len(ids))
