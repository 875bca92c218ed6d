"""`python -m bench [--only NAME[,NAME]] [--quick] [--big N] [--profile DIR]`.

Runs the scenarios in order, prints one table on stdout (progress goes to
stderr) and writes the figures to bench/results/<timestamp>.json and
bench/results/latest.json. A scenario that fails or cannot run yields a row
with no figure and the reason; the others still run. Each scenario has a
time limit, so the whole run always ends by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import describe_machine, raise_fd_limit
from bench.report import Result, console, render, unavailable, write_json
from bench.scenarios import SCENARIOS, Context, Options

# Generous: a healthy full run takes a fraction of this; it only bounds a hang.
_SCENARIO_LIMIT_S = {"read": 900.0, "taxii": 1800.0}
_DEFAULT_LIMIT_S = 420.0


def _parser(names: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only",
        metavar="NAME",
        help=f"comma-separated scenarios to run (of {', '.join(names)}); prefixes work",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: a smoke run of about a minute"
    )
    parser.add_argument(
        "--big",
        type=int,
        default=1_000_000,
        metavar="N",
        help="stored items for the large read tier (default 1,000,000)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run the broker under pyinstrument (must be installed), text reports in DIR",
    )
    parser.add_argument(
        "--postgres-url",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        help="an admin URL of the PostgreSQL server for the cross-replica scenario",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the working directory (data dirs, logs)"
    )
    return parser


def _select(only: str | None, names: Sequence[str]) -> list[str]:
    if not only:
        return list(names)
    chosen: list[str] = []
    for wanted in (w.strip() for w in only.split(",") if w.strip()):
        matches = [n for n in names if n == wanted] or [n for n in names if n.startswith(wanted)]
        if not matches:
            raise SystemExit(f"unknown scenario {wanted!r}; choose from {', '.join(names)}")
        chosen += [m for m in matches if m not in chosen]
    return [n for n in names if n in chosen]


async def _run(selected: list[str], ctx: Context) -> list[Result]:
    scenarios = SCENARIOS()
    results: list[Result] = []
    for name in selected:
        print(f"[{name}]", file=sys.stderr, flush=True)
        started = time.perf_counter()
        limit = _SCENARIO_LIMIT_S.get(name, _DEFAULT_LIMIT_S)
        scenario = scenarios[name]
        try:
            results += await asyncio.wait_for(scenario.run(ctx), limit)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            reason = f"failed: {type(exc).__name__}: {exc}"
            results.append(unavailable(name, scenario.unit, scenario.target, reason))
        ctx.say(f"{name} took {time.perf_counter() - started:,.0f} s")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit 0 whether or not targets are met (the table says)."""
    names = list(SCENARIOS())
    args = _parser(names).parse_args(argv)
    selected = _select(args.only, names)
    options = Options(
        quick=args.quick,
        big=args.big,
        profile_dir=args.profile.resolve() if args.profile else None,
        postgres_url=args.postgres_url,
    )
    raise_fd_limit()
    workdir = Path(tempfile.mkdtemp(prefix="council-bench-"))
    log_dir = workdir / "logs"
    log_dir.mkdir()
    ctx = Context(options, workdir, log_dir)
    print(f"bench: working in {workdir}", file=sys.stderr, flush=True)
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    try:
        results = asyncio.run(_run(selected, ctx))
    finally:
        if args.keep:
            print(f"bench: kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    wall = time.perf_counter() - started
    title = "council broker benchmark" + (" (--quick: smoke sizes)" if args.quick else "")
    out = console()
    out.print(render(results, wall_seconds=wall, title=title))
    path = write_json(
        results,
        {
            "started_at": started_at.isoformat(),
            "wall_seconds": round(wall, 1),
            "options": {
                "quick": args.quick,
                "big": args.big,
                "only": selected,
                "profile": str(args.profile) if args.profile else None,
            },
            "machine": describe_machine(),
        },
    )
    out.print(f"figures written to {path} and {path.parent / 'latest.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
