"""The STIX object index, in memory."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class FakeStixRefRepository:
    """(ref, item id) pairs, as `StixRefRepository` keeps them."""

    def __init__(self) -> None:
        self.rows: set[tuple[str, str]] = set()

    async def items_holding(self, refs: Sequence[str]) -> list[str]:
        """The items holding any object `refs` name, oldest first."""
        wanted = set(refs)
        return sorted({item_id for ref, item_id in self.rows if ref in wanted})

    async def index(self, item_ids: Sequence[str], rows: Iterable[tuple[str, str]]) -> None:
        """Store the pairs."""
        self.rows.update(rows)

    async def forget(self, item_id: str) -> None:
        """Drop a withdrawn item's pairs."""
        self.rows = {row for row in self.rows if row[1] != item_id}
