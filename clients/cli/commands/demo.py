"""``council demo``: the council's motivating case, played against a running broker."""

from __future__ import annotations

import io

from rich.console import Console

from clients.cli._command import EXIT_ERROR, EXIT_OK, Call, council_command
from clients.cli.demo import play

__all__ = ["COMMANDS", "demo"]


@council_command("demo")
async def demo(call: Call) -> int:
    """Play the council's case against a running broker.

    Run it as a coordinator administrator; it admits its own demo members, so
    use a staging broker. With --json the timeline is not printed; the demo's
    members are, as JSON.
    """
    # The timeline is the demo's whole output, printed as it happens (rich
    # honours NO_COLOR and a non-terminal stdout by itself).
    console = Console(file=io.StringIO()) if call.json else Console()
    try:
        cast = await play(call.client, console)
    except AssertionError as exc:
        call.out.error(f"demo failed: {exc}")
        return EXIT_ERROR
    if call.json:
        groups = {"tier_one": cast.tier_one, "tier_two": cast.tier_two, "general": cast.general}
        call.out.json(
            {
                "prefix": cast.prefix,
                "coordinator_id": cast.coordinator_id,
                "members": {
                    group: [{"id": m.id, "name": m.name} for m in members]
                    for group, members in groups.items()
                },
            }
        )
    return EXIT_OK


COMMANDS = (demo,)
"""This module's commands, registered by :mod:`clients.cli.commands`."""
