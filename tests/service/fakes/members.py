"""In memory: bodies, users and handlers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from broker.domain import Body


class FakeMemberRepository:
    """In memory: bodies, users and handlers."""

    def __init__(self) -> None:
        # Bodies as the policy sees them; `has_handler` is kept as given.
        self.bodies: dict[str, Body] = {}

    async def bodies_with_handlers(
        self, now: datetime, ids: Sequence[str] | None = None
    ) -> dict[str, Body]:
        """Every body (or those in `ids`)."""
        return {i: b for i, b in self.bodies.items() if ids is None or i in ids}
