"""``council members``, ``users``, ``handlers``, ``webhooks``: who belongs to the council.

Members and users are named by id or by name (``council users add "Vendor A"
alice``); tables show names first and ids shortened, ``show`` and ``--json``
the full ids.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from rich.table import Column

from clients.cli._command import EXIT_OK, Call, Choice, CouncilGroup, council_command
from clients.cli._names import MEMBER, member_id, short, user_id
from clients.cli._output import Output, clean
from clients.cli._render import cell, table, when, yes
from clients.sdk import CouncilError, Member

__all__ = ["CATEGORIES", "COMMANDS", "ROLES", "TIERS", "handlers", "members", "users", "webhooks"]

CATEGORIES = (
    "government",
    "local_government",
    "critical_infrastructure",
    "cyber_business",
    "academia",
    "other",
)
TIERS = ("none", "tier_one", "tier_two")
ROLES = ("member_user", "member_admin", "committee")
STATUSES = ("active", "restricted", "withdrawn", "expelled")
# The member's yes/no attributes (SPEC §1), as the API names them.
FLAGS = (
    "regulator",
    "law_enforcement",
    "foreign",
    "mutual_aid",
    "listed",
    "refuses_secrets",
    "early_warning",
)
MEMBER_FLAGS = {
    name: "--" + name.replace("_", "-") for name in ("name", "category", "tier", *FLAGS)
}


@click.group("members", cls=CouncilGroup)
def members() -> None:
    """Admit, list, show and change members.

    The coordinator admits and changes members; a member's admin changes its own
    listing and what it receives.
    """


def _show_member(member: Member, out: Output) -> None:
    out.line(clean(member.name))
    rows = [
        ("id", clean(member.id)),
        ("kind", clean(member.kind)),
        ("category", clean(member.category)),
        ("tier", clean(member.tier)),
        ("status", clean(member.status)),
        *((name.replace("_", " "), yes(getattr(member, name))) for name in FLAGS),
        ("admitted", when(member.created_at)),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        out.line(f"  {label.ljust(width)}  {value}")


@council_command("add", group=members, flags=MEMBER_FLAGS)
@click.argument("name")
@click.option("--category", required=True, type=Choice(CATEGORIES), help="what kind of body")
@click.option("--tier", type=Choice(TIERS), default="none", help="task-force tier")
@click.option("--regulator", is_flag=True, help="a regulator (providers may exclude it)")
@click.option("--law-enforcement", is_flag=True, help="law enforcement (may be excluded)")
@click.option("--foreign", is_flag=True, help="a foreign body (may be excluded)")
@click.option("--mutual-aid", is_flag=True, help="takes part in mutual aid")
@click.option("--listed", is_flag=True, help="on the public roster (art. 25)")
@click.option("--refuses-secrets", is_flag=True, help="receives no secret items")
@click.option("--no-early-warning", is_flag=True, help="receives no early warnings")
async def add_member(
    call: Call, *, name: str, category: str, tier: str, no_early_warning: bool, **flags: bool
) -> int:
    """Admit a member (the coordinator)."""
    member = await call.client.create_member(
        name=name, category=category, tier=tier, early_warning=not no_early_warning, **flags
    )
    if call.json:
        call.out.json(member.model_dump(mode="json"))
        return EXIT_OK
    call.out.line(f"admitted {clean(member.name)}: {clean(member.id)}")
    call.out.line(f'next: council users add {clean(member.id)} "NAME" --role member_admin')
    return EXIT_OK


@council_command("list", group=members)
async def list_members(call: Call) -> int:
    """Every body you may see: all of them for the coordinator and the secretariat."""
    found: list[Member] = []
    cursor: str | None = None
    while True:
        page = await call.client.list_members(cursor=cursor, limit=200)
        found += page.items
        if page.next_cursor is None or page.next_cursor == cursor:
            break
        cursor = page.next_cursor
    if call.json:
        call.out.json([m.model_dump(mode="json") for m in found])
        return EXIT_OK
    rows = table(
        Column("name", overflow="fold"),
        Column("kind", no_wrap=True),
        Column("tier", no_wrap=True),
        Column("status", no_wrap=True),
        Column("id", no_wrap=True),
    )
    for member in found:
        rows.add_row(
            cell(member.name),
            cell(member.kind),
            cell(member.tier),
            cell(member.status),
            cell(short(member.id)),
        )
    call.out.render(rows)
    return EXIT_OK


@council_command("show", group=members)
@MEMBER
async def show_member(call: Call, *, member: str) -> int:
    """One member, with every attribute and its full id."""
    found = await call.client.get_member(await member_id(call.client, member))
    if call.json:
        call.out.json(found.model_dump(mode="json"))
    else:
        _show_member(found, call.out)
    return EXIT_OK


def _flag_option(name: str, help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    dashed = name.replace("_", "-")
    return click.option(f"--{dashed}/--no-{dashed}", name, default=None, help=help_text)


@council_command("set", group=members, flags=MEMBER_FLAGS)
@MEMBER
@click.option("--name", "new_name", help="a new name")
@click.option("--category", type=Choice(CATEGORIES), help="what kind of body")
@click.option("--tier", type=Choice(TIERS), help="task-force tier")
@click.option("--status", type=Choice(STATUSES), help="restrict, withdraw, expel or restore")
@_flag_option("regulator", "a regulator")
@_flag_option("law_enforcement", "law enforcement")
@_flag_option("foreign", "a foreign body")
@_flag_option("mutual_aid", "takes part in mutual aid")
@_flag_option("listed", "on the public roster (a member's admin may change it)")
@_flag_option("refuses_secrets", "receives no secret items (a member's admin may change it)")
@_flag_option("early_warning", "receives early warnings (a member's admin may change it)")
async def set_member(
    call: Call,
    *,
    member: str,
    new_name: str | None,
    category: str | None,
    tier: str | None,
    status: str | None,
    **flags: bool | None,
) -> int:
    """Change a member: the coordinator anything, the member's admin its own three choices."""
    fields: dict[str, Any] = {
        key: value
        for key, value in {
            "name": new_name,
            "category": category,
            "tier": tier,
            "status": status,
            **flags,
        }.items()
        if value is not None
    }
    if not fields:
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    changed = await call.client.update_member(await member_id(call.client, member), **fields)
    if call.json:
        call.out.json(changed.model_dump(mode="json"))
    else:
        _show_member(changed, call.out)
    return EXIT_OK


