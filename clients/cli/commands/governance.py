"""``council report``, ``reports``, ``resolutions``, ``resolution``,
``vote``, ``recuse``: the council's own decisions (charter art. 7, 10, 11, 29)."""

from __future__ import annotations

import click
from rich.table import Column

from clients.cli._command import (
    EXIT_OK,
    Call,
    Choice,
    council_command,
    exactly_one,
)
from clients.cli._output import clean
from clients.cli._render import cell, read_text, table, when
from clients.sdk import Report, Resolution

__all__ = [
    "COMMANDS",
    "REPORT_KINDS",
    "VOTES",
    "recuse",
    "report",
    "reports",
    "resolution",
    "resolutions",
    "vote",
]

REPORT_KINDS = ("leak", "scope_breach", "misuse", "other")
VOTES = ("yes", "no", "abstain")
RESOLUTION_STATUSES = ("open", "passed", "failed", "no_quorum", "refused")


def _report_check(params: dict[str, object]) -> None:
    exactly_one(params, "text", "text_file")


def _report_lines(found: Report) -> list[str]:
    lines = [
        f"report: {clean(found.id)}",
        f"kind: {clean(found.kind)}",
        f"status: {clean(found.status)}",
    ]
    if found.item_id:
        lines.append(f"item: {clean(found.item_id)}")
    if found.member_id:
        lines.append(f"member: {clean(found.member_id)}")
    if found.note:
        lines.append(f"note from the secretariat: {clean(found.note)}")
    return lines


@council_command("report", check=_report_check)
@click.argument("kind", metavar="KIND", type=Choice(REPORT_KINDS))
@click.option("--text", help="what you believe happened (or --text-file)")
@click.option("--text-file", metavar="FILE", help="read the text from FILE (- for stdin)")
@click.option("--item", "item_id", metavar="ID", help="the item concerned")
@click.option("--member", "member_id", metavar="ID", help="the member concerned")
async def report(
    call: Call,
    *,
    kind: str,
    text: str | None,
    text_file: str | None,
    item_id: str | None,
    member_id: str | None,
) -> int:
    """Tell the secretariat of a suspected leak, scope breach or misuse (art. 29).

    Only you and the secretariat see the report; the member it names never
    learns of it, nor who reported.
    """
    body = text if text is not None else read_text(text_file or "-", "text file")
    filed = await call.client.report(kind, body, item_id=item_id, member_id=member_id)
    if call.json:
        call.out.json(filed.model_dump(mode="json"))
        return EXIT_OK
    for line in _report_lines(filed):
        call.out.line(line)
    call.out.line("seen by: you and the secretariat only")
    return EXIT_OK


@council_command("reports")
@click.option("--limit", type=click.IntRange(min=1, max=500), help="at most this many")
async def reports(call: Call, *, limit: int | None) -> int:
    """Your reports and their status (the secretariat: every report)."""
    page = await call.client.reports(limit=limit)
    out = call.out
    if call.json:
        out.json(page.model_dump(mode="json"))
        return EXIT_OK
    if not page.items:
        out.line("no reports")
        return EXIT_OK
    rows = table(
        Column("report", no_wrap=True, min_width=max(len(clean(r.id)) for r in page.items)),
        Column("filed (UTC)", no_wrap=True),
        Column("kind"),
        Column("status"),
        Column("note", overflow="fold"),
    )
    for found in page.items:
        rows.add_row(
            cell(found.id),
            cell(when(found.created_at, zone=False)),
            cell(found.kind),
            cell(found.status),
            cell(found.note or ""),
        )
    out.render(rows)
    return EXIT_OK


def _tally(found: Resolution) -> str:
    votes = found.tally
    if not votes:
        return "-"
    cast = ", ".join(f"{name} {votes.get(name, 0)}" for name in ("yes", "no", "abstain"))
    seats = f"{votes.get('entitled', '-')} of {votes.get('seats', '-')} seats entitled"
    return f"{cast}; recused {votes.get('recused', 0)}; {seats}"


