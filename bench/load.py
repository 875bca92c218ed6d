"""Load generators: closed-loop HTTP submitters and live-stream subscribers.

Both run in the bench process on one event loop, and both are used unchanged
against the broker and against its bare-aiohttp baseline, so whatever this
process costs is paid on both sides of a ratio.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import string
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.harness import percentile

__all__ = [
    "FanoutRun",
    "LoadRun",
    "Payload",
    "Receipts",
    "Subscribers",
    "hammer",
    "measure_fanout",
    "stream_unavailable",
    "submission",
]

Payload = Callable[[int], bytes]

_PLACEHOLDER = "#" * 8


def submission(*, confidence: str = "high", size: int = 4096, seed: int = 7) -> Payload:
    """A countermeasure to ``all_members`` as a JSON body of exactly `size` bytes.

    The argument numbers the title so no two submissions are byte-identical;
    the body text is random letters (incompressible, like ciphertext-bound
    content) and built once.
    """
    item: dict[str, Any] = {
        "kind": "countermeasure",
        "title": f"Do not boot unpatched PCs {_PLACEHOLDER}",
        "body": "",
        "tlp": "GREEN",
        "secret": False,
        "confidence": confidence,
        "scope": {"groups": ["all_members"]},
    }
    empty = len(json.dumps(item).encode())
    if empty > size:
        raise ValueError(f"a submission cannot be smaller than {empty} bytes")
    rng = random.Random(seed)  # noqa: S311 - filler text, not a secret
    item["body"] = "".join(rng.choices(string.ascii_letters + " ", k=size - empty))
    text = json.dumps(item).encode()
    prefix, suffix = text.split(_PLACEHOLDER.encode())
    assert len(text) == size

    def payload(number: int) -> bytes:
        return prefix + b"%08d" % (number % 100_000_000) + suffix

    return payload


@dataclass
class LoadRun:
    """What a closed-loop load run measured in its window."""

    seconds: float
    created: int
    failed: int
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    first_response: dict[str, Any] | None = None
    exceptions: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        """Successful (201) requests per second in the window."""
        return self.created / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        """The figures worth keeping in the JSON file."""
        return {
            "window_s": round(self.seconds, 2),
            "created": self.created,
            "failed": self.failed,
            "rate_per_s": round(self.rate, 1),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "exceptions": dict(self.exceptions),
            "latency_ms_p50": _r(percentile(self.latencies_ms, 50)),
            "latency_ms_p99": _r(percentile(self.latencies_ms, 99)),
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


async def hammer(
    url: str,
    tokens: Sequence[str | None],
    payload: Payload,
    *,
    concurrency: int,
    warmup: float,
    duration: float,
) -> LoadRun:
    """POST `payload(n)` to `url` from `concurrency` closed-loop workers for `warmup + duration` s.

    Worker i authenticates as ``tokens[i % len(tokens)]``. Responses that
    complete inside the measuring window are counted; latencies are kept for
    requests that also started inside it. Workers start nothing new once the
    window has closed, so the run ends within one request of it.
    """
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    run = LoadRun(seconds=duration, created=0, failed=0)
    numbers = itertools.count()
    start = time.perf_counter()
    opens = start + warmup
    closes = opens + duration
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker(index: int) -> None:
            token = tokens[index % len(tokens)]
            headers = {"Content-Type": "application/json"}
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
            while (began := time.perf_counter()) < closes:
                try:
                    async with session.post(url, data=payload(next(numbers)), headers=headers) as r:
                        body = await r.read()
                        status = r.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    run.exceptions[type(exc).__name__] += 1
                    await asyncio.sleep(0.05)  # a refused connection must not spin
                    continue
                ended = time.perf_counter()
                if run.first_response is None and status == 201:
                    with contextlib.suppress(ValueError):
                        run.first_response = json.loads(body)
                if opens <= ended <= closes:
                    run.statuses[status] += 1
                    if status == 201:
                        run.created += 1
                    else:
                        run.failed += 1
                    if began >= opens:
                        run.latencies_ms.append((ended - began) * 1000)

        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return run


class Receipts:
    """Which subscribers received each item, and when the latest of them did.

    Delivery is at-least-once: a subscriber that gets an item twice counts
    once (and the duplicate is tallied), so a duplicate never completes an
    item early.
    """

    def __init__(self, expected: int) -> None:
        """`expected`: how many subscribers must receive an item for it to be complete."""
        self.expected = expected
        self._seen: dict[str, set[int]] = {}
        self._last: dict[str, float] = {}
        self._complete: dict[str, asyncio.Event] = {}
        self.frames = 0
        self.duplicates = 0
        self.other_events: Counter[str] = Counter()

    def record(self, item_id: str, subscriber: int, at: float) -> None:
        """Subscriber number `subscriber` received `item_id` at `at` (perf_counter seconds)."""
        seen = self._seen.get(item_id)
        if seen is None:
            seen = self._seen[item_id] = set()
        if subscriber in seen:
            self.duplicates += 1
            return
        seen.add(subscriber)
        self._last[item_id] = at
        if len(seen) >= self.expected:
            self._event(item_id).set()

    def _event(self, item_id: str) -> asyncio.Event:
        event = self._complete.get(item_id)
        if event is None:
            event = self._complete[item_id] = asyncio.Event()
        return event

    async def wait(self, item_id: str, within: float) -> bool:
        """Wait until every subscriber has `item_id`; False after `within` seconds."""
        try:
            await asyncio.wait_for(self._event(item_id).wait(), within)
        except TimeoutError:
            return False
        return True

    def count(self, item_id: str) -> int:
        """How many subscribers have received `item_id`."""
        return len(self._seen.get(item_id, ()))

    def last(self, item_id: str) -> float | None:
        """When the latest subscriber received `item_id`."""
        return self._last.get(item_id)


async def stream_unavailable(url: str, token: str) -> str | None:
    """Why `GET /v1/stream` does not upgrade to a WebSocket, or None when it does."""
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        try:
            async with session.ws_connect(
                f"{url}/v1/stream", headers={"Authorization": f"Bearer {token}"}
            ):
                return None
        except aiohttp.WSServerHandshakeError as exc:
            return f"GET /v1/stream answered HTTP {exc.status} instead of a WebSocket upgrade"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"GET /v1/stream failed: {type(exc).__name__}: {exc}"


class Subscribers:
    """Many WebSocket subscribers of `GET /v1/stream`, recording `item` events as they arrive.

    The protocol: one JSON text frame per event, ``{"id": cursor, "event":
    kind, "data": {...}}``, with ``data.id`` the item id for ``item`` events.
    Subscribers send nothing.
    """

    def __init__(self, receipts: Receipts) -> None:
        """Subscribers that record into `receipts`."""
        self.receipts = receipts
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.connected = 0
        self.closed_early = 0

    async def connect(
        self, url: str, tokens: Sequence[str | None], *, concurrency: int = 50
    ) -> None:
        """Open one connection per token (None: unauthenticated); returns once all are open."""
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None)
        )
        gate = asyncio.Semaphore(concurrency)
        ready: list[asyncio.Future[None]] = []
        loop = asyncio.get_running_loop()
        for number, token in enumerate(tokens):
            opened: asyncio.Future[None] = loop.create_future()
            ready.append(opened)
            listen = self._listen(url, number, token, gate, opened)
            self._tasks.append(asyncio.create_task(listen))
        await asyncio.wait_for(asyncio.gather(*ready), 120)
        self.connected = len(ready)

    async def _listen(
        self,
        url: str,
        number: int,
        token: str | None,
        gate: asyncio.Semaphore,
        opened: asyncio.Future[None],
    ) -> None:
        assert self._session is not None
        record = self.receipts.record
        clock = time.perf_counter
        loads = json.loads
        text = aiohttp.WSMsgType.TEXT
        try:
            async with gate:
                ws = await self._session.ws_connect(
                    f"{url}/v1/stream",
                    headers={"Authorization": f"Bearer {token}"} if token else None,
                    heartbeat=None,
                    max_msg_size=0,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5),
                )
        except BaseException as exc:
            if not opened.done():
                opened.set_exception(exc)
            raise
        opened.set_result(None)
        async with ws:
            async for message in ws:
                if message.type is not text:
                    continue
                at = clock()
                frame = loads(message.data)
                self.receipts.frames += 1
                data = frame.get("data")
                if frame.get("event") == "item" and isinstance(data, dict) and "id" in data:
                    record(str(data["id"]), number, at)
                else:
                    self.receipts.other_events[str(frame.get("event"))] += 1
        self.closed_early += 1

    async def close(self) -> None:
        """Close every connection."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()


