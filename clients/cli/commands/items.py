"""``council submit``, ``council inbox``, ``council show``: items, from a member's side."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.table import Column

from clients.cli._command import (
    EXIT_OK,
    Call,
    Choice,
    InputError,
    Tlp,
    council_command,
    exactly_one,
)
from clients.cli._names import Directory
from clients.cli._output import Output, clean
from clients.cli._render import MEDIUM, WIDE, cell, counts, read_text, table, when, yes
from clients.sdk import FeedbackRequest, Item, ItemDraft, Scope, SubmitResult

__all__ = [
    "ATTRIBUTES",
    "COMMANDS",
    "CONFIDENCES",
    "GROUPS",
    "KINDS",
    "SUBMIT_FLAGS",
    "UNREADABLE_SOURCE",
    "inbox",
    "show",
    "show_item",
    "submit",
]

KINDS = ("analysis", "countermeasure", "early_warning", "consultation", "notice")
CONFIDENCES = ("unconfirmed", "low", "high")
GROUPS = ("tier_one_group", "tier_two", "task_force", "all_members", "coordinator")
ATTRIBUTES = ("law_enforcement", "regulator", "foreign")

# The item body itself is an object (1) holding the bundle (2): the bundle may
# nest 62 more levels within the broker's default limit of 64.
_MAX_STIX_DEPTH = 62


def _nests_deeper_than(text: str, limit: int) -> bool:
    """Whether JSON `text` nests arrays and objects more than `limit` deep (no parsing)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _stix(path: str) -> dict[str, Any]:
    text = read_text(path, "STIX file")
    # The broker refuses bodies nested deeper than this (COUNCIL_MAX_JSON_DEPTH's
    # default); checked first because parsing a deeper file recurses until it crashes.
    if _nests_deeper_than(text, _MAX_STIX_DEPTH):
        raise InputError(
            f"STIX file {path} nests objects and arrays more than "
            f"{_MAX_STIX_DEPTH} levels deep; the broker refuses it"
        )
    try:
        stix = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"STIX file {path} is not JSON: {exc}") from exc
    if not isinstance(stix, dict):
        raise InputError(f"STIX file {path} must hold a JSON object (a bundle)")
    return stix


def _submit_check(params: dict[str, Any]) -> None:
    # charter art. 18(1),(2): secrecy is stated on every submission, never defaulted.
    exactly_one(params, "secret", "no_secret")
    if params.get("misp_event"):
        # The MISP event gives the title, TLP, kind and content the flags leave out.
        if params.get("body") is not None and params.get("body_file") is not None:
            raise click.UsageError("give only one of --body or --body-file")
        if params.get("stix_file"):
            raise click.UsageError("give --stix-file or --misp-event, not both")
        return
    missing = [f"--{name}" for name in ("kind", "title", "tlp") if not params.get(name)]
    if missing:
        raise click.UsageError(f"give {', '.join(missing)} (or --misp-event FILE)")
    exactly_one(params, "body", "body_file")


SUBMIT_FLAGS = {
    "kind": "--kind",
    "title": "--title",
    "body": "--body",
    "stix": "--stix-file",
    "tlp": "--tlp",
    "secret": "--secret/--no-secret",
    "confidence": "--confidence",
    "scope.groups": "--group",
    "scope.members": "--member",
    "scope.exclude_members": "--exclude-member",
    "scope.exclude_attributes": "--exclude-attribute",
    "scope": "--group/--member",
    "derived_from": "--derived-from",
    "feedback": "--due",
}
"""The item's JSON fields and the flags of `council submit` that fill them."""


