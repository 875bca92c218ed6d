"""Denial: is a forbidden item id told apart from an absent one by its latency?

docs/api.md answers 404 for both, and SPEC §3 rule 10 wants a denial to reveal
nothing, so the time to deny must not say whether the id exists either.

Figure: the median latency (ms) of ``GET /v1/items/{id}`` for ids that exist
but the reader may not open (half of them derived items, which have sources
to look up). Baseline: the median for ids that were never stored, measured in
the same run, interleaved pair by pair in random order on one connection.
Target: forbidden ≤ 1.05 x absent. The details also count the pairs in which
the forbidden id was the slower one (about half, for indistinguishable paths).

Every denial is durably audited, as always, on both sides.
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

import aiohttp

from bench.council import build_council
from bench.harness import Broker, percentile
from bench.report import Result, Target
from bench.scenarios import Context

__all__ = ["TARGET", "UNIT", "run"]

TARGET = Target("at_most", 1.05)
UNIT = "ms"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _absent_id(rng: random.Random) -> str:
    """A ULID-shaped id that was never stored (same length and alphabet as real ones)."""
    return "01" + "".join(rng.choice(_CROCKFORD) for _ in range(24))


async def _submit(
    session: aiohttp.ClientSession, url: str, token: str, body: dict[str, Any]
) -> str:
    async with session.post(
        f"{url}/v1/items", json=body, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        answer = await response.json()
        if response.status != 201:
            raise RuntimeError(f"seeding an item failed: {response.status} {answer}")
        return str(answer["id"])


def _analysis(title: str, derived_from: list[str]) -> dict[str, Any]:
    # Raw analysis stays in the tier-one group: a tier-two reader may not open it.
    return {
        "kind": "analysis",
        "title": title,
        "body": "x" * 2048,
        "tlp": "AMBER",
        "secret": False,
        "scope": {"groups": ["tier_one_group"]},
        "derived_from": derived_from,
    }


async def run(ctx: Context) -> list[Result]:
    """Seed items a tier-two reader may not open, then time denials pair by pair."""
    pairs = 300 if ctx.quick else 1500
    warmup = 30
    stored = 20 if ctx.quick else 100
    rng = random.Random(17)  # noqa: S311 - which ids, in which order
    broker = Broker(
        "denial-broker",
        ctx.workdir / "denial",
        ctx.log_dir,
        # One reader's token drives the whole load: the per-token rate limit
        # would measure itself, not the read path.
        settings={"COUNCIL_TOKEN_REQUESTS_PER_SECOND": "0"},
    )
    await broker.init()
    await broker.start()
    try:
        council = await build_council(broker.url, broker.admin_token, members=20)
        provider = council.of_tier("tier_one")[0]
        reader = council.of_tier("tier_two")[0]
        ctx.say(f"denial: seeding {stored} items the reader may not open")
        forbidden: list[str] = []
        async with aiohttp.ClientSession() as session:
            for n in range(stored):
                sources = forbidden[-1:] if n % 2 else []  # every other one is derived
                forbidden.append(
                    await _submit(
                        session, broker.url, provider.tokens[0], _analysis(f"item {n}", sources)
                    )
                )
            ctx.say(f"denial: {pairs} forbidden/absent pairs, interleaved, one connection")
            seen, unseen, slower = await _pairs(
                session, broker.url, reader.tokens[0], forbidden, pairs, warmup, rng
            )
        rss = broker.sample_rss()
    finally:
        await broker.stop()
    figure = statistics.median(seen) if seen else None
    baseline = statistics.median(unseen) if unseen else None
    counted = min(len(seen), len(unseen))
    note = (
        f"median GET of a forbidden vs an absent id; forbidden slower in {slower} of "
        f"{counted} pairs"
    )
    return [
        Result(
            name="denial",
            unit=UNIT,
            figure=figure,
            baseline=baseline,
            target=TARGET,
            peak_rss=rss,
            baseline_peak_rss=rss,
            note=note,
            details={
                "pairs": counted,
                "forbidden_slower_pairs": slower,
                "forbidden": _summary(seen),
                "absent": _summary(unseen),
                "median_difference_ms": (
                    None if figure is None or baseline is None else round(figure - baseline, 3)
                ),
            },
        )
    ]


async def _pairs(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    forbidden: list[str],
    pairs: int,
    warmup: int,
    rng: random.Random,
) -> tuple[list[float], list[float], int]:
    """Time `pairs` (forbidden, absent) GETs, each pair in random order; both must 404."""
    headers = {"Authorization": f"Bearer {token}"}
    seen: list[float] = []
    unseen: list[float] = []
    slower = 0
    for number in range(pairs + warmup):
        ids = [(True, rng.choice(forbidden)), (False, _absent_id(rng))]
        rng.shuffle(ids)
        took: dict[bool, float] = {}
        for exists, item_id in ids:
            began = time.perf_counter()
            async with session.get(f"{url}/v1/items/{item_id}", headers=headers) as response:
                await response.read()
                status = response.status
            took[exists] = (time.perf_counter() - began) * 1000
            if status != 404:
                raise RuntimeError(f"expected 404 for {item_id}, got {status}")
        if number < warmup:
            continue
        seen.append(took[True])
        unseen.append(took[False])
        slower += took[True] > took[False]
    return seen, unseen, slower


def _summary(latencies: list[float]) -> dict[str, Any]:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 3)

    return {
        "requests": len(latencies),
        "p50_ms": r(percentile(latencies, 50)),
        "p90_ms": r(percentile(latencies, 90)),
        "p99_ms": r(percentile(latencies, 99)),
    }
