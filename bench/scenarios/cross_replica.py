"""Cross-replica fan-out: two brokers on one PostgreSQL database; publish on A, subscribe on B.

Figure: the fan-out p99 (201 to receipt by the last subscriber) with the
subscribers on replica B and the submissions on replica A. Baseline: the
single-replica figure measured in the same run on the same database, with
subscribers and submissions both on A, so the difference is what crossing
replicas costs (the notification between them) and nothing else. Target:
≤ baseline + 20 ms.

A fresh database is created for the run and dropped afterwards; both
replicas share the data directory, hence the key ring.
"""

from __future__ import annotations

from bench.council import build_council
from bench.harness import Broker, DatabaseUnavailable, postgres_database
from bench.load import FanoutRun, stream_unavailable
from bench.report import Result, Target, unavailable
from bench.scenarios import Context
from bench.scenarios.fanout import NOTE, FanoutSizes, run_fanout, sizes

__all__ = ["TARGET", "UNIT", "run"]

TARGET = Target("at_most_plus", 20.0, "ms")
UNIT = "ms"


async def run(ctx: Context) -> list[Result]:
    """Single replica on A, then across A → B, on a throw-away PostgreSQL database."""
    try:
        async with postgres_database(ctx.options.postgres_url) as database_url:
            return await _measure(ctx, database_url, sizes(ctx))
    except DatabaseUnavailable as exc:
        reason = f"no PostgreSQL database at {ctx.options.postgres_url}: {exc}"
        return [unavailable("cross-replica", "ms", TARGET, reason)]


async def _measure(ctx: Context, database_url: str, size: FanoutSizes) -> list[Result]:
    data_dir = ctx.workdir / "replicas"
    profile = ctx.options.profile_dir
    a = Broker("replica-a", data_dir, ctx.log_dir, database_url=database_url, profile_dir=profile)
    b = Broker("replica-b", data_dir, ctx.log_dir, database_url=database_url, profile_dir=profile)
    await a.init()
    b.admin_token = a.admin_token
    single: FanoutRun | None = None
    across: FanoutRun | None = None
    reason: str | None = None
    try:
        await a.start(profile_name="replica-a")
        await b.start(profile_name="replica-b")
        ctx.say(f"cross-replica: council of {size.members} members on PostgreSQL")
        council = await build_council(
            a.url,
            a.admin_token,
            members=size.members,
            users_per_member=max(1, size.subscribers // size.members),
        )
        tokens = council.tokens()[: size.subscribers]
        publisher = council.tokens("tier_one")[0]
        reason = await stream_unavailable(b.url, tokens[0]) or await stream_unavailable(
            a.url, tokens[0]
        )
        if reason is None:
            ctx.say(f"cross-replica: single replica (A → A), {size.subscribers} subscribers")
            single = await run_fanout(a.url, a.url, tokens, publisher, size)
            ctx.say(f"cross-replica: across replicas (A → B), {size.subscribers} subscribers")
            across = await run_fanout(b.url, a.url, tokens, publisher, size)
    finally:
        rss_a = await a.stop()
        rss_b = await b.stop()
    if single is None or across is None:
        return [unavailable("cross-replica", "ms", TARGET, reason or "not measured")]
    figure, baseline = across.p99, single.p99
    note = f"{size.subscribers} subscribers on B, items posted on A; {NOTE}"
    if figure is not None and baseline is not None:
        note += f"; {figure - baseline:+.1f} ms over one replica"
    lost = single.lost + across.lost
    if lost:
        note += f"; {lost} items not received by all within {size.patience:g} s"
    return [
        Result(
            name="cross-replica",
            unit="ms",
            figure=figure,
            baseline=baseline,
            target=TARGET,
            peak_rss=rss_b,
            baseline_peak_rss=rss_a,
            note=note,
            details={
                "database": "postgresql",
                "across_a_to_b": across.summary(),
                "single_replica_a": single.summary(),
                "peak_rss_note": "subject: replica B (subscribers); baseline: replica A",
                "measured_from": NOTE,
            },
        )
    ]