@council_command("submit", check=_submit_check, flags=SUBMIT_FLAGS)
@click.option("--kind", type=Choice(KINDS), help="what the item is")
@click.option("--title", help="one line that says what it is about")
@click.option("--body", help="the text (or --body-file)")
@click.option("--body-file", metavar="FILE", help="read the text from FILE (- for stdin)")
@click.option("--stix-file", metavar="FILE", help="a STIX 2.1 bundle (JSON)")
@click.option("--tlp", type=Tlp(), help="TLP 2.0 label (any case)")
@click.option(
    "--misp-event",
    metavar="FILE",
    help="a MISP event's JSON: it gives what the other flags leave out (docs/misp.md)",
)
@click.option("--yes", "confirmed", is_flag=True, help="with --misp-event: send without asking")
@click.option(
    "--secret",
    is_flag=True,
    help="it holds information under the statutory duty of confidentiality (art. 18)",
)
@click.option("--no-secret", is_flag=True, help="it does not (one of the two is required)")
@click.option("--confidence", type=Choice(CONFIDENCES), help="how sure the provider is")
@click.option("--group", multiple=True, type=Choice(GROUPS), help="a group to reach (repeat)")
@click.option("--member", multiple=True, metavar="ID", help="a member to reach (repeat)")
@click.option("--exclude-member", multiple=True, metavar="ID", help="a member to leave out")
@click.option(
    "--exclude-attribute", multiple=True, type=Choice(ATTRIBUTES), help="members to leave out"
)
@click.option("--derived-from", multiple=True, metavar="ID", help="a source item (repeat)")
@click.option("--due", metavar="WHEN", help="answers due: ISO 8601 duration or time")
@click.option("--idempotency-key", metavar="KEY", help="makes a retry safe")
async def submit(
    call: Call,
    *,
    kind: str | None,
    title: str | None,
    body: str | None,
    body_file: str | None,
    stix_file: str | None,
    tlp: str | None,
    misp_event: str | None,
    confirmed: bool,
    secret: bool,
    no_secret: bool,
    confidence: str | None,
    group: tuple[str, ...],
    member: tuple[str, ...],
    exclude_member: tuple[str, ...],
    exclude_attribute: tuple[str, ...],
    derived_from: tuple[str, ...],
    due: str | None,
    idempotency_key: str | None,
) -> int:
    """Submit an item to the broker (or a MISP event with --misp-event FILE)."""
    scope: Scope | None = None
    if group or member or exclude_member or exclude_attribute:
        scope = Scope(
            groups=list(group),
            members=list(member),
            exclude_members=list(exclude_member),
            exclude_attributes=list(exclude_attribute),
        )
    if misp_event is not None:
        text = (
            body if body is not None else (read_text(body_file, "body file") if body_file else None)
        )
        fields: dict[str, Any] = {
            "kind": kind,
            "title": title,
            "body": text,
            "tlp": tlp,
            "secret": secret and not no_secret,
            "confidence": confidence,
            "scope": scope.model_dump(mode="json") if scope is not None else None,
            "derived_from": list(derived_from) or None,
            "feedback": {"due": due} if due else None,
        }
        return await _submit_misp(call, misp_event, fields, confirmed, idempotency_key)
    assert kind and title and tlp  # _submit_check
    text = body if body is not None else read_text(body_file or "-", "body file")
    stix = _stix(stix_file) if stix_file is not None else None
    draft = ItemDraft(
        kind=kind,
        title=title,
        body=text,
        stix=stix,
        tlp=tlp,
        secret=secret and not no_secret,
        confidence=confidence,
        scope=scope,
        derived_from=list(derived_from),
        feedback=FeedbackRequest(due=due) if due else None,
    )
    result = await call.client.submit(draft, idempotency_key=idempotency_key)
    return _submitted(call, result)


def _submitted(call: Call, result: SubmitResult) -> int:
    out = call.out
    if call.json:
        out.json(result.model_dump(mode="json"))
        return EXIT_OK
    out.line(f"id: {clean(result.id)}")
    out.line(f"version: {result.version}")
    out.line(f"recipients: {result.recipients}")
    out.line(f"dropped: {counts(result.dropped)}")
    for pending in result.pending_consents:
        out.line(
            f"waiting for consent: item {clean(pending.source_item_id)}"
            f" (provider {clean(pending.provider_id)})"
        )
    return EXIT_OK


def _misp_event(path: str) -> dict[str, Any]:
    text = read_text(path, "MISP event file")
    if _nests_deeper_than(text, _MAX_STIX_DEPTH):
        raise InputError(f"MISP event file {path} nests too deeply; the broker refuses it")
    try:
        event = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"MISP event file {path} is not JSON: {exc}") from exc
    if not isinstance(event, dict):
        raise InputError(f"MISP event file {path} must hold a JSON object (a MISP event)")
    return event


async def _submit_misp(
    call: Call,
    path: str,
    fields: dict[str, Any],
    confirmed: bool,
    idempotency_key: str | None,
) -> int:
    """Show what the MISP event would become, ask, then submit it (never silently wider)."""
    event = _misp_event(path)
    proposal = await call.client.misp_proposal(event)
    scope = fields["scope"] or proposal.get("scope") or {}
    reach = ", ".join(scope.get("groups", []) + scope.get("members", [])) or "-"
    for label, value in (
        ("title", fields["title"] or proposal.get("title")),
        ("TLP", fields["tlp"] or proposal.get("tlp") or "none: give --tlp or tag the event"),
        ("kind", fields["kind"] or proposal.get("kind") or "none: give --kind"),
        ("scope", reach + ("" if fields["scope"] else " (from the event's distribution)")),
        ("STIX objects", proposal.get("stix_objects")),
    ):
        click.echo(f"{label}: {clean(str(value))}", err=True)
    if not confirmed and not click.confirm("submit this item?", err=True):
        raise click.UsageError("not submitted (give --yes to submit without asking)")
    body = {name: value for name, value in fields.items() if value is not None}
    body["misp_event"] = event
    result = await call.client.submit(body, idempotency_key=idempotency_key)
    return _submitted(call, result)


