"""Ingest: 64 concurrent submitters, 4 KiB items, each routed to ~100 members, durable.

Figure: items/s answered 201 by the broker (SQLite, synchronous=FULL, group
commit). Baseline: a bare aiohttp handler that parses the same 4 KiB JSON
POST and answers 201, under the same load generator. Target: ≥ 0.40 x
baseline.

The main row submits high-confidence countermeasures to ``all_members``
(every member and the coordinator receive them, nobody owes anything). The
second row, ``ingest.obligations``, submits unconfirmed ones instead: they
reach tier one, tier two and the coordinator, and each tier-two recipient
gets an obligation and a stream event written with the item (SPEC §4), the
per-recipient write cost of the task-force flow.
"""

from __future__ import annotations

import math

from bench.council import build_council
from bench.harness import Broker, start_baseline
from bench.load import LoadRun, Payload, hammer, submission
from bench.report import Result, Target
from bench.scenarios import Context

__all__ = ["TARGET", "UNIT", "run"]

TARGET = Target("at_least", 0.40)
UNIT = "items/s"
SUBMITTERS = 64
ITEM_BYTES = 4096


async def run(ctx: Context) -> list[Result]:
    """Measure the baseline, then the broker, with the same load."""
    members = 20 if ctx.quick else 100
    warmup, duration = (1.0, 3.0) if ctx.quick else (2.0, 15.0)
    high = submission(confidence="high", size=ITEM_BYTES)
    low = submission(confidence="unconfirmed", size=ITEM_BYTES)

    ctx.say(f"ingest baseline: bare aiohttp, {SUBMITTERS} submitters, {duration:g} s")
    base_run, base_rss = await _baseline(ctx, high, warmup, duration)

    broker = Broker(
        "ingest-broker", ctx.workdir / "ingest", ctx.log_dir, profile_dir=ctx.options.profile_dir
    )
    await broker.init()
    await broker.start(profile_name="ingest")
    try:
        ctx.say(f"ingest: building a council of {members} members")
        tier_one = max(1, members // 10)
        council = await build_council(
            broker.url,
            broker.admin_token,
            members=members,
            tier_one_users=math.ceil(SUBMITTERS / tier_one),
        )
        tokens = council.tokens("tier_one")[:SUBMITTERS]
        url = f"{broker.url}/v1/items"
        ctx.say(f"ingest: broker, high-confidence countermeasures, {duration:g} s")
        high_run = await hammer(
            url, tokens, high, concurrency=SUBMITTERS, warmup=warmup, duration=duration
        )
        high_rss = broker.sample_rss()
        ctx.say(f"ingest: broker, unconfirmed countermeasures (obligations), {duration:g} s")
        low_run = await hammer(
            url, tokens, low, concurrency=SUBMITTERS, warmup=warmup, duration=duration
        )
    finally:
        peak = await broker.stop()
    return [
        _result("ingest", high_run, base_run, high_rss, base_rss, members, duration),
        _result("ingest.obligations", low_run, base_run, peak, base_rss, members, duration),
    ]


async def _baseline(
    ctx: Context, payload: Payload, warmup: float, duration: float
) -> tuple[LoadRun, int | None]:
    server, url = await start_baseline("http", "ingest-baseline", ctx.log_dir)
    try:
        run = await hammer(
            f"{url}/v1/items",
            [None],
            payload,
            concurrency=SUBMITTERS,
            warmup=warmup,
            duration=duration,
        )
    finally:
        rss = await server.stop()
    return run, rss


def _result(
    name: str,
    run: LoadRun,
    base: LoadRun,
    rss: int | None,
    base_rss: int | None,
    members: int,
    duration: float,
) -> Result:
    first = run.first_response or {}
    recipients = first.get("recipients")
    note = (
        f"{SUBMITTERS} submitters x 4 KiB for {duration:g} s; {recipients} recipients/item; "
        f"p99 {run.summary()['latency_ms_p99']} ms vs {base.summary()['latency_ms_p99']} ms"
    )
    if run.failed or run.exceptions:
        note += f"; {run.failed} non-201, {sum(run.exceptions.values())} client errors"
    return Result(
        name=name,
        unit="items/s",
        figure=run.rate if run.created else None,
        baseline=base.rate if base.created else None,
        target=TARGET,
        peak_rss=rss,
        baseline_peak_rss=base_rss,
        note=note,
        details={
            "members": members,
            "recipients_per_item": recipients,
            "dropped": first.get("dropped"),
            "broker": run.summary(),
            "baseline": base.summary(),
        },
    )
