"""Fan-out: 1,000 live-stream subscribers on one replica, 200 items published one at a time.

Figure: p99 over the items of the time from the 201 of ``POST /v1/items``
(the commit happened before it) to the moment the last of the subscribers
received the item's ``item`` event on ``GET /v1/stream`` (WebSocket).
Baseline: a bare aiohttp WebSocket broadcast of the same frames to as many
clients. Target: ≤ 2 x baseline.

The subscribers are 10 users of each of 100 members; the items are
high-confidence countermeasures to ``all_members``, so every subscriber's
member receives every item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.council import build_council
from bench.harness import Broker, start_baseline
from bench.load import (
    FanoutRun,
    Receipts,
    Subscribers,
    measure_fanout,
    stream_unavailable,
    submission,
)
from bench.report import Result, Target, unavailable
from bench.scenarios import Context

__all__ = ["TARGET", "UNIT", "FanoutSizes", "run", "run_fanout", "sizes"]

TARGET = Target("at_most", 2.0)
UNIT = "ms"
NOTE = "p99 from the 201 to receipt by the last subscriber"


@dataclass(frozen=True)
class FanoutSizes:
    """How big a fan-out run is."""

    members: int
    subscribers: int
    items: int
    warmup: int
    patience: float = 10.0


def sizes(ctx: Context) -> FanoutSizes:
    """The issue's sizes, or a smoke run's."""
    if ctx.quick:
        return FanoutSizes(members=20, subscribers=100, items=20, warmup=2)
    return FanoutSizes(members=100, subscribers=1000, items=200, warmup=5)


async def run_fanout(
    subscribe_url: str,
    publish_url: str,
    subscriber_tokens: Sequence[str | None],
    publisher_token: str | None,
    size: FanoutSizes,
) -> FanoutRun:
    """Connect the subscribers to `subscribe_url`, publish on `publish_url`, time the receipts."""
    receipts = Receipts(expected=len(subscriber_tokens))
    subscribers = Subscribers(receipts)
    try:
        await subscribers.connect(subscribe_url, subscriber_tokens)
        return await measure_fanout(
            f"{publish_url}/v1/items",
            publisher_token,
            submission(confidence="high"),
            receipts,
            items=size.items,
            warmup=size.warmup,
            patience=size.patience,
        )
    finally:
        await subscribers.close()


async def run(ctx: Context) -> list[Result]:
    """The broker on SQLite first, then the bare broadcast."""
    size = sizes(ctx)
    broker = Broker(
        "fanout-broker", ctx.workdir / "fanout", ctx.log_dir, profile_dir=ctx.options.profile_dir
    )
    await broker.init()
    await broker.start(profile_name="fanout")
    measured: FanoutRun | None = None
    reason: str | None = None
    try:
        ctx.say(f"fanout: council of {size.members} members, {size.subscribers} subscriber users")
        council = await build_council(
            broker.url,
            broker.admin_token,
            members=size.members,
            users_per_member=max(1, size.subscribers // size.members),
        )
        tokens = council.tokens()[: size.subscribers]
        publisher = council.tokens("tier_one")[0]
        reason = await stream_unavailable(broker.url, tokens[0])
        if reason is None:
            ctx.say(f"fanout: broker, {size.subscribers} subscribers, {size.items} items")
            measured = await run_fanout(broker.url, broker.url, tokens, publisher, size)
    finally:
        rss = await broker.stop()

    ctx.say(f"fanout baseline: bare aiohttp broadcast to {size.subscribers} clients")
    server, url = await start_baseline("stream", "fanout-baseline", ctx.log_dir)
    try:
        base = await run_fanout(url, url, [None] * size.subscribers, None, size)
    finally:
        base_rss = await server.stop()

    details = {"baseline": base.summary(), "measured_from": NOTE}
    if measured is None:
        result = unavailable("fanout", "ms", TARGET, reason or "not measured", **details)
        result.baseline = base.p99
        result.baseline_peak_rss = base_rss
        return [result]
    details["broker"] = measured.summary()
    note = f"{size.subscribers} subscribers, {size.items} items; {NOTE}"
    if measured.lost:
        note += f"; {measured.lost} items not received by all within {size.patience:g} s"
    return [
        Result(
            name="fanout",
            unit="ms",
            figure=measured.p99,
            baseline=base.p99,
            target=TARGET,
            peak_rss=rss,
            baseline_peak_rss=base_rss,
            note=note,
            details=details,
        )
    ]
