"""``council follow``: the events the caller may see, as they happen."""

from __future__ import annotations

from contextlib import aclosing

import click

from clients.cli._command import EXIT_OK, Call, council_command
from clients.cli._output import clean
from clients.cli._render import scalar

__all__ = ["COMMANDS", "follow"]


@council_command("follow")
@click.option("--cursor", help="start after this event id  [default: from now on]")
async def follow(call: Call, *, cursor: str | None) -> int:
    """Print events as they happen (resumes by itself)."""
    out = call.out
    # Until interrupted, or until the broker ends the stream for good (StreamClosed).
    async with aclosing(call.client.follow(cursor)) as events:
        async for event in events:
            if call.json:
                out.json({"id": event.id, "event": event.event, "data": event.data})
                continue
            facts = "  ".join(f"{clean(k)}={scalar(v)}" for k, v in event.data.items())
            out.line(f"{clean(event.id)}  {clean(event.event)}  {facts}")
    return EXIT_OK


COMMANDS = (follow,)
"""This module's commands, registered by :mod:`clients.cli.commands`."""
