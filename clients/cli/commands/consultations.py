"""``council consult``: a private question to the coordinator and the tier-one group."""

from __future__ import annotations

import click
from rich.table import Column

from clients.cli._command import EXIT_OK, Call, CouncilGroup, council_command, exactly_one
from clients.cli._output import clean
from clients.cli._render import cell, read_text, table, when, yes

__all__ = ["COMMANDS", "consult", "consultations"]


def _consult_check(params: dict[str, object]) -> None:
    exactly_one(params, "body", "body_file")


@council_command("consult", check=_consult_check)
@click.option("--title", required=True, help="one line that says what it is about")
@click.option("--body", help="the question (or --body-file)")
@click.option("--body-file", metavar="FILE", help="read the question from FILE (- for stdin)")
@click.option("--reveal-identity", is_flag=True, help="let tier one know who is asking")
async def consult(
    call: Call, *, title: str, body: str | None, body_file: str | None, reveal_identity: bool
) -> int:
    """Ask the coordinator and tier one privately.

    Only the coordinator knows who asked, unless --reveal-identity (art. 16(3)).
    """
    text = body if body is not None else read_text(body_file or "-", "body file")
    consultation = await call.client.consult(title, text, reveal_identity=reveal_identity)
    out = call.out
    if call.json:
        out.json(consultation.model_dump(mode="json"))
        return EXIT_OK
    out.line(f"consultation: {clean(consultation.id)}")
    if reveal_identity:
        out.line("identity: revealed to the coordinator and the tier-one group")
    else:
        out.line("identity: known to the coordinator only")
    return EXIT_OK


@click.group("consultations", cls=CouncilGroup)
def consultations() -> None:
    """Private consultations: list, read, reply, reveal.

    Ask one with `council consult`.
    """


@council_command("list", group=consultations)
@click.option("--limit", type=click.IntRange(min=1), default=50, help="entries per page")
@click.option("--cursor", help="the next page, as printed after the table")
async def list_consultations(call: Call, *, limit: int, cursor: str | None) -> int:
    """The consultations you may see, newest first."""
    page = await call.client.list_consultations(cursor=cursor, limit=limit)
    if call.json:
        call.out.json(page.model_dump(mode="json"))
        return EXIT_OK
    if not page.items:
        call.out.line("no consultations")
        return EXIT_OK
    rows = table(
        Column("id", no_wrap=True),
        Column("asked (UTC)", no_wrap=True),
        Column("yours", no_wrap=True),
        Column("title", overflow="fold"),
    )
    for entry in page.items:
        rows.add_row(
            cell(entry.id),
            cell(when(entry.created_at, zone=False)),
            cell(yes(getattr(entry, "mine", None))),
            cell(entry.title),
        )
    call.out.render(rows)
    if page.next_cursor:
        call.out.line(f"more: council consultations list --cursor {clean(page.next_cursor)}")
    return EXIT_OK


@council_command("show", group=consultations)
@click.argument("consultation_id", metavar="ID")
async def show_consultation(call: Call, *, consultation_id: str) -> int:
    """A consultation and the replies you may see; who asked only if you may know."""
    found = await call.client.get_consultation(consultation_id)
    if call.json:
        call.out.json(found.model_dump(mode="json"))
        return EXIT_OK
    out = call.out
    out.line(clean(found.title or "-"))
    out.line(f"  id         {clean(found.id)}")
    out.line(f"  asked      {when(found.created_at)}")
    consulter = getattr(found, "consulter", None)
    if isinstance(consulter, dict) and consulter.get("name"):
        out.line(f"  asked by   {clean(consulter['name'])}")
    else:
        out.line("  asked by   (known to the coordinator only)")
    out.line()
    out.line(clean(found.body or ""))
    for reply in found.replies:
        out.line()
        author = reply.get("author") or reply.get("from") or reply.get("role") or "reply"
        out.line(f"-- {clean(author)}, {clean(reply.get('at') or reply.get('created_at') or '')}")
        out.line(clean(reply.get("body") or ""))
    return EXIT_OK


def _reply_check(params: dict[str, object]) -> None:
    exactly_one(params, "body", "body_file")


@council_command("reply", group=consultations, check=_reply_check, flags={"body": "--body"})
@click.argument("consultation_id", metavar="ID")
@click.option("--body", help="the reply (or --body-file)")
@click.option("--body-file", metavar="FILE", help="read the reply from FILE (- for stdin)")
async def reply(
    call: Call, *, consultation_id: str, body: str | None, body_file: str | None
) -> int:
    """Answer a consultation privately, or follow up on your own."""
    text = body if body is not None else read_text(body_file or "-", "body file")
    answer = await call.client.reply_consultation(consultation_id, text)
    if call.json:
        call.out.json(answer)
    else:
        call.out.line(f"replied to {clean(consultation_id)}")
    return EXIT_OK


@council_command("reveal", group=consultations)
@click.argument("consultation_id", metavar="ID")
async def reveal(call: Call, *, consultation_id: str) -> int:
    """Reveal to the tier-one group that your member asked (cannot be undone)."""
    answer = await call.client.reveal_consultation(consultation_id)
    if call.json:
        call.out.json(answer)
    else:
        call.out.line(f"revealed: tier one now sees who asked {clean(consultation_id)}")
    return EXIT_OK


COMMANDS = (consult, consultations)
"""This module's commands, registered by :mod:`clients.cli.commands`."""
