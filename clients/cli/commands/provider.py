"""What a provider does to its items after submitting them, and the secretariat's one read.

``council scope``, ``council consent``, ``council withdraw``, ``council access-log``
and ``council break-glass``.
"""

from __future__ import annotations

from typing import Any

import click
from rich.table import Column

from clients.cli._command import EXIT_OK, Call, Choice, InputError, council_command
from clients.cli._names import Directory, short
from clients.cli._output import clean
from clients.cli._render import cell, counts, table, when
from clients.cli.commands.items import ATTRIBUTES, GROUPS, show_item
from clients.sdk import PendingConsent, Scope

__all__ = ["COMMANDS", "access_log", "break_glass", "consent", "scope", "withdraw"]

SCOPE_FLAGS = {
    "scope.groups": "--group",
    "scope.members": "--member",
    "scope.exclude_members": "--exclude-member",
    "scope.exclude_attributes": "--exclude-attribute",
    "scope": "--group/--member",
}


def _pending(pending: list[PendingConsent], names: Directory) -> list[str]:
    return [
        f"waiting for consent: item {clean(p.source_item_id)}"
        f" (provider {names.name(p.provider_id)})"
        for p in pending
    ]


@council_command("scope", flags=SCOPE_FLAGS)
@click.argument("item_id", metavar="ITEM")
@click.option("--group", multiple=True, type=Choice(GROUPS), help="a group to reach (repeat)")
@click.option("--member", multiple=True, metavar="ID", help="a member to reach (repeat)")
@click.option("--exclude-member", multiple=True, metavar="ID", help="a member to leave out")
@click.option(
    "--exclude-attribute", multiple=True, type=Choice(ATTRIBUTES), help="members to leave out"
)
async def scope(
    call: Call,
    *,
    item_id: str,
    group: tuple[str, ...],
    member: tuple[str, ...],
    exclude_member: tuple[str, ...],
    exclude_attribute: tuple[str, ...],
) -> int:
    """Give your item a new scope (a new, audited scope version).

    The new scope replaces the old one whole. Widening a derived item may wait
    for its sources' providers to consent (art. 17(3)).
    """
    if not (group or member):
        raise click.UsageError("give the new scope: --group or --member at least once")
    result = await call.client.change_scope(
        item_id,
        Scope(
            groups=list(group),
            members=list(member),
            exclude_members=list(exclude_member),
            exclude_attributes=list(exclude_attribute),
        ),
    )
    if call.json:
        call.out.json(result.model_dump(mode="json"))
        return EXIT_OK
    names = await Directory.load(call.client)
    call.out.line(f"{clean(result.id)}: scope version {result.version}")
    if result.recipients is not None:
        call.out.line(f"recipients: {result.recipients}")
    call.out.line(f"dropped: {counts(result.dropped)}")
    for line in _pending(result.pending_consents, names):
        call.out.line(line)
    return EXIT_OK


@council_command("consent", flags={"derived_item_id": "--derived"})
@click.argument("source_id", metavar="SOURCE", required=False)
@click.option("--derived", metavar="ITEM", help="the derived item that may reach its full scope")
async def consent(call: Call, *, source_id: str | None, derived: str | None) -> int:
    """Consent to an item derived from yours, or list what waits for your consent.

    With SOURCE and --derived ITEM, the derived item may reach its full scope
    (art. 17(3)); with neither, the requests waiting for your member.
    """
    if source_id is not None and derived is not None:
        answer = await call.client.consent(source_id, derived)
        if call.json:
            call.out.json(answer)
        else:
            call.out.line(f"consented: {clean(derived)} may reach its scope")
        return EXIT_OK
    if source_id is not None or derived is not None:
        raise click.UsageError("give both SOURCE and --derived ITEM, or neither to list requests")
    page = await call.client.consent_requests()
    if call.json:
        call.out.json(page.model_dump(mode="json"))
        return EXIT_OK
    if not page.items:
        call.out.line("no consent requests")
        return EXIT_OK
    names = await Directory.load(call.client)
    rows = table(
        Column("derived item", no_wrap=True),
        Column("asked by", overflow="fold"),
        Column("asked (UTC)", no_wrap=True),
        Column("your sources", overflow="fold"),
    )
    for request in page.items:
        rows.add_row(
            cell(request.derived_item_id),
            cell(names.name(request.requested_by)),
            cell(when(request.requested_at, zone=False)),
            cell(", ".join(request.source_item_ids)),
        )
    call.out.render(rows)
    call.out.line("consent: council consent SOURCE --derived ITEM")
    return EXIT_OK


