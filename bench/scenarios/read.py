"""Read: an inbox page of 50 and an item open, with 10k and with 1M items stored.

Figures: p99 ms of ``GET /v1/inbox?limit=50`` (the newest page) and of
``GET /v1/items/{id}`` (ids drawn at random from everything stored) for a
tier-one reader, with ``--big`` items stored (default 1,000,000). Baseline:
the same requests with 10,000 items stored, in the same run. Target: big ≤
1.5 x 10k.

The items are seeded straight into the broker's database (see
:mod:`bench.seed`), all in one audience that includes the reader; the big
tier adds older history below the 10k, so both tiers show the same newest
page. The broker is restarted between seeding and measuring. Reads are
durably audited, as always.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.council import build_council
from bench.harness import Broker, percentile
from bench.report import Result, Target
from bench.scenarios import Context
from bench.seed import SeedPlan, SeedStats, seed_items

__all__ = ["TARGET", "UNIT", "run"]

TARGET = Target("at_most", 1.5)
UNIT = "ms"
SMALL = 10_000
CONCURRENCY = 4


@dataclass
class ReadRun:
    """Latencies of one endpoint at one size."""

    latencies_ms: list[float]
    failures: int
    page_size: int | None = None

    @property
    def p99(self) -> float | None:
        """The p99 latency, ms."""
        return percentile(self.latencies_ms, 99)

    def summary(self) -> dict[str, Any]:
        """The figures worth keeping in the JSON file."""

        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 2)

        return {
            "requests": len(self.latencies_ms),
            "failures": self.failures,
            "p50_ms": r(percentile(self.latencies_ms, 50)),
            "p99_ms": r(self.p99),
            "max_ms": r(max(self.latencies_ms, default=None)),
            "items_on_page": self.page_size,
        }


async def _timed_gets(
    url: str, token: str, paths: list[str], *, concurrency: int, warmup: int
) -> ReadRun:
    """GET each path (the first `warmup` unmeasured) from `concurrency` workers."""
    run = ReadRun([], 0)
    headers = {"Authorization": f"Bearer {token}"}
    queue = list(enumerate(paths))
    queue.reverse()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    ) as session:

        async def worker() -> None:
            while queue:
                number, path = queue.pop()
                began = time.perf_counter()
                async with session.get(url + path, headers=headers) as response:
                    body = await response.json()
                    status = response.status
                elapsed = (time.perf_counter() - began) * 1000
                if status != 200:
                    run.failures += 1
                    continue
                if run.page_size is None and isinstance(body.get("items"), list):
                    run.page_size = len(body["items"])
                if number >= warmup:
                    run.latencies_ms.append(elapsed)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return run


async def _measure(
    broker: Broker, token: str, ids: list[str], requests: int, rng: random.Random
) -> tuple[ReadRun, ReadRun, int | None]:
    warmup = max(20, requests // 10)
    await broker.start()
    try:
        inbox = await _timed_gets(
            broker.url,
            token,
            ["/v1/inbox?limit=50"] * (requests + warmup),
            concurrency=CONCURRENCY,
            warmup=warmup,
        )
        opens = await _timed_gets(
            broker.url,
            token,
            [f"/v1/items/{rng.choice(ids)}" for _ in range(requests + warmup)],
            concurrency=CONCURRENCY,
            warmup=warmup,
        )
    finally:
        rss = await broker.stop()
    return inbox, opens, rss


async def run(ctx: Context) -> list[Result]:
    """Seed the small tier, measure, seed up to the big tier, measure."""
    small, big = (2_000, 20_000) if ctx.quick else (SMALL, ctx.options.big)
    small = min(small, big)
    requests = 200 if ctx.quick else 1500
    rng = random.Random(42)  # noqa: S311 - which items to open
    broker = Broker(
        "read-broker",
        ctx.workdir / "read",
        ctx.log_dir,
        # One reader's token drives the whole load: the per-token rate limit
        # would measure itself, not the read path.
        settings={"COUNCIL_TOKEN_REQUESTS_PER_SECOND": "0"},
    )
    await broker.init()
    await broker.start()
    try:
        council = await build_council(broker.url, broker.admin_token, members=20)
    finally:
        await broker.stop()
    provider, reader = council.of_tier("tier_one")[:2]
    newest = time.time() - 60

    def plan(count: int, offset: int) -> SeedPlan:
        return SeedPlan(
            data_dir=broker.data_dir,
            database_url=broker.sqlite_url,
            provider_id=provider.id,
            submitter_user_id=provider.user_ids[0],
            count=count,
            offset=offset,
            newest=newest,
        )

    ctx.say(f"read: seeding {small:,} items")
    first = await seed_items(plan(small, 0), say=ctx.say)
    ctx.say(f"read: measuring at {small:,} items ({requests} requests per endpoint)")
    small_inbox, small_open, small_rss = await _measure(
        broker, reader.tokens[0], first.sample_ids, requests, rng
    )
    ctx.say(f"read: seeding {big - small:,} more items (older history)")
    more = await seed_items(plan(big - small, small), say=ctx.say)
    ids = first.sample_ids + more.sample_ids
    ctx.say(f"read: measuring at {big:,} items")
    big_inbox, big_open, big_rss = await _measure(broker, reader.tokens[0], ids, requests, rng)
    seeding = {
        "small": _seeded(first),
        "big": _seeded(more),
        "database_bytes": _size(broker),
    }
    return [
        _result("read.inbox", big_inbox, small_inbox, big, small, big_rss, small_rss, seeding),
        _result("read.item", big_open, small_open, big, small, big_rss, small_rss, seeding),
    ]


def _seeded(stats: SeedStats) -> dict[str, Any]:
    return {
        "items": stats.count,
        "seconds": round(stats.seconds, 1),
        "items_per_s": round(stats.rate),
        "recipients": stats.recipients,
    }


def _size(broker: Broker) -> int:
    return sum(p.stat().st_size for p in broker.data_dir.glob("council.db*"))


def _result(
    name: str,
    big_run: ReadRun,
    small_run: ReadRun,
    big: int,
    small: int,
    big_rss: int | None,
    small_rss: int | None,
    seeding: dict[str, Any],
) -> Result:
    what = "inbox page of 50" if name.endswith("inbox") else "item open"
    note = f"{what}: p99 at {big:,} vs {small:,} stored; {CONCURRENCY} concurrent readers"
    failures = big_run.failures + small_run.failures
    if failures:
        note += f"; {failures} non-200"
    if name.endswith("inbox") and big_run.page_size != 50:
        note += f"; page held {big_run.page_size} items"
    return Result(
        name=name,
        unit="ms",
        figure=big_run.p99,
        baseline=small_run.p99,
        target=TARGET,
        peak_rss=big_rss,
        baseline_peak_rss=small_rss,
        note=note,
        details={
            "big": {"stored": big, **big_run.summary()},
            "small": {"stored": small, **small_run.summary()},
            "seeding": seeding,
        },
    )
