"""MISP feed: the manifest's first byte with 10,000 readable items against 100.

Figure: p99 ms from sending ``GET /misp/feed/manifest.json`` to its first body
byte, for a tier-one reader that may open every stored item, with 10,000 items
stored. Baseline: the same with 100 items stored, in the same run. Target:
≤ 1.5 x the baseline (the manifest streams a page at a time, so its first byte
does not wait for the whole feed). The time for one whole manifest is kept in
the details.

Items are seeded straight into the broker's database (:mod:`bench.seed`), as
for the read scenario; the broker is restarted between seeding and measuring.
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from bench.council import build_council
from bench.harness import Broker, percentile
from bench.report import Result, Target
from bench.scenarios import Context
from bench.seed import SeedPlan, seed_items

__all__ = ["TARGET", "UNIT", "run"]

TARGET = Target("at_most", 1.5)
UNIT = "ms"
SMALL = 100
BIG = 10_000


async def _first_bytes(url: str, token: str, requests: int) -> dict[str, Any]:
    """Time to the manifest's first body byte, per request; and, once, to its last."""
    first: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    target = url + "/misp/feed/manifest.json"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
        began = time.perf_counter()
        async with session.get(target, headers=headers) as response:
            response.raise_for_status()
            body = await response.read()
        whole_ms = (time.perf_counter() - began) * 1000
        for _ in range(requests):
            began = time.perf_counter()
            async with session.get(target, headers=headers) as response:
                response.raise_for_status()
                await response.content.readany()
                first.append((time.perf_counter() - began) * 1000)
                # Hang up: the rest of the feed is not what is measured here.
                response.close()
    return {
        "first_byte_p50_ms": percentile(first, 50),
        "first_byte_p99_ms": percentile(first, 99),
        "whole_ms": round(whole_ms),
        "entries": body.count(b'"info"'),
        "requests": len(first),
    }


async def run(ctx: Context) -> list[Result]:
    """Seed 100, measure, seed up to 10,000, measure."""
    requests = 10 if ctx.quick else 50
    broker = Broker("misp-broker", ctx.workdir / "misp", ctx.log_dir)
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

    measured: dict[int, dict[str, Any]] = {}
    rss: dict[int, int | None] = {}
    stored = 0
    for size in (SMALL, BIG):
        ctx.say(f"misp: seeding {size - stored:,} items")
        await seed_items(plan(size - stored, stored), say=ctx.say)
        stored = size
        ctx.say(f"misp: {requests} manifest requests at {size:,} items")
        await broker.start()
        try:
            measured[size] = await _first_bytes(broker.url, reader.tokens[0], requests)
        finally:
            rss[size] = await broker.stop()
    big, small = measured[BIG], measured[SMALL]
    return [
        Result(
            name="misp.manifest_first_byte",
            unit=UNIT,
            figure=big["first_byte_p99_ms"],
            baseline=small["first_byte_p99_ms"],
            target=TARGET,
            peak_rss=rss[BIG],
            baseline_peak_rss=rss[SMALL],
            note=(
                f"manifest first byte p99 at {BIG:,} vs {SMALL:,} readable items; "
                f"whole manifest {big['whole_ms']:,} ms vs {small['whole_ms']:,} ms"
            ),
            details={"big": {"stored": BIG, **big}, "small": {"stored": SMALL, **small}},
        )
    ]