@council_command("resolutions")
@click.option("--status", type=Choice(RESOLUTION_STATUSES), help="only this status")
@click.option("--kind", metavar="KIND", help="only this kind (admission, restriction, ...)")
async def resolutions(call: Call, *, status: str | None, kind: str | None) -> int:
    """The resolutions you may see (committee, secretariat, coordinator; art. 27)."""
    page = await call.client.resolutions(status=status, kind=kind)
    out = call.out
    if call.json:
        out.json(page.model_dump(mode="json"))
        return EXIT_OK
    if not page.items:
        out.line("no resolutions")
        return EXIT_OK
    rows = table(
        Column("resolution", no_wrap=True, min_width=max(len(clean(r.id)) for r in page.items)),
        Column("kind"),
        Column("status"),
        Column("tally", overflow="fold"),
        Column("title", overflow="fold"),
    )
    for found in page.items:
        rows.add_row(
            cell(found.id),
            cell(found.kind),
            cell(found.status),
            cell(_tally(found)),
            cell(found.title),
        )
    out.render(rows)
    return EXIT_OK


def _print_resolution(call: Call, found: Resolution) -> None:
    out = call.out
    out.line(f"resolution: {clean(found.id)}")
    out.line(f"kind: {clean(found.kind)} ({clean(found.body or '-')})")
    out.line(f"title: {clean(found.title)}")
    if found.subject_member_id:
        out.line(f"about: {clean(found.subject_member_id)}")
    out.line(f"status: {clean(found.status)}")
    out.line(f"tally: {_tally(found)}")
    if found.decided_at is not None:
        out.line(f"decided: {when(found.decided_at)}")
    for ballot in found.votes or []:
        out.line(f"  {clean(str(ballot.get('user_id')))}: {clean(str(ballot.get('vote')))}")


@council_command("resolution")
@click.argument("resolution_id", metavar="ID")
async def resolution(call: Call, *, resolution_id: str) -> int:
    """One resolution with its tally (and, for the committee, its votes)."""
    found = await call.client.get_resolution(resolution_id)
    if call.json:
        call.out.json(found.model_dump(mode="json"))
    else:
        _print_resolution(call, found)
    return EXIT_OK


def _vote_check(params: dict[str, object]) -> None:
    exactly_one(params, "choice", "proxy_to")


@council_command("vote", check=_vote_check)
@click.argument("resolution_id", metavar="ID")
@click.argument("choice", metavar="[yes|no|abstain]", type=Choice(VOTES), required=False)
@click.option("--proxy-to", metavar="MEMBER", help="an assembly matter: give your proxy instead")
async def vote(call: Call, *, resolution_id: str, choice: str | None, proxy_to: str | None) -> int:
    """Vote on a resolution: a committee seat, or a member's admin in the assembly.

    An interested seat recuses itself instead (`council recuse`, art. 11(6)).
    """
    found = await call.client.vote(resolution_id, choice, proxy_to=proxy_to)
    if call.json:
        call.out.json(found.model_dump(mode="json"))
        return EXIT_OK
    given = f"proxy to {clean(proxy_to)}" if proxy_to else clean(choice or "")
    call.out.line(f"voted on {clean(resolution_id)}: {given}")
    call.out.line(f"status: {clean(found.status)}; tally: {_tally(found)}")
    return EXIT_OK


@council_command("recuse")
@click.argument("resolution_id", metavar="ID")
@click.option("--reason", required=True, help="your special interest in the matter")
async def recuse(call: Call, *, resolution_id: str, reason: str) -> int:
    """Declare a special interest: your seat has no vote on this matter (art. 11(6))."""
    found = await call.client.recuse(resolution_id, reason)
    if call.json:
        call.out.json(found.model_dump(mode="json"))
    else:
        call.out.line(f"recused from {clean(resolution_id)}; tally: {_tally(found)}")
    return EXIT_OK


COMMANDS = (report, reports, resolutions, resolution, vote, recuse)
"""This module's commands, registered by :mod:`clients.cli.commands`."""
