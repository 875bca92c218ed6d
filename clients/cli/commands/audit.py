"""``council audit search/export/verify/keys`` and ``council ledger``: the council's records."""

from __future__ import annotations

import json
from contextlib import aclosing
from pathlib import Path
from typing import Any, TextIO

import click
from rich.table import Column

from clients.cli._command import (
    EXIT_ERROR,
    EXIT_OK,
    Call,
    Choice,
    CouncilGroup,
    InputError,
    council_command,
)
from clients.cli._names import Directory, short
from clients.cli._output import clean
from clients.cli._render import cell, read_text, table, when, yes
from clients.sdk import public_keys, verify_audit_export

__all__ = ["COMMANDS", "audit", "ledger"]

OUTCOMES = ("allowed", "denied", "error")


@click.group("audit", cls=CouncilGroup)
def audit() -> None:
    """Search, export and verify the audit log.

    For the secretariat and the coordinator.
    """


@council_command("search", group=audit)
@click.option("--item", metavar="ITEM", help="events about this item")
@click.option("--member", metavar="MEMBER", help="events by or about this member (id or name)")
@click.option("--user", metavar="USER", help="events by this user id")
@click.option("--action", metavar="ACTION", help="e.g. item.read, member.update")
@click.option("--outcome", type=Choice(OUTCOMES), help="how it ended")
@click.option("--since", metavar="WHEN", help="RFC 3339 time")
@click.option("--until", metavar="WHEN", help="RFC 3339 time")
@click.option("--limit", type=click.IntRange(min=1), default=50, help="events per page")
@click.option("--cursor", help="the next page, as printed after the table")
async def search(call: Call, *, member: str | None, **filters: Any) -> int:
    """Events matching every filter given, oldest first."""
    names = await Directory.load(call.client)
    page = await call.client.audit(
        member=names.resolve(member) if member is not None else None, **filters
    )
    if call.json:
        call.out.json(page.model_dump(mode="json"))
        return EXIT_OK
    if not page.items:
        call.out.line("no events")
        return EXIT_OK
    rows = table(
        Column("seq", no_wrap=True, justify="right"),
        Column("at (UTC)", no_wrap=True),
        Column("member", overflow="fold"),
        Column("action", overflow="fold"),
        Column("outcome", no_wrap=True),
        Column("item", no_wrap=True),
    )
    for event in page.items:
        rows.add_row(
            cell(event.seq),
            cell(when(event.at, zone=False)),
            cell(names.name(event.actor_member_id)),
            cell(event.action),
            cell(event.outcome),
            cell(short(event.item_id)),
        )
    call.out.render(rows)
    if page.next_cursor:
        call.out.line(f"more: council audit search --cursor {clean(page.next_cursor)} ...")
    return EXIT_OK


@council_command("export", group=audit)
@click.option(
    "--output", "-o", metavar="FILE", help="write the JSON Lines here  [default: standard output]"
)
async def export(call: Call, *, output: str | None) -> int:
    """The whole log as JSON Lines (keys line, checkpoints, events), streamed."""
    target: TextIO | None = None
    if output is not None:
        try:
            # A local file, written line by line as the export streams in.
            target = Path(output).open("w", encoding="utf-8")  # noqa: ASYNC230
        except OSError as exc:
            raise InputError(f"cannot write {output}: {exc.strerror}") from exc
    lines = 0
    try:
        async with aclosing(call.client.audit_export()) as records:
            async for record in records:
                line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
                if target is None:
                    call.out.write(line)
                else:
                    target.write(line)
                lines += 1
    finally:
        if target is not None:
            target.close()
    if output is not None and not call.json:
        call.out.line(f"wrote {lines} lines to {clean(output)}")
    return EXIT_OK


