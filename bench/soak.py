"""`python -m bench.soak [--minutes N] [--window-seconds S] [--database-url URL]`.

A soak: one real broker process (`council-broker serve` on a fresh data
directory; SQLite unless a PostgreSQL URL is given) under a steady mix of
work for N minutes (30 by default):

- providers submit analyses to the tier-one group;
- readers list their inbox and open recent items;
- answerers fetch what their member owes and answer it;
- stream clients follow the live stream over SSE, and reconnect from their
  last cursor every minute (connections open and close all along).

Every window (5 minutes; shorter runs use shorter windows, at least six of
them, or `--window-seconds`) the broker's resident set size and open file
descriptors are sampled and the window's request latencies summarised. At the
end one table is printed and two checks decide the exit status: the last
window's RSS is at most 1.2 x that of the first window after warm-up (the
first window is the warm-up), and the descriptors stay flat (the last window
within 16 of that first window). It is not a test: it runs for minutes and its
figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.harness import Broker, percentile, raise_fd_limit
from clients.sdk import CouncilClient, CouncilError

__all__ = ["Window", "main", "soak", "window_seconds"]

RSS_GROWTH_LIMIT = 1.2
FD_SLACK = 16
_STREAM_SESSION_S = 60.0
err = Console(stderr=True)


@dataclass
class Window:
    """One window's figures."""

    index: int
    ended_at: float
    requests: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    stream_events: int = 0
    rss_bytes: int | None = None
    fds: int | None = None

    @property
    def p50_ms(self) -> float | None:
        """The median request latency, ms."""
        value = percentile(self.latencies, 50)
        return None if value is None else value * 1000

    @property
    def p99_ms(self) -> float | None:
        """The 99th-percentile request latency, ms."""
        value = percentile(self.latencies, 99)
        return None if value is None else value * 1000


def window_seconds(minutes: float, requested: float | None) -> float:
    """5-minute windows, or shorter ones so that a short run has at least six."""
    if requested:
        return requested
    return max(10.0, min(300.0, minutes * 60 / 6))


