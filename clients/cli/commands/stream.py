"""``council follow``: the events the caller may see, as they happen."""

from __future__ import annotations

from contextlib import aclosing

import click

from clients.cli._command import EXIT_OK, Call, council_command
from clients.cli._output import clean
from clients.cli._render import scalar
from clients.sdk import TransportError

__all__ = ["COMMANDS", "follow"]


@council_command("follow")
@click.option("--cursor", help="start after this event id  [default: from now on]")
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=8,
    help="reconnections in a row before giving up (waits 1, 2, 4 ... 30 s between)",
)
async def follow(call: Call, *, cursor: str | None, retries: int) -> int:
    """Print events as they happen; a dropped connection is resumed where it broke off."""
    out = call.out
    # Before the stream: a broker that is not there at all is said so at once,
    # not after minutes of retries.
    await call.client.health()

    def retrying(error: TransportError, attempt: int, delay: float) -> None:
        out.warning(f"{error.message}; retrying in {delay:g} s (attempt {attempt} of {retries})")

    # Until interrupted, or until the broker ends the stream for good (StreamClosed).
    async with aclosing(
        call.client.follow(cursor, reconnects=retries, on_retry=retrying)
    ) as events:
        async for event in events:
            if call.json:
                out.json({"id": event.id, "event": event.event, "data": event.data})
                continue
            facts = "  ".join(f"{clean(k)}={scalar(v)}" for k, v in event.data.items())
            out.line(f"{clean(event.id)}  {clean(event.event)}  {facts}")
    return EXIT_OK


COMMANDS = (follow,)
"""This module's commands, registered by :mod:`clients.cli.commands`."""
