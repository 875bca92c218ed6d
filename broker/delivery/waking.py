"""Waiting for a wake-up with a deadline, in loops that must stop when cancelled."""

from __future__ import annotations

import asyncio

__all__ = ["woken"]


async def woken(wake: asyncio.Event, seconds: float) -> bool:
    """Wait until `wake` is set or `seconds` pass; True if it was set.

    Not `asyncio.wait_for`: on Python 3.11 it returns the result, and drops
    the cancellation, when the event is set in the same loop iteration as the
    task is cancelled (CPython issue 86296, fixed in 3.12). A loop woken by
    every commit then outlives its cancellation, and a shutdown waits on it
    for ever. `asyncio.timeout` tells its own timeout from a cancellation.
    """
    try:
        async with asyncio.timeout(seconds):
            await wake.wait()
    except TimeoutError:
        return False
    return True
