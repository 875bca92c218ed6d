"""One module per scenario of the issue.

Each exposes ``async def run(ctx) -> list[Result]``, its ``TARGET`` and the
``UNIT`` of its figure (used for the row of a scenario that failed).

:class:`Context` carries the options and the working directories; sizes
depend on ``--quick`` (a smoke run of about a minute) and ``--big``.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bench.report import Result, Target

__all__ = ["SCENARIOS", "Context", "Options", "Scenario"]


@dataclass(frozen=True)
class Options:
    """What the command line asked for."""

    quick: bool = False
    big: int = 1_000_000
    profile_dir: Path | None = None
    postgres_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class Context:
    """Options plus where a scenario may put data directories and logs."""

    options: Options
    workdir: Path
    log_dir: Path

    @property
    def quick(self) -> bool:
        """A smoke run with small sizes."""
        return self.options.quick

    def say(self, message: str) -> None:
        """A progress line on stderr (stdout carries only the table)."""
        print(f"  · {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Scenario:
    """A scenario: how to run it, its target, and the unit of its figure."""

    run: Callable[[Context], Awaitable[list[Result]]]
    target: Target
    unit: str


def _registry() -> dict[str, Scenario]:
    from bench.scenarios import (
        audit_verify,
        cross_replica,
        denial,
        fanout,
        ingest,
        misp,
        read,
        taxii,
    )

    return {
        name: Scenario(module.run, module.TARGET, module.UNIT)
        for name, module in (
            ("ingest", ingest),
            ("fanout", fanout),
            ("cross-replica", cross_replica),
            ("read", read),
            ("audit", audit_verify),
            ("denial", denial),
            ("misp", misp),
            ("taxii", taxii),
        )
    }


SCENARIOS: Callable[[], dict[str, Scenario]] = _registry
"""The scenarios by name, in the order they run (imported lazily)."""