@council_command("roster", group=members)
async def roster(call: Call) -> int:
    """The public roster: listed and active members (charter article 25)."""
    page = await call.client.roster()
    if call.json:
        call.out.json(page.model_dump(mode="json"))
        return EXIT_OK
    rows = table(Column("name", overflow="fold"), Column("category"), Column("id", no_wrap=True))
    for entry in page.items:
        rows.add_row(cell(entry.name), cell(entry.category), cell(short(entry.id)))
    call.out.render(rows)
    return EXIT_OK


# -- users -------------------------------------------------------------------------


@click.group("users", cls=CouncilGroup)
def users() -> None:
    """A member's users and their tokens.

    The member's admins manage them; the coordinator creates the first admin.
    """


@council_command("add", group=users, flags={"name": "NAME", "role": "--role"})
@MEMBER
@click.argument("name")
@click.option("--role", type=Choice(ROLES), default="member_user", help="what the user may do")
@click.option(
    "--expires-in",
    metavar="DURATION",
    help="the token's lifetime, ISO 8601 (P90D, PT12H)  [default: until revoked]",
)
async def add_user(call: Call, *, member: str, name: str, role: str, expires_in: str | None) -> int:
    """Create a user; its token is printed once, here, and never again."""
    user, token = await call.client.create_user(
        await member_id(call.client, member), name, role, expires_in=expires_in
    )
    if call.json:
        # The new user's token is the point of this answer (only the caller's own is redacted).
        call.out.json({"user": user.model_dump(mode="json"), "token": token})
        return EXIT_OK
    call.out.line(f"user {clean(user.name)} ({clean(user.role)}): {clean(user.id)}")
    call.out.line(f"token: {clean(token)}")
    call.out.warning("the token is shown only now: hand it to the user over a safe channel")
    return EXIT_OK