class Recorder:
    """Latencies and errors into the current window."""

    def __init__(self) -> None:
        self.current = Window(index=1, ended_at=0.0)
        self.errors: dict[str, int] = {}

    async def timed(self, name: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """Run one request and record how long it took and whether it failed."""
        started = time.perf_counter()
        try:
            result = await call()
        except CouncilError as exc:
            self.current.requests += 1
            self.current.errors += 1
            key = f"{name}: {exc.status} {exc.code}"
            self.errors[key] = self.errors.get(key, 0) + 1
            return None
        self.current.requests += 1
        self.current.latencies.append(time.perf_counter() - started)
        return result


def _draft(n: int) -> dict[str, Any]:
    return {
        "kind": "analysis",
        "title": f"soak {n}",
        "body": f"soak submission {n} " + "x" * 2000,
        "tlp": "AMBER",
        "secret": False,
        "confidence": "unconfirmed",
        "scope": {"groups": ["tier_one_group"]},
    }


async def _cast(url: str, admin_token: str, members: int) -> list[str]:
    """Tier-one members with a handler each; their tokens."""
    tokens = []
    async with CouncilClient(url, admin_token, timeout=60) as admin:
        for n in range(members):
            member = await admin.create_member(
                name=f"Soak member {n}", category="cyber_business", tier="tier_one"
            )
            user, token = await admin.create_user(member.id, f"Soak handler {n}", "member_user")
            await admin.add_handler(member.id, user.id)
            tokens.append(token)
    return tokens


async def _workload(
    url: str, tokens: Sequence[str], recorder: Recorder, stop: asyncio.Event
) -> list[asyncio.Task[None]]:
    recent: list[str] = []
    rng = random.Random(20261203)  # noqa: S311 - which item to read, not a secret
    counter = iter(range(10**9))

    async def submitter(token: str) -> None:
        async with CouncilClient(url, token, timeout=60) as client:
            while not stop.is_set():
                draft = _draft(next(counter))
                result = await recorder.timed("submit", lambda d=draft: client.submit(d))
                if result is not None:
                    recent.append(result.id)
                    del recent[:-200]
                await asyncio.sleep(0.25)

    async def reader(token: str) -> None:
        async with CouncilClient(url, token, timeout=60) as client:
            while not stop.is_set():
                await recorder.timed("inbox", lambda: client.inbox(limit=20))
                if recent:
                    item_id = rng.choice(recent)
                    await recorder.timed("open", lambda i=item_id: client.get_item(i))
                await asyncio.sleep(0.1)

    async def answerer(token: str) -> None:
        async with CouncilClient(url, token, timeout=60) as client:
            while not stop.is_set():
                owed = await recorder.timed("obligations", client.obligations) or []
                for obligation in [o for o in owed if o.status in (None, "open")][:3]:
                    await recorder.timed(
                        "answer", lambda o=obligation: client.answer(o.item_id, "confirm")
                    )
                await asyncio.sleep(1.0)

    async def streamer(token: str) -> None:
        async with CouncilClient(url, token, timeout=2 * _STREAM_SESSION_S) as client:
            cursor: str | None = None
            while not stop.is_set():
                with contextlib.suppress(TimeoutError, CouncilError):
                    async with (
                        asyncio.timeout(_STREAM_SESSION_S),
                        contextlib.aclosing(client.follow(cursor)) as events,
                    ):
                        async for event in events:
                            cursor = event.id
                            recorder.current.stream_events += 1
                            if stop.is_set():
                                break

    work: list[Callable[[str], Awaitable[None]]] = [submitter, reader, answerer, streamer]
    tasks = []
    for n, token in enumerate(tokens):
        for kind in work:
            tasks.append(asyncio.create_task(kind(token), name=f"{kind.__name__}-{n}"))
    return tasks


def _sample(pid: int) -> tuple[int | None, int | None]:
    rss = None
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    fds = None
    with contextlib.suppress(OSError):
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds


async def soak(
    minutes: float, window_s: float, database_url: str | None, members: int
) -> tuple[list[Window], dict[str, int]]:
    """Run the soak; the windows' figures and the errors seen, by kind."""
    raise_fd_limit()
    root = Path(tempfile.mkdtemp(prefix="council-soak-"))
    broker = Broker("soak", root / "data", root, database_url=database_url)
    recorder = Recorder()
    windows: list[Window] = []
    try:
        await broker.init()
        await broker.start()
        assert broker.process is not None
        pid = broker.process.pid
        tokens = await _cast(broker.url, broker.admin_token, members)
        stop = asyncio.Event()
        tasks = await _workload(broker.url, tokens, recorder, stop)
        started = time.monotonic()
        end = started + minutes * 60
        try:
            while time.monotonic() < end - 1:
                await asyncio.sleep(min(window_s, end - time.monotonic()))
                window = recorder.current
                window.ended_at = time.monotonic() - started
                window.rss_bytes, window.fds = _sample(pid)
                windows.append(window)
                recorder.current = Window(index=window.index + 1, ended_at=0.0)
                err.print(_line(window))
                if broker.process.proc is not None and broker.process.proc.returncode is not None:
                    raise RuntimeError(f"the broker died: {broker.process.tail()}")
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await broker.stop()
        shutil.rmtree(root, ignore_errors=True)
    return windows, recorder.errors


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.1f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _line(w: Window) -> str:
    return (
        f"window {w.index} ({w.ended_at:.0f} s): {w.requests} requests, {w.errors} errors, "
        f"p99 {_ms(w.p99_ms)} ms, RSS {_mib(w.rss_bytes)} MiB, {w.fds} fds"
    )


def checks(windows: Sequence[Window]) -> list[tuple[str, bool]]:
    """The soak's two checks against the first window after warm-up."""
    if not windows:
        return [("at least one window", False)]
    base = windows[1] if len(windows) > 1 else windows[0]
    last = windows[-1]
    rss_ok = (
        base.rss_bytes is not None
        and last.rss_bytes is not None
        and last.rss_bytes <= RSS_GROWTH_LIMIT * base.rss_bytes
    )
    fds_ok = base.fds is not None and last.fds is not None and last.fds <= base.fds + FD_SLACK
    return [
        (
            f"last RSS {_mib(last.rss_bytes)} MiB <= {RSS_GROWTH_LIMIT} x window "
            f"{base.index}'s {_mib(base.rss_bytes)} MiB",
            rss_ok,
        ),
        (f"fds flat: last {last.fds} <= window {base.index}'s {base.fds} + {FD_SLACK}", fds_ok),
    ]


def render(windows: Sequence[Window], errors: dict[str, int], window_s: float) -> Table:
    """The table of windows."""
    table = Table(title=f"soak: {len(windows)} windows of {window_s:.0f} s (window 1 is warm-up)")
    for column in ("window", "ends at", "requests", "errors", "p50 ms", "p99 ms"):
        table.add_column(column, justify="right")
    for column in ("RSS MiB", "open fds", "stream events"):
        table.add_column(column, justify="right")
    for w in windows:
        table.add_row(
            str(w.index),
            f"{w.ended_at:.0f} s",
            str(w.requests),
            str(w.errors),
            _ms(w.p50_ms),
            _ms(w.p99_ms),
            _mib(w.rss_bytes),
            str(w.fds),
            str(w.stream_events),
        )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m bench.soak` (`make soak`)."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", 30)))
    parser.add_argument(
        "--window-seconds",
        type=float,
        default=float(os.environ["SOAK_WINDOW_SECONDS"])
        if os.environ.get("SOAK_WINDOW_SECONDS")
        else None,
    )
    parser.add_argument("--database-url", default=os.environ.get("SOAK_DATABASE_URL") or None)
    parser.add_argument("--members", type=int, default=3, help="tier-one members, each a full mix")
    args = parser.parse_args(argv)
    window_s = window_seconds(args.minutes, args.window_seconds)
    err.print(
        f"soak: {args.minutes:g} min, windows of {window_s:.0f} s, {args.members} members "
        f"on {'PostgreSQL' if args.database_url else 'SQLite'}"
    )
    windows, errors = asyncio.run(soak(args.minutes, window_s, args.database_url, args.members))
    out = Console(width=120, soft_wrap=True)
    out.print(render(windows, errors, window_s))
    for kind, count in sorted(errors.items()):
        out.print(f"errors: {kind} x{count}")
    results = checks(windows)
    for text, ok in results:
        out.print(f"{'PASS' if ok else 'FAIL'}: {text}")
    return 0 if all(ok for _, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main())
