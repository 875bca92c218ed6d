"""An in-memory unit of work: the use cases' rules tested without SQLite or HTTP.

`FakeStore` stands where `broker.store.uow.Store` does. Every unit of work
sees the same repositories; a `write()` that raises restores what they held
before it began, as a rolled-back transaction would.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from tests.service.fakes.audit import FakeAuditRepository
from tests.service.fakes.consultations import FakeConsultationRepository
from tests.service.fakes.feed import FakeFeedRepository
from tests.service.fakes.items import FakeItemRepository
from tests.service.fakes.members import FakeMemberRepository
from tests.service.fakes.obligations import FakeObligationRepository
from tests.service.fakes.stix_refs import FakeStixRefRepository
from tests.service.fakes.webhooks import FakeWebhookRepository

T = TypeVar("T")


class FakeUnitOfWork:
    """The fake repositories, one per aggregate, as `UnitOfWork` has them."""

    def __init__(self) -> None:
        self.items = FakeItemRepository()
        self.members = FakeMemberRepository()
        self.obligations = FakeObligationRepository()
        self.consultations = FakeConsultationRepository()
        self.webhooks = FakeWebhookRepository()
        self.feed = FakeFeedRepository()
        self.audit = FakeAuditRepository()
        self.stix_refs = FakeStixRefRepository()


class FakeStore:
    """The unit-of-work factory over in-memory repositories."""

    is_sqlite = True

    def __init__(self) -> None:
        self.uow = FakeUnitOfWork()
        self.commits = 0
        self._listeners: list[Callable[[], None]] = []

    @asynccontextmanager
    async def read(self) -> AsyncIterator[FakeUnitOfWork]:
        """The repositories as they are."""
        yield self.uow

    @asynccontextmanager
    async def write(self) -> AsyncIterator[FakeUnitOfWork]:
        """The repositories; restored as they were if the block raises."""
        before = copy.deepcopy(self.uow.__dict__)
        try:
            yield self.uow
        except BaseException:
            self.uow.__dict__ = before
            raise
        self.commits += 1
        for listener in self._listeners:
            listener()

    async def grouped(self, work: Callable[[FakeUnitOfWork], Awaitable[T]]) -> T:
        """`work` in a write of its own (the fake has no group to share)."""
        async with self.write() as uow:
            return await work(uow)

    async def write_submission(self, prepared: Any) -> Any:
        """A submission written as `Store.write_submission` writes it."""
        async with self.write() as uow:
            return await uow.items.write_submission(prepared)

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every committed write."""
        self._listeners.append(listener)
