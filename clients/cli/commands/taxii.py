"""``council taxii``: what a member pastes into its threat-intelligence platform."""

from __future__ import annotations

from rich.table import Column

from clients.cli._command import EXIT_OK, Call, council_command
from clients.cli._output import clean
from clients.cli._render import cell, table

__all__ = ["COMMANDS", "taxii"]


@council_command("taxii")
async def taxii(call: Call) -> int:
    """The TAXII 2.1 settings for your platform: URLs, your user id, your collections.

    Your platform signs in with HTTP Basic: the user id below as user name,
    your API token as password.
    """
    me = await call.client.me()
    collections = await call.client.taxii_collections()
    base = call.client.base_url.rstrip("/")
    settings = {
        "discovery": f"{base}/taxii2/",
        "api_root": f"{base}/taxii2/council/",
        "user_id": me.get("user_id"),
        "collections": [
            {
                "alias": c.get("alias"),
                "id": c.get("id"),
                "can_read": c.get("can_read"),
                "can_write": c.get("can_write"),
            }
            for c in collections
        ],
    }
    out = call.out
    if call.json:
        out.json(settings)
        return EXIT_OK
    out.line(f"discovery URL  {clean(str(settings['discovery']))}")
    out.line(f"api root       {clean(str(settings['api_root']))}")
    out.line(f"user name      {clean(str(me.get('user_id')))}  (password: your API token)")
    if not collections:
        out.line("no collections for your role")
        return EXIT_OK
    rows = table(Column("collection", no_wrap=True), Column("id", no_wrap=True), Column("add"))
    for c in collections:
        rows.add_row(
            cell(c.get("alias")), cell(c.get("id")), cell("yes" if c.get("can_write") else "no")
        )
    out.render(rows)
    return EXIT_OK


COMMANDS = (taxii,)
"""This module's commands, registered by :mod:`clients.cli.commands`."""
