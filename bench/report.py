"""Results, their targets, the one table and the JSON files in bench/results/.

Each scenario yields :class:`Result` objects: a figure, the baseline measured
in the same run, the target as a relation between the two, and the peak RSS
of the process under test. The JSON file holds one object per result with
``name``, ``figure``, ``baseline``, ``ratio``, ``target`` and ``met`` first.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

__all__ = ["RESULTS_DIR", "Result", "Target", "render", "unavailable", "write_json"]

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True, slots=True)
class Target:
    """What the figure must be, relative to its baseline.

    ``at_least``: figure ≥ value x baseline (throughput); ``at_most``:
    figure ≤ value x baseline (latency); ``at_most_plus``: figure ≤ baseline +
    value (latency, in the figure's unit).
    """

    relation: Literal["at_least", "at_most", "at_most_plus"]
    value: float
    unit: str = ""

    def describe(self) -> str:
        """The target as the issue states it."""
        if self.relation == "at_least":
            return f"≥ {self.value:.2f} x baseline"
        if self.relation == "at_most":
            return f"≤ {self.value:g} x baseline"
        return f"≤ baseline + {self.value:g} {self.unit}".rstrip()

    def met(self, figure: float | None, baseline: float | None) -> bool:
        """Whether `figure` meets the target against `baseline` (never when either is missing)."""
        if figure is None or baseline is None:
            return False
        if self.relation == "at_least":
            return figure >= self.value * baseline
        if self.relation == "at_most":
            return figure <= self.value * baseline
        return figure <= baseline + self.value


@dataclass
class Result:
    """One row of the table: a figure, its same-run baseline and its target."""

    name: str
    unit: str
    figure: float | None
    baseline: float | None
    target: Target
    peak_rss: int | None = None
    baseline_peak_rss: int | None = None
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """figure / baseline, when both are there."""
        if self.figure is None or not self.baseline:
            return None
        return self.figure / self.baseline

    @property
    def met(self) -> bool:
        """Whether the target is met."""
        return self.target.met(self.figure, self.baseline)

    def to_json(self) -> dict[str, Any]:
        """The JSON object for this result."""
        return {
            "name": self.name,
            "figure": _round(self.figure),
            "baseline": _round(self.baseline),
            "ratio": _round(self.ratio, 3),
            "target": self.target.describe(),
            "met": self.met,
            "unit": self.unit,
            "peak_rss_mib": _mib(self.peak_rss),
            "baseline_peak_rss_mib": _mib(self.baseline_peak_rss),
            "note": self.note,
            "details": self.details,
        }


def unavailable(name: str, unit: str, target: Target, reason: str, **details: Any) -> Result:
    """A result for a scenario that could not be measured: no figure, not met, and why.

    The table shows the reason cut short; the JSON file keeps all of it.
    """
    note = f"not available: {reason}"
    short = note if len(note) <= 160 else note[:157] + "..."
    return Result(name, unit, None, None, target, note=short, details={**details, "reason": reason})


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _mib(size: int | None) -> float | None:
    return None if size is None else round(size / 2**20, 1)


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    return f"{text} {unit}".rstrip()


def render(results: list[Result], *, wall_seconds: float, title: str) -> Table:
    """The one table."""
    table = Table(title=title, caption=f"wall time {wall_seconds:,.0f} s", show_lines=False)
    table.add_column("scenario", no_wrap=True)
    table.add_column("figure", justify="right", no_wrap=True)
    table.add_column("baseline", justify="right", no_wrap=True)
    table.add_column("ratio", justify="right", no_wrap=True)
    table.add_column("target", no_wrap=True)
    table.add_column("met", justify="center")
    table.add_column("peak RSS MiB\n(subject / baseline)", justify="right", no_wrap=True)
    table.add_column("note", overflow="fold")
    for r in results:
        rss = f"{_number(_mib(r.peak_rss))} / {_number(_mib(r.baseline_peak_rss))}"
        table.add_row(
            r.name,
            _number(r.figure, r.unit),
            _number(r.baseline, r.unit),
            "—" if r.ratio is None else f"{r.ratio:.2f}",
            r.target.describe(),
            "[green]yes[/]" if r.met else "[red]no[/]",
            rss,
            r.note,
        )
    return table


def console() -> Console:
    """A console wide enough for the table even when stdout is not a terminal."""
    out = Console()
    if not sys.stdout.isatty():
        out = Console(width=180)
    return out


def write_json(results: list[Result], meta: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    """Write `<timestamp>.json` and `latest.json`; return the timestamped path."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    document = {**meta, "scenarios": [r.to_json() for r in results]}
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    path = directory / f"{stamp}.json"
    path.write_text(text)
    (directory / "latest.json").write_text(text)
    return path
