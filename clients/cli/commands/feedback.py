"""``council obligations``, ``council answer``, ``council feedback``: the task force's answers."""

from __future__ import annotations

import click
from rich.table import Column

from clients.cli._command import EXIT_OK, Call, Choice, council_command
from clients.cli._output import clean
from clients.cli._render import cell, show_value, table, when, yes

__all__ = ["COMMANDS", "VERDICTS", "answer", "feedback", "obligations"]

VERDICTS = ("came", "not_came", "unknown", "confirm", "refute", "additional_info")


@council_command("obligations")
async def obligations(call: Call) -> int:
    """What your member owes, with due times."""
    owed = await call.client.obligations()
    out = call.out
    if call.json:
        out.json([entry.model_dump(mode="json") for entry in owed])
        return EXIT_OK
    if not owed:
        out.line("nothing owed")
        return EXIT_OK
    rows = table(
        Column("item", no_wrap=True, min_width=max(len(clean(e.item_id)) for e in owed)),
        Column("due (UTC)", no_wrap=True),
        Column("kind"),
        Column("status"),
        Column("title", overflow="fold"),
    )
    for entry in owed:
        rows.add_row(
            cell(entry.item_id),
            cell(when(entry.due, zone=False)),
            cell(entry.kind),
            cell(entry.status),
            cell(entry.title),
        )
    out.render(rows)
    return EXIT_OK


@council_command("answer")
@click.argument("item_id", metavar="ID")
@click.argument("verdict", metavar="VERDICT", type=Choice(VERDICTS))
@click.option("--comment", help="what you saw, for the provider")
async def answer(call: Call, *, item_id: str, verdict: str, comment: str | None) -> int:
    """Answer an item you owe feedback on.

    Tier two answers came, not_came or unknown; tier one confirm, refute or
    additional_info.
    """
    recorded = await call.client.answer(item_id, verdict, comment)
    if call.json:
        call.out.json(recorded)
    else:
        call.out.line(f"answered {clean(item_id)}: {verdict}")
    return EXIT_OK


@council_command("feedback")
@click.argument("item_id", metavar="ID")
async def feedback(call: Call, *, item_id: str) -> int:
    """The answers to an item."""
    answers = await call.client.feedback(item_id)
    if call.json:
        call.out.json(answers)
        return EXIT_OK
    individual = answers.get("answers")
    rest = {key: value for key, value in answers.items() if key != "answers"}
    show_value(rest, call.out)
    if isinstance(individual, list) and individual:
        # Names first, a column per fact a reader weighs; ids and the rest are in --json.
        call.out.line("answers:")
        rows = table(
            Column("member", overflow="fold"),
            Column("verdict", no_wrap=True),
            Column("answered (UTC)", no_wrap=True),
            Column("late", no_wrap=True),
            Column("comment", overflow="fold"),
        )
        for entry in individual:
            if not isinstance(entry, dict):
                continue
            answered = entry.get("answered_at")
            rows.add_row(
                cell(entry.get("member_name") or entry.get("member_id")),
                cell(entry.get("verdict") or ("overdue" if entry.get("overdue") else "-")),
                cell(str(answered)[:16].replace("T", " ") if answered else "-"),
                cell(yes(entry.get("late"))),
                cell(entry.get("comment")),
            )
        call.out.render(rows)
    return EXIT_OK


COMMANDS = (obligations, answer, feedback)
"""This module's commands, registered by :mod:`clients.cli.commands`."""