def _withdraw_check(params: dict[str, Any]) -> None:
    if params.get("member") == bool(params.get("item_id")):
        raise click.UsageError(
            "give ITEM to withdraw an item, or --member for your member's notice of withdrawal"
        )
    if params.get("member") and not params.get("confirmed"):
        raise click.UsageError(
            "a member's withdrawal takes effect at once and cannot be undone: add --yes to confirm"
        )


@council_command("withdraw", check=_withdraw_check)
@click.argument("item_id", metavar="[ITEM]", required=False)
@click.option(
    "--member",
    is_flag=True,
    help="instead of an item: your member's notice of withdrawal (its admin; art. 7)",
)
@click.option(
    "--member-id", metavar="ID", help="with --member: your member's id (found if left out)"
)
@click.option("--reason", help="with --member: the reason given with the notice")
@click.option("--yes", "confirmed", is_flag=True, help="do not ask: this cannot be undone")
async def withdraw(
    call: Call,
    *,
    item_id: str | None,
    member: bool,
    member_id: str | None,
    reason: str | None,
    confirmed: bool,
) -> int:
    """Withdraw your item (its content is destroyed for everyone; its metadata
    and audit trail remain), or with --member give your member's notice of
    withdrawal: at once every token of your member stops working and it
    receives nothing more."""
    if member:
        return await _leave(call, member_id, reason)
    assert item_id is not None  # _withdraw_check
    if not confirmed and not click.confirm(
        f"destroy the content of {item_id} for every recipient?", err=True
    ):
        raise click.UsageError("not withdrawn (give --yes to withdraw without asking)")
    answer = await call.client.withdraw(item_id)
    if call.json:
        call.out.json(answer)
    else:
        call.out.line(f"withdrawn: {clean(item_id)} (its content is destroyed)")
    return EXIT_OK


async def _leave(call: Call, member_id: str | None, reason: str | None) -> int:
    if member_id is None:
        bodies = await call.client.list_members()
        own = [body for body in bodies.items if body.kind == "member"]
        if len(own) != 1:
            raise InputError("give --member-id: this token sees more than one body")
        member_id = own[0].id
    gone = await call.client.withdraw_member(member_id, reason=reason)
    if call.json:
        call.out.json(gone.model_dump(mode="json"))
    else:
        call.out.line(f"{clean(gone.name)} ({clean(gone.id)}) has withdrawn: {clean(gone.status)}")
    return EXIT_OK


@council_command("access-log")
@click.argument("item_id", metavar="ITEM")
@click.option("--limit", type=click.IntRange(min=1), default=50, help="events per page")
@click.option("--cursor", help="the next page, as printed after the table")
async def access_log(call: Call, *, item_id: str, limit: int, cursor: str | None) -> int:
    """Every access to your item: who opened it, when, allowed or denied."""
    page = await call.client.access_log(item_id, cursor=cursor, limit=limit)
    if call.json:
        call.out.json(page.model_dump(mode="json"))
        return EXIT_OK
    names = await Directory.load(call.client)
    rows = table(
        Column("at (UTC)", no_wrap=True),
        Column("member", overflow="fold"),
        Column("action", no_wrap=True),
        Column("outcome", no_wrap=True),
        Column("user", no_wrap=True),
    )
    for event in page.items:
        rows.add_row(
            cell(when(event.at, zone=False)),
            cell(names.name(event.actor_member_id)),
            cell(event.action),
            cell(event.outcome),
            cell(short(event.actor_user_id)),
        )
    call.out.render(rows)
    if page.next_cursor:
        call.out.line(
            f"more: council access-log {clean(item_id)} --cursor {clean(page.next_cursor)}"
        )
    return EXIT_OK


@council_command("break-glass", flags={"reason": "--reason"})
@click.argument("item_id", metavar="ITEM")
@click.option(
    "--reason",
    required=True,
    help="why the secretariat must read it (audited, shown to the provider; 10+ characters)",
)
async def break_glass(call: Call, *, item_id: str, reason: str) -> int:
    """The secretariat reads one item, with a written reason (article 14(3))."""
    item = await call.client.break_glass(item_id, reason)
    if call.json:
        call.out.json(item.model_dump(mode="json"))
    else:
        show_item(item, call.out, await Directory.load(call.client))
    return EXIT_OK


COMMANDS = (scope, consent, withdraw, access_log, break_glass)
"""This module's commands, registered by :mod:`clients.cli.commands`."""
