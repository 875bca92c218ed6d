"""``council tokens`` and ``council rotate-token``: users' token expiry, last use, rotation."""

from __future__ import annotations

import click
from rich.table import Column

from clients.cli._command import EXIT_OK, Call, council_command
from clients.cli._output import clean
from clients.cli._render import cell, table, when

__all__ = ["COMMANDS", "rotate_token", "tokens"]


@council_command("tokens")
@click.argument("member_id", metavar="MEMBER_ID")
async def tokens(call: Call, member_id: str) -> int:
    """Each user of a member with its token's expiry and last use (to a minute).

    For the member's administrators (and the coordinator).
    """
    page = await call.client.list_users(member_id)
    out = call.out
    if call.json:
        out.json([user.model_dump(mode="json") for user in page.items])
        return EXIT_OK
    rows = table(
        Column("user", no_wrap=True),
        Column("name", overflow="fold"),
        Column("role", no_wrap=True),
        Column("expires (UTC)", no_wrap=True),
        Column("last used (UTC)", no_wrap=True),
        Column("revoked", no_wrap=True),
    )
    for user in page.items:
        rows.add_row(
            cell(user.id),
            cell(user.name),
            cell(user.role),
            when(user.expires_at, zone=False) if user.expires_at else "never",
            when(user.last_used_at, zone=False) if user.last_used_at else "never",
            when(user.revoked_at, zone=False) if user.revoked_at else "",
        )
    out.render(rows)
    return EXIT_OK


@council_command("rotate-token")
@click.argument("member_id", metavar="MEMBER_ID")
@click.argument("user_id", metavar="USER_ID")
@click.option(
    "--expires-in",
    metavar="DURATION",
    help="the new token's lifetime from now, ISO 8601 (P90D, PT12H); default: keep the expiry",
)
async def rotate_token(call: Call, member_id: str, user_id: str, expires_in: str | None) -> int:
    """Give a user a new token; the old one stops working at once.

    For the member's administrators. The new token is printed once: hand it
    over now.
    """
    user, token = await call.client.rotate_token(member_id, user_id, expires_in=expires_in)
    out = call.out
    if call.json:
        out.json({"user": user.model_dump(mode="json"), "token": token})
        return EXIT_OK
    out.line(f"user: {clean(user.id)} ({clean(user.name)})")
    out.line(f"token (shown once): {clean(token)}")
    out.line("expires: " + (when(user.expires_at) if user.expires_at else "never"))
    out.line("the old token no longer works; the user's open streams were closed")
    return EXIT_OK


COMMANDS = (tokens, rotate_token)
"""This module's commands, registered by :mod:`clients.cli.commands`."""