@council_command("inbox")
@click.option("--limit", type=click.IntRange(min=1), default=50, help="entries per page")
@click.option("--oldest", is_flag=True, help="oldest first")
@click.option("--cursor", help="the next page, as printed after the table")
async def inbox(call: Call, *, limit: int, oldest: bool, cursor: str | None) -> int:
    """List what you may open."""
    page = await call.client.inbox(
        limit=limit, order="oldest" if oldest else "newest", cursor=cursor
    )
    out = call.out
    if call.json:
        out.json(page.model_dump(mode="json"))
        return EXIT_OK
    if not page.items:
        out.line("inbox is empty")
    else:
        names = await Directory.load(call.client)
        # Ids are what the reader types next (`council show ID`): never cut them short.
        # Narrow terminals drop the columns `council show` repeats anyway.
        columns = [
            Column("id", no_wrap=True, min_width=max(len(clean(e.id)) for e in page.items)),
            Column("created (UTC)", no_wrap=True),
            Column("TLP", no_wrap=True),
        ]
        # Who sent it matters more than what kind it is: the provider's name comes first.
        if out.width >= MEDIUM:
            columns.append(Column("provider", overflow="fold", max_width=24))
        if out.width >= WIDE:
            columns += [Column("kind", no_wrap=True), Column("confidence", no_wrap=True)]
        rows = table(*columns, Column("title", overflow="fold"))
        for entry in page.items:
            cells = [
                cell(entry.id),
                cell(when(entry.created_at, zone=False)),
                cell(f"{entry.tlp}\nsecret" if entry.secret else entry.tlp, lines=True),
            ]
            if out.width >= MEDIUM:
                cells.append(cell(names.name(entry.provider_id)))
            if out.width >= WIDE:
                cells += [cell(entry.kind), cell(entry.confidence)]
            rows.add_row(*cells, cell(entry.title))
        out.render(rows)
    if page.next_cursor:
        out.line(f"more: council inbox --cursor {clean(page.next_cursor)}")
    return EXIT_OK


UNREADABLE_SOURCE = "a source you cannot read"
"""How ``show`` names a source of a derived item that the reader may not open."""


def show_item(item: Item, out: Output, names: Directory) -> None:
    """Print ``item``: its facts (members by name and id), its handling, then its body."""
    out.line(clean(item.title) if item.title is not None else "(title withdrawn)")
    rows: list[tuple[str, str]] = [
        ("id", f"{clean(item.id)} (version {item.version})"),
        ("kind", clean(item.kind)),
        ("confidence", clean(item.confidence or "-")),
        ("TLP", clean(item.tlp)),
        ("secret", yes(item.secret)),
    ]
    if item.effective is not None and (
        item.effective.tlp != item.tlp or item.effective.secret != item.secret
    ):
        # art. 17(3): a derived item is bound by the strictest of its sources.
        rows.append(
            ("effective", f"TLP {clean(item.effective.tlp)}, secret {yes(item.effective.secret)}")
        )
    rows += [
        ("provider", names.named(item.provider_id)),
        ("status", clean(item.status or "-")),
        ("created", when(item.created_at)),
    ]
    if item.feedback_due is not None:
        rows.append(("feedback due", when(item.feedback_due)))
    if item.provenance:
        sources = ", ".join(
            f"{clean(p.id)} ({clean(p.kind or '?')}, TLP {clean(p.tlp or '?')}"
            f"{', from ' + names.name(p.provider_id) if p.provider_id else ''})"
            if p.visible
            else UNREADABLE_SOURCE
            for p in item.provenance
        )
        rows.append(("derived from", sources))
    elif item.derived_from:
        rows.append(("derived from", ", ".join(clean(i) for i in item.derived_from)))
    if item.victim is not None:
        name = clean(item.victim.name) if item.victim.name else "(masked)"
        rows.append(("victim", f"{name}, damage {yes(item.victim.damage)}"))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        out.line(f"  {label.ljust(width)}  {value}")
    if item.handling is not None:
        handling = item.handling
        out.line("handling:")
        out.line(f"  TLP {clean(handling.tlp)}; may re-share: {yes(handling.may_reshare)}")
        if handling.audience is not None:
            audience = handling.audience
            shown = (
                ", ".join(map(clean, audience)) if isinstance(audience, list) else clean(audience)
            )
            out.line(f"  audience: {shown}")
        for note in handling.notes:
            out.line(f"  - {clean(note)}")
    if item.stix is not None:
        objects = item.stix.get("objects")
        number = len(objects) if isinstance(objects, list) else 0
        out.line(f"STIX bundle: {number} object(s) (see --json)")
    out.line()
    out.line(clean(item.body) if item.body is not None else "(content withdrawn)")


@council_command("show")
@click.argument("item_id", metavar="ID")
async def show(call: Call, *, item_id: str) -> int:
    """Show one item with its handling."""
    item = await call.client.get_item(item_id)
    if call.json:
        call.out.json(item.model_dump(mode="json"))
    else:
        show_item(item, call.out, await Directory.load(call.client))
    return EXIT_OK


COMMANDS = (submit, inbox, show)
"""This module's commands, registered by :mod:`clients.cli.commands`."""