@council_command("list", group=users)
@MEMBER
async def list_users(call: Call, *, member: str) -> int:
    """The member's users, revoked ones included, with each token's expiry and last
    use (to within a minute)."""
    page = await call.client.list_users(await member_id(call.client, member), limit=200)
    if call.json:
        call.out.json(page.model_dump(mode="json"))
        return EXIT_OK
    rows = table(
        Column("name", overflow="fold"),
        Column("role", no_wrap=True),
        Column("expires (UTC)", no_wrap=True),
        Column("last used (UTC)", no_wrap=True),
        Column("revoked", no_wrap=True),
        Column("id", no_wrap=True),
    )
    for user in page.items:
        rows.add_row(
            cell(user.name),
            cell(user.role),
            cell(when(user.expires_at, zone=False) if user.expires_at else "never"),
            cell(when(user.last_used_at, zone=False) if user.last_used_at else "never"),
            cell(when(user.revoked_at, zone=False) if user.revoked_at else "-"),
            cell(short(user.id)),
        )
    call.out.render(rows)
    return EXIT_OK


@council_command("rotate", group=users)
@MEMBER
@click.argument("user", metavar="USER")
@click.option(
    "--expires-in",
    metavar="DURATION",
    help="the new token's lifetime from now, ISO 8601 (P90D)  [default: keep the expiry]",
)
async def rotate_user_token(call: Call, *, member: str, user: str, expires_in: str | None) -> int:
    """Give a user a new token; the old one stops working at once (no grace period)
    and the user's open streams close. The new token is printed once."""
    mid = await member_id(call.client, member)
    rotated, token = await call.client.rotate_token(
        mid, await user_id(call.client, mid, user), expires_in=expires_in
    )
    if call.json:
        call.out.json({"user": rotated.model_dump(mode="json"), "token": token})
        return EXIT_OK
    call.out.line(f"user {clean(rotated.name)}: {clean(rotated.id)}")
    call.out.line(f"token: {clean(token)}")
    call.out.line("expires: " + (when(rotated.expires_at) if rotated.expires_at else "never"))
    call.out.warning("the old token no longer works; hand the new one over a safe channel")
    return EXIT_OK


@council_command("revoke", group=users)
@MEMBER
@click.argument("user", metavar="USER")
async def revoke_user(call: Call, *, member: str, user: str) -> int:
    """Revoke a user's token at once (its open streams close too)."""
    mid = await member_id(call.client, member)
    revoked = await call.client.revoke_user(mid, await user_id(call.client, mid, user))
    if call.json:
        call.out.json(revoked.model_dump(mode="json"))
    else:
        call.out.line(f"revoked {clean(revoked.name)} ({clean(revoked.id)})")
    return EXIT_OK


# -- handlers ----------------------------------------------------------------------


@click.group("handlers", cls=CouncilGroup)
def handlers() -> None:
    """Handlers of secret information: only they read secret items.

    Charter article 6; the member's admins register them.
    """


@council_command(
    "add", group=handlers, flags={"user_id": "USER", "effective_from": "--effective-from"}
)
@MEMBER
@click.argument("user", metavar="USER")
@click.option(
    "--effective-from",
    metavar="WHEN",
    help="RFC 3339 time the registration starts (notified in advance, art. 6(8))  [default: now]",
)
async def add_handler(call: Call, *, member: str, user: str, effective_from: str | None) -> int:
    """Register a user as a handler of the member's secret information."""
    mid = await member_id(call.client, member)
    registration = await call.client.add_handler(
        mid, await user_id(call.client, mid, user), effective_from
    )
    if call.json:
        call.out.json(registration.model_dump(mode="json"))
    else:
        call.out.line(
            f"handler {clean(registration.user_id)} from {when(registration.effective_from)}"
        )
    return EXIT_OK


