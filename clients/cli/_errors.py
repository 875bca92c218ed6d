"""What ``council`` prints, and which status it exits with, when a call fails.

One line says what went wrong; a second, ``fix: ...``, says what to do when the
broker (or the command) knows. Problems with the input are named by the
command's flags, not by the API's JSON fields.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from clients.cli._command import (
    EXIT_AUTH,
    EXIT_ERROR,
    EXIT_NOT_FOUND,
    EXIT_UNREACHABLE,
)
from clients.cli._output import Output, clean
from clients.sdk import (
    CouncilClient,
    CouncilError,
    Invalid,
    NotFound,
    Problem,
    TransportError,
    Unauthorized,
    UnexpectedResponse,
)

__all__ = ["flag_for", "pydantic_problems", "report"]

_GATEWAY = (502, 503, 504)


def flag_for(field: str, flags: Mapping[str, str]) -> str:
    """The command-line flag for the API's JSON ``field`` (``scope.groups`` -> ``--group``).

    ``flags`` maps fields (or their first parts) to flags; a field it does not
    name is shown as ``--field-name`` from its first part.
    """
    parts = field.split(".")
    for end in range(len(parts), 0, -1):
        flag = flags.get(".".join(parts[:end]))
        if flag is not None:
            return flag
    head = next((part for part in parts if not part.isdigit()), field)
    return "--" + head.replace("_", "-")


def pydantic_problems(error: ValidationError) -> list[Problem]:
    """Every problem the SDK's own models found in what was typed, by JSON field."""
    return [
        Problem(".".join(str(part) for part in entry["loc"]) or "body", entry["msg"])
        for entry in error.errors(include_url=False, include_input=False)
    ]


def show_problems(problems: list[Problem], flags: Mapping[str, str], out: Output) -> None:
    """``error: N problems:`` then one line per problem, named by its flag."""
    out.error("the input has a problem" if len(problems) == 1 else f"{len(problems)} problems:")
    for problem in problems:
        out.write_err(f"  {clean(flag_for(problem.field, flags))}: {clean(problem.message)}\n")


async def _is_a_broker(client: CouncilClient) -> bool:
    try:
        health = await client.health()
    except CouncilError:
        return False
    return health.get("status") == "ok"


async def report(
    error: CouncilError, client: CouncilClient, flags: Mapping[str, str], out: Output
) -> int:
    """Print ``error`` for a person and return the exit status it means."""
    url = client.base_url
    if isinstance(error, TransportError):
        out.error(error.message)
        if error.code == "untrusted":
            out.write_err("  fix: give the council's CA certificate with --ca FILE or COUNCIL_CA\n")
        return EXIT_UNREACHABLE
    if isinstance(error, UnexpectedResponse) or (error.status and not error.from_broker):
        if error.status in _GATEWAY:
            out.error(
                f"cannot reach the broker at {url}: the proxy in front of it answered "
                f"{error.status} {error.message}: is the broker running?"
            )
        else:
            what = (
                error.message
                if error.status < 300
                else f"HTTP {error.status} {error.message}, without the broker's error body"
            )
            out.error(f"{url} is not a council broker ({what}): check --url or COUNCIL_URL")
        return EXIT_UNREACHABLE
    if isinstance(error, NotFound) and not await _is_a_broker(client):
        # The broker answers an unknown path like an unknown id; its /healthz tells them apart.
        out.error(f"{url} is not a council broker (no /healthz there): check --url or COUNCIL_URL")
        return EXIT_UNREACHABLE
    if isinstance(error, Invalid) and error.problems:
        show_problems(list(error.problems), flags, out)
    elif isinstance(error, Invalid) and error.field:
        out.error(f"{error.message} ({flag_for(error.field, flags)})")
    elif isinstance(error, Unauthorized):
        out.error(f"the broker refused the token: {error.message}")
    else:
        out.error(error.message)
    if error.fix:
        out.write_err(f"  fix: {clean(error.fix)}\n")
    elif isinstance(error, Unauthorized):
        out.write_err(
            "  fix: set COUNCIL_TOKEN to a valid token; your member's administrator "
            "makes new ones (council users add)\n"
        )
    if isinstance(error, NotFound):
        return EXIT_NOT_FOUND
    if isinstance(error, Unauthorized):
        return EXIT_AUTH
    return EXIT_ERROR