@dataclass
class FanoutRun:
    """Commit-to-receipt latencies of items published one at a time."""

    items: int
    subscribers: int
    after_201_ms: list[float] = field(default_factory=list)
    after_post_ms: list[float] = field(default_factory=list)
    lost: int = 0
    before_201: int = 0
    abandoned: int = 0

    @property
    def p99(self) -> float | None:
        """p99 from the 201 to the last subscriber's receipt, ms."""
        return percentile(self.after_201_ms, 99)

    def summary(self) -> dict[str, Any]:
        """The figures worth keeping in the JSON file."""
        return {
            "items": self.items,
            "subscribers": self.subscribers,
            "lost_items": self.lost,
            "abandoned_items": self.abandoned,
            "complete_before_201": self.before_201,
            "after_201_ms_p50": _r(percentile(self.after_201_ms, 50)),
            "after_201_ms_p99": _r(self.p99),
            "after_201_ms_max": _r(max(self.after_201_ms, default=None)),
            "after_post_ms_p50": _r(percentile(self.after_post_ms, 50)),
            "after_post_ms_p99": _r(percentile(self.after_post_ms, 99)),
        }


async def measure_fanout(
    publish_url: str,
    token: str | None,
    payload: Payload,
    receipts: Receipts,
    *,
    items: int,
    warmup: int,
    patience: float,
) -> FanoutRun:
    """Publish `warmup + items` items one at a time; time each until every subscriber has it.

    The clock starts when the 201 arrives (the commit happened before it) and
    stops at the last subscriber's receipt. An item not complete within
    `patience` seconds counts as lost and enters the percentiles at `patience`;
    after three losses in a row (warm-up included) the run stops (the rest are
    `abandoned`), so a broken stream cannot hold the benchmark for items x
    patience.
    """
    run = FanoutRun(items=items, subscribers=receipts.expected)
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        lost_in_a_row = 0
        for number in range(warmup + items):
            if lost_in_a_row >= 3:
                run.abandoned = warmup + items - number
                break
            posted = time.perf_counter()
            async with session.post(publish_url, data=payload(number), headers=headers) as r:
                body = await r.read()
                status = r.status
            answered = time.perf_counter()
            if status != 201:
                raise RuntimeError(f"publishing answered {status}: {body[:300]!r}")
            item_id = json.loads(body)["id"]
            complete = await receipts.wait(item_id, patience)
            last = receipts.last(item_id)
            lost_in_a_row = 0 if complete else lost_in_a_row + 1
            if number < warmup:
                continue
            if not complete or last is None:
                run.lost += 1
                run.after_201_ms.append(patience * 1000)
                run.after_post_ms.append(patience * 1000)
                continue
            if last < answered:
                run.before_201 += 1
            run.after_201_ms.append(max(0.0, last - answered) * 1000)
            run.after_post_ms.append((last - posted) * 1000)
    return run