def _records(text: str, where: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise InputError(f"{where} line {number} is not JSON: {exc}") from exc
        if not isinstance(record, dict):
            raise InputError(f"{where} line {number} is not a JSON object")
        records.append(record)
    return records


@council_command("verify", group=audit)
@click.option(
    "--export",
    "export_file",
    metavar="FILE",
    help="an export to check  [default: the broker's log, exported now]",
)
@click.option(
    "--public-key",
    metavar="KEYS",
    help="the saved `council audit keys` document  [default: the broker's, fetched now]",
)
async def verify(call: Call, *, export_file: str | None, public_key: str | None) -> int:
    """Check the hash chain and the signed checkpoints; name the first bad event.

    Exits 1 when the log fails verification. Keys fetched from the broker
    itself prove less than keys saved earlier: pin them with --public-key.
    """
    if public_key is not None:
        try:
            document = json.loads(read_text(public_key, "keys file"))
            keys = public_keys(document if isinstance(document, dict) else {})
        except ValueError as exc:
            raise InputError(f"keys file {public_key}: {exc}") from exc
    else:
        keys = public_keys(await call.client.audit_keys())
    if export_file is not None:
        records = _records(read_text(export_file, "export"), export_file)
    else:
        async with aclosing(call.client.audit_export()) as stream:
            records = [record async for record in stream]
    result = verify_audit_export(records, keys)
    if call.json:
        call.out.json(
            {
                "ok": result.ok,
                "events": result.events,
                "head": result.head,
                "checkpoints": result.checkpoints,
                "covered": result.covered,
                "problem": result.problem,
                "seq": result.problem_seq,
            }
        )
    elif result.ok:
        call.out.line(
            f"audit log verified: {result.events} events, head {result.head[:16]}…, "
            f"{result.checkpoints} signed checkpoint(s), the newest covering {result.covered}"
        )
        if result.covered < result.events:
            call.out.line(
                f"  {result.events - result.covered} newer event(s) are chained but not yet "
                "under a signed checkpoint"
            )
    else:
        call.out.error(f"audit log fails verification: {result.problem}")
    if public_key is None and not call.json:
        call.out.warning("checked with the broker's own keys: pin them with --public-key KEYS")
    return EXIT_OK if result.ok else EXIT_ERROR


@council_command("keys", group=audit)
async def keys(call: Call) -> int:
    """The checkpoint public keys as JSON: save them for `council audit verify --public-key`."""
    call.out.json(await call.client.audit_keys())
    return EXIT_OK


@council_command("ledger")
@click.option(
    "--period",
    metavar="PERIOD",
    help="2026-W47, 2026-11, 2026-11-22 or current-week  [default: the broker's current period]",
)
async def ledger(call: Call, *, period: str | None) -> int:
    """The contribution ledger: who gave and answered what, and who is flagged."""
    data = await call.client.ledger(period)
    if call.json:
        call.out.json(data)
        return EXIT_OK
    shown = data.get("period")
    name = shown.get("name") if isinstance(shown, dict) else shown
    call.out.line(f"period: {clean(name or period or 'current')}")
    rows = table(
        Column("member", overflow="fold"),
        Column("tier", no_wrap=True),
        Column("given", justify="right", no_wrap=True),
        Column("answers", justify="right", no_wrap=True),
        Column("late", justify="right", no_wrap=True),
        Column("missing", justify="right", no_wrap=True),
        Column("flagged", overflow="fold"),
    )
    entries = data.get("items")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        reasons = entry.get("reasons") or []
        flagged = yes(bool(entry.get("flagged")))
        if reasons:
            flagged += ": " + ", ".join(map(str, reasons))
        rows.add_row(
            cell(entry.get("name") or short(str(entry.get("member_id")))),
            cell(entry.get("tier")),
            cell(entry.get("original_submissions", 0)),
            cell(entry.get("answers_on_time", 0)),
            cell(entry.get("answers_late", 0)),
            cell(entry.get("answers_missing", 0)),
            cell(flagged),
        )
    call.out.render(rows)
    return EXIT_OK


COMMANDS = (audit, ledger)
"""This module's commands, registered by :mod:`clients.cli.commands`."""
