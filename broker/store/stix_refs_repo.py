"""Which items hold which STIX objects, by keyed digests of the objects' ids.

Written with each item (`broker.store.submissions_repo`); items stored before
the index are indexed once, when the broker starts. Read to find the items an
object id names without opening every item of a collection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from broker.store.tables import items, stix_refs
from broker.store.upsert import insert_ignoring_duplicates, insert_ignoring_duplicates_sync

__all__ = ["StixRefRepository", "add_refs_sync"]


def add_refs_sync(conn: Connection, rows: Iterable[tuple[str, str]]) -> None:
    """Store (ref, item id) pairs in the caller's transaction."""
    insert_ignoring_duplicates_sync(
        conn, stix_refs, [{"ref": ref, "item_id": item_id} for ref, item_id in rows]
    )


class StixRefRepository:
    """The STIX object index, on one unit of work's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def items_holding(self, refs: Sequence[str]) -> list[str]:
        """The ids of the items holding any object `refs` name, oldest first."""
        if not refs:
            return []
        query = (
            select(stix_refs.c.item_id)
            .where(stix_refs.c.ref.in_(sorted(set(refs))))
            .distinct()
            .order_by(stix_refs.c.item_id)
        )
        return list((await self._conn.execute(query)).scalars())

    async def unindexed(self, count: int) -> list[str]:
        """Up to `count` ids of items not indexed yet, oldest first."""
        # `NOT stix_indexed` (`= 0` on SQLite), as `ix_items_stix_unindexed` states it,
        # so the partial index answers and an indexed database costs nothing to check.
        query = select(items.c.id).where(~items.c.stix_indexed).order_by(items.c.id)
        return list((await self._conn.execute(query.limit(count))).scalars())

    async def index(self, item_ids: Sequence[str], rows: Iterable[tuple[str, str]]) -> None:
        """Store the (ref, item id) pairs of `item_ids` and mark them indexed
        (again harmlessly, if another replica did it first)."""
        await insert_ignoring_duplicates(
            self._conn, stix_refs, [{"ref": ref, "item_id": item_id} for ref, item_id in rows]
        )
        await self._conn.execute(
            update(items).where(items.c.id.in_(list(item_ids))).values(stix_indexed=True)
        )

    async def forget(self, item_id: str) -> None:
        """Drop a withdrawn item's entries: nothing of its content is left."""
        await self._conn.execute(delete(stix_refs).where(stix_refs.c.item_id == item_id))
