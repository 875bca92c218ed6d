"""Rendering helpers the commands share: times, tables, cells, nested answers, input files.

Everything the broker sent passes through :func:`clients.cli._output.clean` here,
so a command that builds its lines from these helpers cannot print a terminal
escape sequence an item's author slipped into a title.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich import box
from rich.table import Column, Table
from rich.text import Text

from clients.cli._command import InputError
from clients.cli._output import Output, clean

__all__ = [
    "MEDIUM",
    "WIDE",
    "cell",
    "counts",
    "read_text",
    "scalar",
    "show_value",
    "table",
    "when",
    "yes",
]

MEDIUM = 100
"""Terminal width (columns) from which tables add their first optional columns."""
WIDE = 130
"""Terminal width (columns) from which tables add the rest of their optional columns."""


def when(value: datetime | None, *, zone: bool = True) -> str:
    """``value`` as ``YYYY-MM-DD HH:MM`` in UTC (with `` UTC`` unless ``zone`` is false)."""
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M" + (" UTC" if zone else ""))


def table(*columns: Column) -> Table:
    """A borderless table with a rule under its header."""
    # Borderless: tables end up in pipes, mails and tickets as often as on screens.
    return Table(*columns, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)


def cell(value: object, *, lines: bool = False) -> Text:
    """A table cell showing ``value`` inert; newlines kept only when ``lines``."""
    if value is None:
        return Text("-")
    text = clean(value)
    return Text(text if lines else text.replace("\n", " "))


def yes(flag: bool | None) -> str:
    """``yes``, ``no``, or ``-`` when unknown."""
    return "-" if flag is None else ("yes" if flag else "no")


def counts(numbers: Mapping[str, int]) -> str:
    """``reason number, ...`` sorted by reason, or ``none``."""
    if not numbers:
        return "none"
    return ", ".join(f"{clean(reason)} {number}" for reason, number in sorted(numbers.items()))


def scalar(value: Any) -> str:
    """One value on one line: ``-`` for None, yes/no for booleans, JSON for containers."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return yes(value)
    if isinstance(value, dict | list):
        return clean(json.dumps(value, ensure_ascii=False))
    return clean(value)


def show_value(value: Any, out: Output, indent: str = "") -> None:
    """Print a JSON value readably: objects as ``key: value`` lines, lists of objects as tables."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, dict | list) and inner:
                out.line(f"{indent}{clean(key)}:")
                show_value(inner, out, indent + "  ")
            else:
                out.line(f"{indent}{clean(key)}: {scalar(inner)}")
    elif isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
        columns = list(dict.fromkeys(key for row in value for key in row))
        rows = table(*[Column(clean(column), overflow="fold") for column in columns])
        for row in value:
            rows.add_row(*[cell(scalar(row.get(column))) for column in columns])
        out.render(rows)
    elif isinstance(value, list):
        for inner in value:
            out.line(f"{indent}- {scalar(inner)}")
    else:
        out.line(f"{indent}{scalar(value)}")


def read_text(path: str, what: str) -> str:
    """The text of ``path`` (``-``: standard input); :class:`InputError` if unreadable."""
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {what} {path}: {exc}") from exc
