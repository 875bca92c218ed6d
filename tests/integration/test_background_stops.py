"""The background loops woken by every commit stop when they are cancelled, even
when a commit wakes them in the same instant (as happens at every shutdown of a
broker that is still being written to). Python 3.11's `asyncio.wait_for` lost
exactly that cancellation, and a shutdown then waited for ever."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from broker.delivery.hub import Hub
from broker.delivery.poller import FeedPoller
from broker.delivery.waking import woken
from broker.delivery.webhooks import WebhookDispatcher
from broker.services.keyring import Keys
from broker.store import Database
from broker.store.uow import Store

ROUNDS = 25


async def _stops_when_cancelled_as_woken(
    run: Callable[[], Awaitable[None]], wake: Callable[[], None]
) -> None:
    for round_ in range(ROUNDS):
        task = asyncio.ensure_future(run())
        await asyncio.sleep(0.005)  # the loop is waiting for a wake-up (or a round)
        wake()
        task.cancel()  # in the same iteration as the wake-up
        done, _ = await asyncio.wait({task}, timeout=5)
        if not done:
            task.cancel()  # don't leave it behind for the next test
            pytest.fail(f"round {round_}: the loop outlived its cancellation")
        assert task.cancelled()


async def test_the_feed_poller_stops_when_cancelled_as_a_commit_wakes_it(
    database_url: str,
) -> None:
    store = Store(Database(database_url))
    try:
        poller = FeedPoller(store, Hub())
        await poller.start_position()
        await _stops_when_cancelled_as_woken(poller.run, poller.wake)
    finally:
        await store.dispose()


async def test_the_webhook_dispatcher_stops_when_cancelled_as_a_commit_wakes_it(
    database_url: str,
) -> None:
    store = Store(Database(database_url))
    try:
        dispatcher = WebhookDispatcher(
            store=store,
            keys=cast(Keys, None),  # no webhook is registered: nothing is opened
            clock=lambda: datetime(2026, 12, 1, tzinfo=UTC),
            poll_interval=timedelta(milliseconds=20),
        )
        await _stops_when_cancelled_as_woken(dispatcher.run, dispatcher.wake)
    finally:
        await store.dispose()


async def test_woken_says_whether_the_event_came_before_the_deadline() -> None:
    wake = asyncio.Event()
    assert await woken(wake, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, wake.set)
    assert await woken(wake, 5) is True
