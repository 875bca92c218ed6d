"""``council consult``: a private question to the coordinator and the tier-one group."""

from __future__ import annotations

import click

from clients.cli._command import EXIT_OK, Call, council_command, exactly_one
from clients.cli._output import clean
from clients.cli._render import read_text

__all__ = ["COMMANDS", "consult"]


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


COMMANDS = (consult,)
"""This module's commands, registered by :mod:`clients.cli.commands`."""
