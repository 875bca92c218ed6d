"""TAXII 2.1: the broker's TAXII edge beside medallion 3.0, the OASIS reference server.

Both servers run in the same run, each in its own process on loopback, driven
by the same client code: ``add1`` (envelopes of one indicator) and ``add100``
(envelopes of 100), each from 1, 8 and 32 concurrent clients (as the OASIS
reference harness does); then, at each stored size,
``first_page`` (the first page, limit 100, requested repeatedly: p99) and
``page_walk`` (every page of the collection by ``next``). medallion is
installed into its own virtual environment (bench/.peers/medallion, outside
git) on first use, and runs its memory backend; its first page grows with
the square of what it stores, so it is measured only where it still answers
(a request that does not answer within ``_MEDALLION_WAIT_S`` ends its sizes).
Its adds also slow down as it fills, so each add run gets a fresh medallion;
the broker's adds run after its listings, on the 100,000 objects they stored
(its add rate does not depend on what it holds).

Targets, as ratios in one run: add-1 ≥ 20 x medallion's objects/s, add-100 ≥
30 x, and the broker's first-page p99 at the largest size ≤ 1.5 x its own at
1,000 stored.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.council import build_council
from bench.harness import HOST, Broker, ChildProcess, child_env, free_port, percentile
from bench.report import Result, Target
from bench.scenarios import Context

__all__ = ["TARGET", "UNIT", "run"]

TARGET = Target("at_least", 20.0)
UNIT = "objects/s"

MEDIA = "application/taxii+json;version=2.1"
_PEER_DIR = Path(__file__).resolve().parents[1] / ".peers" / "medallion"
_MEDALLION = "medallion==3.0.0"
_MEDALLION_WAIT_S = 30.0
_FILL_CLIENTS = 4  # posting the stored sizes for the listings
_LEVELS = (1, 8, 32)  # concurrent clients of each add run
_QUICK_LEVELS = (8,)
_EXTENSION = "extension-definition--0ab61d92-cb3d-4acf-92de-5c2233c3325f"
_AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
_ANALYSIS = "5d3c6f0e-8a2b-4c1e-9f47-1b2a3c4d5e01"
_MEDALLION_COLLECTION = "4b2d3c1a-6f5e-4d7c-8b9a-0e1f2a3b4c5d"


@dataclass
class Server:
    """One TAXII server as the driver sees it."""

    label: str
    objects_url: str
    auth: str
    extensions: dict[str, Any] | None
    figures: dict[str, Any] = field(default_factory=dict)

    def headers(self, *, body: bool = False) -> dict[str, str]:
        """Accept (and Content-Type) and the Basic credentials."""
        headers = {"Accept": MEDIA, "Authorization": self.auth}
        if body:
            headers["Content-Type"] = MEDIA
        return headers


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


_ADDRESSES = itertools.count(1)


def _indicator(extensions: dict[str, Any] | None) -> dict[str, Any]:
    """A new TLP:AMBER indicator with a pattern of its own: real feeds rarely repeat
    a pattern, and the broker validates each distinct pattern once."""
    stamp = "2026-11-01T10:00:00.000Z"
    n = next(_ADDRESSES)
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": stamp,
        "modified": stamp,
        "name": "benchmark indicator",
        "pattern": f"[ipv4-addr:value = '10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}']",
        "pattern_type": "stix",
        "valid_from": "2026-11-01T10:00:00Z",
        "object_marking_refs": [_AMBER],
    }
    if extensions is not None:
        obj["extensions"] = extensions
    return obj


async def _post(session: aiohttp.ClientSession, server: Server, count: int) -> int:
    """Post one envelope of `count` indicators; how many the status says succeeded."""
    envelope = {"objects": [_indicator(server.extensions) for _ in range(count)]}
    async with session.post(
        server.objects_url, data=json.dumps(envelope), headers=server.headers(body=True)
    ) as response:
        status = await response.json(content_type=None)
    if response.status != 202:
        raise RuntimeError(f"{server.label}: POST answered {response.status}: {status}")
    return int(status.get("success_count", 0))


async def _add_rate(server: Server, per_envelope: int, duration: float, clients: int) -> float:
    """Objects/s added by `clients` clients posting `per_envelope`-object envelopes."""
    added = 0
    deadline = time.monotonic() + duration
    timeout = aiohttp.ClientTimeout(total=_MEDALLION_WAIT_S * 4)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def client() -> None:
            nonlocal added
            while time.monotonic() < deadline:
                # Awaited first, then added: `added += await ...` reads `added`
                # before the await and loses the other clients' increments.
                succeeded = await _post(session, server, per_envelope)
                added += succeeded

        started = time.monotonic()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.monotonic() - started
    return added / elapsed


async def _fill(server: Server, stored: int, target: int) -> int:
    """Add envelopes of 100 until `target` objects are stored; the new count."""
    timeout = aiohttp.ClientTimeout(total=_MEDALLION_WAIT_S * 4)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        gate = asyncio.Semaphore(_FILL_CLIENTS)

        async def one(count: int) -> int:
            async with gate:
                return await _post(session, server, count)

        missing = target - stored
        sizes = [100] * (missing // 100) + ([missing % 100] if missing % 100 else [])
        added = await asyncio.gather(*(one(n) for n in sizes))
    return stored + sum(added)


async def _first_page(server: Server, repeats: int) -> list[float]:
    """Seconds per first page (limit 100), `repeats` times after one unmeasured
    warm-up request (caches, imports); a timeout ends it."""
    timings: list[float] = []
    timeout = aiohttp.ClientTimeout(total=_MEDALLION_WAIT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for attempt in range(repeats + 1):
            started = time.perf_counter()
            async with session.get(
                server.objects_url, params={"limit": "100"}, headers=server.headers()
            ) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{server.label}: first page answered {response.status}")
            if attempt:
                timings.append(time.perf_counter() - started)
    return timings


async def _walk(server: Server) -> tuple[float, int]:
    """Seconds to walk every page by `next`, and how many objects it gave."""
    seen = 0
    params = {"limit": "100"}
    timeout = aiohttp.ClientTimeout(total=_MEDALLION_WAIT_S)
    started = time.perf_counter()
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            async with session.get(
                server.objects_url, params=params, headers=server.headers()
            ) as response:
                page = await response.json(content_type=None)
            seen += len(page.get("objects", []))
            if not page.get("more") or not page.get("next"):
                break
            params = {"limit": "100", "next": page["next"]}
    return time.perf_counter() - started, seen


async def _listings(ctx: Context, server: Server, sizes: list[int]) -> None:
    """first_page and page_walk at each size, until the server stops answering."""
    stored = 0
    for size in sizes:
        ctx.say(f"taxii: {server.label}: storing {size} objects")
        stored = await _fill(server, stored, size)
        try:
            timings = await _first_page(server, 20 if size <= 10_000 else 10)
            walk_s, walked = await _walk(server)
        except (TimeoutError, aiohttp.ClientError) as exc:
            server.figures[f"first_page_{size}"] = {"answered": False, "error": type(exc).__name__}
            ctx.say(f"taxii: {server.label} does not answer at {size} stored; stopping there")
            return
        server.figures[f"first_page_{size}"] = {
            "answered": True,
            "p50_s": percentile(timings, 50),
            "p99_s": percentile(timings, 99),
            "walk_s": walk_s,
            "walked_objects": walked,
        }


async def _measure(
    ctx: Context, server: Server, per_envelope: int, clients: int, duration: float
) -> None:
    ctx.say(f"taxii: {server.label}: add-{per_envelope}, {clients} clients, for {duration:g} s")
    rate = await _add_rate(server, per_envelope, duration, clients)
    server.figures[f"add{per_envelope}_c{clients}"] = rate


# -- medallion ----------------------------------------------------------------


def _medallion_bin() -> Path:
    """medallion in its own virtual environment, installed on first use."""
    script = _PEER_DIR / "bin" / "medallion"
    if not script.exists():
        subprocess.run([sys.executable, "-m", "venv", str(_PEER_DIR)], check=True)  # noqa: S603
        subprocess.run(  # noqa: S603
            [str(_PEER_DIR / "bin" / "pip"), "install", "--quiet", _MEDALLION], check=True
        )
    return script


def _medallion_files(where: Path, password: str) -> Path:
    """A configuration and an empty memory-backend data file: one api root, one collection."""
    where.mkdir(parents=True, exist_ok=True)
    data = {
        "/discovery": {
            "title": "medallion for the benchmark",
            "default": "/bench/",
            "api_roots": ["/bench/"],
        },
        "bench": {
            "information": {
                "title": "benchmark api root",
                "versions": [MEDIA],
                "max_content_length": 100_000_000,
            },
            "status": [],
            "collections": [
                {
                    "id": _MEDALLION_COLLECTION,
                    "title": "benchmark",
                    "can_read": True,
                    "can_write": True,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": [],
                    "manifest": [],
                }
            ],
        },
    }
    data_path = where / "data.json"
    data_path.write_text(json.dumps(data))
    config = {
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": str(data_path),
        },
        "users": {"bench": password},
        "taxii": {"max_page_size": 100},
    }
    config_path = where / "config.json"
    config_path.write_text(json.dumps(config))
    return config_path


async def _wait_taxii(child: ChildProcess, url: str, auth: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < deadline:
            if child.proc is not None and child.proc.returncode is not None:
                raise RuntimeError(f"{child.name} exited: {child.tail()}")
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with session.get(
                    url, headers={"Accept": MEDIA, "Authorization": auth}
                ) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{child.name} was not ready within {within:.0f} s: {child.tail()}")


async def _with_medallion(
    ctx: Context, work: Callable[[Server], Awaitable[None]]
) -> tuple[Server, int | None]:
    script = await asyncio.to_thread(_medallion_bin)
    password = secrets.token_urlsafe(16)
    config = _medallion_files(ctx.workdir / "medallion", password)
    port = free_port()
    child = ChildProcess(
        "medallion",
        [str(script), "--host", HOST, "--port", str(port), str(config)],
        ctx.log_dir,
        child_env({}),
    )
    await child.start()
    base = f"http://{HOST}:{port}"
    auth = _basic("bench", password)
    server = Server(
        "medallion", f"{base}/bench/collections/{_MEDALLION_COLLECTION}/objects/", auth, None
    )
    try:
        await _wait_taxii(child, f"{base}/taxii2/", auth)
        await work(server)
    finally:
        rss = await child.stop()
    return server, rss


# -- the broker ---------------------------------------------------------------


async def _with_broker(
    ctx: Context, work: Callable[[Server], Awaitable[None]]
) -> tuple[Server, int | None]:
    broker = Broker(
        "taxii-broker",
        ctx.workdir / "taxii",
        ctx.log_dir,
        profile_dir=ctx.options.profile_dir,
        # One vendor's token posts far past the default 100 requests/s: the
        # throughput is what is measured here, not the per-token limiter.
        settings={"COUNCIL_TOKEN_REQUESTS_PER_SECOND": "0"},
    )
    await broker.init()
    await broker.start(profile_name="taxii")
    try:
        council = await build_council(broker.url, broker.admin_token, members=10)
        vendor = council.of_tier("tier_one")[0]
        extensions = {_EXTENSION: {"extension_type": "property-extension", "secret": False}}
        server = Server(
            "broker",
            f"{broker.url}/taxii2/council/collections/{_ANALYSIS}/objects/",
            _basic(vendor.user_ids[0], vendor.tokens[0]),
            extensions,
        )
        await work(server)
    finally:
        rss = await broker.stop()
    return server, rss


async def run(ctx: Context) -> list[Result]:
    """Both servers, one after the other, with the same scenarios."""
    duration = 3.0 if ctx.quick else 10.0
    ours_sizes = [1_000] if ctx.quick else [1_000, 10_000, 100_000]
    peer_sizes = [1_000] if ctx.quick else [1_000, 10_000]
    levels = _QUICK_LEVELS if ctx.quick else _LEVELS
    runs = [(per_envelope, clients) for per_envelope in (1, 100) for clients in levels]

    async def ours_work(server: Server) -> None:
        await _listings(ctx, server, ours_sizes)  # first, on an empty collection
        for per_envelope, clients in runs:
            await _measure(ctx, server, per_envelope, clients, duration)

    async def peer_listings(server: Server) -> None:
        await _listings(ctx, server, peer_sizes)

    ours, ours_rss = await _with_broker(ctx, ours_work)
    peer, peer_rss = await _with_medallion(ctx, peer_listings)
    for per_envelope, clients in runs:

        async def peer_add(server: Server, n: int = per_envelope, c: int = clients) -> None:
            await _measure(ctx, server, n, c, duration)

        fresh, rss = await _with_medallion(ctx, peer_add)
        peer.figures.update(fresh.figures)
        peer_rss = max(filter(None, (peer_rss, rss)), default=None)
    return _results(ours, peer, ours_rss, peer_rss, ours_sizes, levels)


def _results(
    ours: Server,
    peer: Server,
    ours_rss: int | None,
    peer_rss: int | None,
    sizes: list[int],
    levels: tuple[int, ...],
) -> list[Result]:
    details = {"broker": ours.figures, "medallion": peer.figures, "clients": list(levels)}
    first = ours.figures.get(f"first_page_{sizes[0]}", {})
    last = ours.figures.get(f"first_page_{sizes[-1]}", {})
    runs = [(per_envelope, clients) for per_envelope in (1, 100) for clients in levels]
    rows = [
        Result(
            f"taxii.add{per_envelope}.c{clients}",
            UNIT,
            ours.figures.get(f"add{per_envelope}_c{clients}"),
            peer.figures.get(f"add{per_envelope}_c{clients}"),
            TARGET if per_envelope == 1 else Target("at_least", 30.0),
            # The first row carries the peaks and every figure of the scenario.
            peak_rss=ours_rss if index == 0 else None,
            baseline_peak_rss=peer_rss if index == 0 else None,
            note=f"envelopes of {per_envelope} indicator{'s' if per_envelope > 1 else ''}, "
            f"{clients} client{'s' if clients > 1 else ''}; baseline: medallion 3.0.0, fresh",
            details=details if index == 0 else {},
        )
        for index, (per_envelope, clients) in enumerate(runs)
    ]
    rows += [
        Result(
            f"taxii.first_page.{sizes[-1]}",
            "s",
            last.get("p99_s"),
            first.get("p99_s"),
            Target("at_most", 1.5),
            note=f"p99 of the first page (limit 100) at {sizes[-1]} stored; "
            f"baseline: the broker's own at {sizes[0]}",
        ),
    ]
    for size in sizes:
        mine = ours.figures.get(f"first_page_{size}", {})
        theirs = peer.figures.get(f"first_page_{size}")
        if theirs is None:
            peer_note = "medallion: not measured (stopped answering at a smaller size)"
        elif theirs.get("answered"):
            peer_note = f"medallion p99 {theirs['p99_s']:.3f} s, walk {theirs['walk_s']:.1f} s"
        else:
            peer_note = f"medallion: no answer within {_MEDALLION_WAIT_S:g} s"
        rows.append(
            Result(
                f"taxii.page_walk.{size}",
                "s",
                mine.get("walk_s"),
                theirs.get("walk_s") if theirs and theirs.get("answered") else None,
                Target("at_most", 1.0),
                note=f"every page by next at {size} stored ({mine.get('walked_objects')} objects); "
                + peer_note,
            )
        )
    return rows