@council_command("remove", group=handlers)
@MEMBER
@click.argument("user", metavar="USER")
async def remove_handler(call: Call, *, member: str, user: str) -> int:
    """End a handler registration now."""
    mid = await member_id(call.client, member)
    uid = await user_id(call.client, mid, user)
    ended = await call.client.remove_handler(mid, uid)
    if call.json:
        call.out.json(ended.model_dump(mode="json") if ended is not None else {"user_id": uid})
    else:
        call.out.line(f"handler {clean(uid)} removed")
    return EXIT_OK


@council_command("list", group=handlers)
@MEMBER
async def list_handlers(call: Call, *, member: str) -> int:
    """The member's handler registrations with their effective times."""
    mid = await member_id(call.client, member)
    page = await call.client.list_handlers(mid)
    if call.json:
        call.out.json(page.model_dump(mode="json"))
        return EXIT_OK
    try:
        names = {u.id: u.name for u in (await call.client.list_users(mid, limit=200)).items}
    except CouncilError:
        names = {}  # who may not list the users still sees the ids
    rows = table(
        Column("user", overflow="fold"),
        Column("from (UTC)", no_wrap=True),
        Column("until (UTC)", no_wrap=True),
        Column("user id", no_wrap=True),
    )
    for registration in page.items:
        rows.add_row(
            cell(names.get(registration.user_id, short(registration.user_id))),
            cell(when(registration.effective_from, zone=False)),
            cell(when(registration.effective_until, zone=False)),
            cell(short(registration.user_id)),
        )
    call.out.render(rows)
    return EXIT_OK


# -- webhooks ----------------------------------------------------------------------


@click.group("webhooks", cls=CouncilGroup)
def webhooks() -> None:
    """The member's webhooks: signed POSTs of each event it may see (its admins)."""


@council_command("add", group=webhooks, flags={"url": "TARGET"})
@MEMBER
@click.argument("target", metavar="TARGET")
async def add_webhook(call: Call, *, member: str, target: str) -> int:
    """Register a webhook posting to the TARGET URL; its signing secret is printed once, here."""
    hook = await call.client.add_webhook(await member_id(call.client, member), target)
    secret = hook.secret or ""
    if call.json:
        call.out.json(hook.model_dump(mode="json"))
        return EXIT_OK
    call.out.line(f"webhook {clean(hook.id)} for {clean(hook.url)}")
    if secret:
        call.out.line(f"secret: {clean(secret)}")
        call.out.warning("the secret is shown only now: store it where the receiver checks it")
    return EXIT_OK


@council_command("list", group=webhooks)
@MEMBER
async def list_webhooks(call: Call, *, member: str) -> int:
    """The member's webhooks with failures and dead letters."""
    page = await call.client.list_webhooks(await member_id(call.client, member))
    if call.json:
        call.out.json(page.model_dump(mode="json"))
        return EXIT_OK
    rows = table(
        Column("url", overflow="fold"),
        Column("active", no_wrap=True),
        Column("failing", no_wrap=True),
        Column("dead", no_wrap=True),
        Column("id", no_wrap=True),
    )
    for hook in page.items:
        rows.add_row(
            cell(hook.url),
            cell(yes(hook.active)),
            cell(hook.failing_attempts),
            cell(len(hook.dead_letters)),
            cell(short(hook.id)),
        )
    call.out.render(rows)
    return EXIT_OK


@council_command("remove", group=webhooks)
@MEMBER
@click.argument("webhook", metavar="WEBHOOK")
async def remove_webhook(call: Call, *, member: str, webhook: str) -> int:
    """Stop a webhook."""
    answer = await call.client.remove_webhook(await member_id(call.client, member), webhook)
    if call.json:
        call.out.json(answer)
    else:
        call.out.line(f"webhook {clean(webhook)} stopped")
    return EXIT_OK


COMMANDS = (members, users, handlers, webhooks)
"""This module's command groups, registered by :mod:`clients.cli.commands`."""
