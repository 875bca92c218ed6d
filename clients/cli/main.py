"""The ``council`` command: submit, read the inbox, show items, answer obligations, consult.

Exit codes: 0 success, 1 the broker refused or could not be reached, 2 usage or
configuration error, 3 not found (which includes "you may not see it").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from pydantic import ValidationError
from rich import box
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from clients.cli._config import ConfigError, resolve_connection
from clients.cli._output import Output, clean
from clients.cli.demo import play
from clients.sdk import (
    CouncilClient,
    CouncilError,
    FeedbackRequest,
    Invalid,
    Item,
    ItemDraft,
    NotFound,
    Scope,
)

__all__ = [
    "EXIT_ERROR",
    "EXIT_NOT_FOUND",
    "EXIT_USAGE",
    "ClientFactory",
    "build_parser",
    "main",
    "run",
]

ClientFactory = Callable[[str, str], CouncilClient]
"""Builds the client from the resolved broker URL and token (the seam tests replace)."""

EXIT_ERROR = 1
"""The broker refused the request, or could not be reached."""
EXIT_USAGE = 2
"""The command line or the configuration is wrong."""
EXIT_NOT_FOUND = 3
"""The broker says the thing does not exist for this caller."""

KINDS = ("analysis", "countermeasure", "early_warning", "consultation", "notice")
TLP_LEVELS = ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED")
CONFIDENCES = ("unconfirmed", "low", "high")
GROUPS = ("tier_one_group", "tier_two", "task_force", "all_members", "coordinator")
ATTRIBUTES = ("law_enforcement", "regulator", "foreign")
VERDICTS = ("came", "not_came", "unknown", "confirm", "refute", "additional_info")

# Terminal widths (columns) from which the inbox adds its optional columns.
_MEDIUM = 100
_WIDE = 130

Command = Callable[[argparse.Namespace, CouncilClient, Output], Awaitable[int]]


class _Exit(Exception):
    """argparse wants to stop (help shown, or a usage error) with this status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that prints through :class:`Output` and returns instead of exiting."""

    def __init__(self, *args: Any, out: Output, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # "--tok X" must not silently mean --token
        super().__init__(*args, **kwargs)
        self.out = out

    def print_help(self, file: Any = None) -> None:
        self.out.write(self.format_help())

    def print_usage(self, file: Any = None) -> None:
        self.out.write_err(self.format_usage())

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self.out.write_err(message)
        raise _Exit(status)

    def error(self, message: str) -> NoReturn:
        self.print_usage()
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


class _UsageError(Exception):
    """A problem with what the person typed that argparse could not see (an unreadable file)."""


# -- rendering helpers ---------------------------------------------------------------


def _when(value: datetime | None, *, zone: bool = True) -> str:
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M" + (" UTC" if zone else ""))


def _table(*columns: Column) -> Table:
    # Borderless: tables end up in pipes, mails and tickets as often as on screens.
    return Table(*columns, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)


def _cell(value: object, *, lines: bool = False) -> Text:
    if value is None:
        return Text("-")
    text = clean(value)
    return Text(text if lines else text.replace("\n", " "))


def _yes(flag: bool | None) -> str:
    return "-" if flag is None else ("yes" if flag else "no")


def _counts(counts: Mapping[str, int]) -> str:
    if not counts:
        return "none"
    return ", ".join(f"{clean(reason)} {number}" for reason, number in sorted(counts.items()))


def _read_text(path: str, what: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _UsageError(f"cannot read {what} {path}: {exc}") from exc


# -- commands ------------------------------------------------------------------------


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


def _draft(args: argparse.Namespace) -> ItemDraft:
    body = args.body if args.body is not None else _read_text(args.body_file, "body file")
    stix: dict[str, Any] | None = None
    if args.stix_file is not None:
        text = _read_text(args.stix_file, "STIX file")
        # The broker refuses bodies nested deeper than this (COUNCIL_MAX_JSON_DEPTH's
        # default); checked first because parsing a deeper file recurses until it crashes.
        if _nests_deeper_than(text, _MAX_STIX_DEPTH):
            raise _UsageError(
                f"STIX file {args.stix_file} nests objects and arrays more than "
                f"{_MAX_STIX_DEPTH} levels deep; the broker refuses it"
            )
        try:
            stix = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise _UsageError(f"STIX file {args.stix_file} is not JSON: {exc}") from exc
        if not isinstance(stix, dict):
            raise _UsageError(f"STIX file {args.stix_file} must hold a JSON object (a bundle)")
    scope: Scope | None = None
    if args.group or args.member or args.exclude_member or args.exclude_attribute:
        scope = Scope(
            groups=args.group,
            members=args.member,
            exclude_members=args.exclude_member,
            exclude_attributes=args.exclude_attribute,
        )
    try:
        return ItemDraft(
            kind=args.kind,
            title=args.title,
            body=body,
            stix=stix,
            tlp=args.tlp,
            secret=args.secret,
            confidence=args.confidence,
            scope=scope,
            derived_from=args.derived_from,
            feedback=FeedbackRequest(due=args.due) if args.due else None,
        )
    except ValidationError as exc:
        raise _UsageError(str(exc)) from exc


async def _submit(args: argparse.Namespace, client: CouncilClient, out: Output) -> int:
    result = await client.submit(_draft(args), idempotency_key=args.idempotency_key)
    if args.json:
        out.json(result.model_dump(mode="json"))
        return 0
    out.line(f"id: {clean(result.id)}")
    out.line(f"version: {result.version}")
    out.line(f"recipients: {result.recipients}")
    out.line(f"dropped: {_counts(result.dropped)}")
    for pending in result.pending_consents:
        out.line(
            f"waiting for consent: item {clean(pending.source_item_id)}"
            f" (provider {clean(pending.provider_id)})"
        )
    return 0


async def _inbox(args: argparse.Namespace, client: CouncilClient, out: Output) -> int:
    page = await client.inbox(
        limit=args.limit, order="oldest" if args.oldest else "newest", cursor=args.cursor
    )
    if args.json:
        out.json(page.model_dump(mode="json"))
        return 0
    if not page.items:
        out.line("inbox is empty")
    else:
        # Ids are what the reader types next (`council show ID`): never cut them short.
        # Narrow terminals drop the columns `council show` repeats anyway.
        columns = [
            Column("id", no_wrap=True, min_width=max(len(clean(e.id)) for e in page.items)),
            Column("created (UTC)", no_wrap=True),
            Column("TLP", no_wrap=True),
        ]
        if out.width >= _MEDIUM:
            columns.append(Column("kind", no_wrap=True))
        if out.width >= _WIDE:
            columns += [Column("confidence", no_wrap=True), Column("provider", no_wrap=True)]
        table = _table(*columns, Column("title", overflow="fold"))
        for entry in page.items:
            cells = [
                _cell(entry.id),
                _cell(_when(entry.created_at, zone=False)),
                _cell(f"{entry.tlp}\nsecret" if entry.secret else entry.tlp, lines=True),
            ]
            if out.width >= _MEDIUM:
                cells.append(_cell(entry.kind))
            if out.width >= _WIDE:
                cells += [_cell(entry.confidence), _cell(entry.provider_id)]
            table.add_row(*cells, _cell(entry.title))
        out.render(table)
    if page.next_cursor:
        out.line(f"more: council inbox --cursor {clean(page.next_cursor)}")
    return 0


def _show_item(item: Item, out: Output) -> None:
    out.line(clean(item.title))
    rows: list[tuple[str, str]] = [
        ("id", f"{clean(item.id)} (version {item.version})"),
        ("kind", clean(item.kind)),
        ("confidence", clean(item.confidence or "-")),
        ("TLP", clean(item.tlp)),
        ("secret", _yes(item.secret)),
    ]
    if item.effective is not None and (
        item.effective.tlp != item.tlp or item.effective.secret != item.secret
    ):
        # art. 17(3): a derived item is bound by the strictest of its sources.
        rows.append(
            ("effective", f"TLP {clean(item.effective.tlp)}, secret {_yes(item.effective.secret)}")
        )
    rows += [
        ("provider", clean(item.provider_id)),
        ("status", clean(item.status or "-")),
        ("created", _when(item.created_at)),
    ]
    if item.feedback_due is not None:
        rows.append(("feedback due", _when(item.feedback_due)))
    if item.provenance:
        sources = ", ".join(
            f"{clean(p.id)} ({clean(p.kind or '?')}, TLP {clean(p.tlp or '?')})"
            for p in item.provenance
        )
        rows.append(("derived from", sources))
    elif item.derived_from:
        rows.append(("derived from", ", ".join(clean(i) for i in item.derived_from)))
    if item.victim is not None:
        name = clean(item.victim.name) if item.victim.name else "(masked)"
        rows.append(("victim", f"{name}, damage {_yes(item.victim.damage)}"))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        out.line(f"  {label.ljust(width)}  {value}")
    if item.handling is not None:
        handling = item.handling
        out.line("handling:")
        out.line(f"  TLP {clean(handling.tlp)}; may re-share: {_yes(handling.may_reshare)}")
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
        count = len(objects) if isinstance(objects, list) else 0
        out.line(f"STIX bundle: {count} object(s) (see --json)")
    out.line()
    out.line(clean(item.body) if item.body is not None else "(content withdrawn)")


async def _show(args: argparse.Namespace, client: CouncilClient, out: Output) -> int:
    item = await client.get_item(args.id)
    if args.json:
        out.json(item.model_dump(mode="json"))
    else:
        _show_item(item, out)
    return 0


async def _obligations(args: argparse.Namespace, client: CouncilClient, out: Output) -> int:
    owed = await client.obligations()
    if args.json:
        out.json([entry.model_dump(mode="json") for entry in owed])
        return 0
    if not owed:
        out.line("nothing owed")
        return 0
    table = _table(
        Column("item", no_wrap=True, min_width=max(len(clean(e.item_id)) for e in owed)),
        Column("due (UTC)", no_wrap=True),
        Column("kind"),
        Column("status"),
        Column("title", overflow="fold"),
    )
    for entry in owed:
        table.add_row(
            _cell(entry.item_id),
            _cell(_when(entry.due, zone=False)),
            _cell(entry.kind),
            _cell(entry.status),
            _cell(entry.title),
        )
    out.render(table)
    return 0


async def _answer(args: argparse.Namespace, client: CouncilClient, out: Output) -> int:
    recorded = await client.answer(args.id, args.verdict, args.comment)
    if args.json:
        out.json(recorded)
    else:
        out.line(f"answered {clean(args.id)}: {args.verdict}")
    return 0


def _show_value(value: Any, out: Output, indent: str = "") -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, dict | list) and inner:
                out.line(f"{indent}{clean(key)}:")
                _show_value(inner, out, indent + "  ")
            else:
                out.line(f"{indent}{clean(key)}: {_scalar(inner)}")
    elif isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
        columns = list(dict.fromkeys(key for row in value for key in row))
        table = _table(*[Column(clean(column), overflow="fold") for column in columns])
        for row in value:
            table.add_row(*[_cell(_scalar(row.get(column))) for column in columns])
        out.render(table)
    elif isinstance(value, list):
        for inner in value:
            out.line(f"{indent}- {_scalar(inner)}")
    else:
        out.line(f"{indent}{_scalar(value)}")


def _scalar(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return _yes(value)
    if isinstance(value, dict | list):
        return clean(json.dumps(value, ensure_ascii=False))
    return clean(value)


async def _feedback(args: argparse.Namespace, client: CouncilClient, out: Output) -> int:
    answers = await client.feedback(args.id)
    if args.json:
        out.json(answers)
    else:
        _show_value(answers, out)
    return 0


async def _consult(args: argparse.Namespace, client: CouncilClient, out: Output) -> int:
    body = args.body if args.body is not None else _read_text(args.body_file, "body file")
    consultation = await client.consult(args.title, body, reveal_identity=args.reveal_identity)
    if args.json:
        out.json(consultation.model_dump(mode="json"))
        return 0
    out.line(f"consultation: {clean(consultation.id)}")
    if args.reveal_identity:
        out.line("identity: revealed to the coordinator and the tier-one group")
    else:
        out.line("identity: known to the coordinator only")
    return 0


async def _follow(args: argparse.Namespace, client: CouncilClient, out: Output) -> int:
    # Until interrupted, or until the broker ends the stream for good (StreamClosed).
    async with aclosing(client.follow(args.cursor)) as events:
        async for event in events:
            if args.json:
                out.json({"id": event.id, "event": event.event, "data": event.data})
                continue
            facts = "  ".join(f"{clean(k)}={_scalar(v)}" for k, v in event.data.items())
            out.line(f"{clean(event.id)}  {clean(event.event)}  {facts}")
    return 0


# -- parser --------------------------------------------------------------------------


async def _demo(args: argparse.Namespace, client: CouncilClient, out: Output) -> int:
    # The timeline is the demo's whole output, printed as it happens (rich
    # honours NO_COLOR and a non-terminal stdout by itself).
    try:
        await play(client, Console())
    except AssertionError as exc:
        out.error(f"demo failed: {exc}")
        return EXIT_ERROR
    return 0


def _tlp(value: str) -> str:
    return value.upper()


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def build_parser(out: Output) -> argparse.ArgumentParser:
    """The ``council`` argument parser; help and usage errors print through ``out``."""
    connection = _Parser(add_help=False, out=out)
    # SUPPRESS: given after the subcommand, a flag overrides; absent, it leaves the top level's.
    connection.add_argument("--url", default=argparse.SUPPRESS, help="broker URL (COUNCIL_URL)")
    connection.add_argument(
        "--token", default=argparse.SUPPRESS, help="API token (prefer COUNCIL_TOKEN)"
    )
    connection.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON"
    )

    parser = _Parser(
        prog="council",
        description="The council broker, from a member's side.",
        epilog="URL and token: --url/--token, else COUNCIL_URL/COUNCIL_TOKEN, else "
        "the TOML file at COUNCIL_CONFIG or ~/.config/council/config.toml (keys url, token).",
        out=out,
    )
    parser.add_argument("--url", default=None, help="broker URL (COUNCIL_URL)")
    parser.add_argument("--token", default=None, help="API token (prefer COUNCIL_TOKEN)")
    parser.add_argument("--json", action="store_true", default=False, help="print JSON")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, help=help_text, description=help_text, parents=[connection], out=out
        )
        sub.set_defaults(handler=handler)
        return sub

    submit = command("submit", _submit, "submit an item to the broker")
    submit.add_argument("--kind", required=True, choices=KINDS)
    submit.add_argument("--title", required=True)
    body = submit.add_mutually_exclusive_group(required=True)
    body.add_argument("--body", help="the text")
    body.add_argument("--body-file", metavar="FILE", help="read the text from FILE (- for stdin)")
    submit.add_argument("--stix-file", metavar="FILE", help="a STIX 2.1 bundle (JSON)")
    submit.add_argument("--tlp", required=True, type=_tlp, choices=TLP_LEVELS)
    secrecy = submit.add_mutually_exclusive_group(required=True)
    # charter art. 18(1),(2): secrecy is stated on every submission, never defaulted.
    secrecy.add_argument(
        "--secret",
        dest="secret",
        action="store_true",
        default=None,
        help="it holds information under the statutory duty of confidentiality",
    )
    secrecy.add_argument("--no-secret", dest="secret", action="store_false", help="it does not")
    submit.add_argument("--confidence", choices=CONFIDENCES)
    submit.add_argument("--group", action="append", default=[], choices=GROUPS)
    submit.add_argument("--member", action="append", default=[], metavar="ID")
    submit.add_argument("--exclude-member", action="append", default=[], metavar="ID")
    submit.add_argument("--exclude-attribute", action="append", default=[], choices=ATTRIBUTES)
    submit.add_argument("--derived-from", action="append", default=[], metavar="ID")
    submit.add_argument("--due", metavar="WHEN", help="answers due: ISO 8601 duration or time")
    submit.add_argument("--idempotency-key", metavar="KEY", help="makes a retry safe")

    inbox = command("inbox", _inbox, "list what you may open")
    inbox.add_argument("--limit", type=_positive, default=50)
    inbox.add_argument("--oldest", action="store_true", help="oldest first")
    inbox.add_argument("--cursor", help="the next page, as printed after the table")

    show = command("show", _show, "show one item with its handling")
    show.add_argument("id")

    command("obligations", _obligations, "what your member owes, with due times")

    answer = command("answer", _answer, "answer an item you owe feedback on")
    answer.add_argument("id")
    answer.add_argument("verdict", choices=VERDICTS)
    answer.add_argument("--comment")

    feedback = command("feedback", _feedback, "the answers to an item")
    feedback.add_argument("id")

    follow = command("follow", _follow, "print events as they happen (resumes by itself)")
    follow.add_argument("--cursor", help="start after this event id (default: from now on)")

    consult = command("consult", _consult, "ask the coordinator and tier one privately")
    consult.add_argument("--title", required=True)
    consult_body = consult.add_mutually_exclusive_group(required=True)
    consult_body.add_argument("--body")
    consult_body.add_argument("--body-file", metavar="FILE")
    consult.add_argument(
        "--reveal-identity", action="store_true", help="let tier one know who is asking"
    )
    command(
        "demo",
        _demo,
        "play the council's case against a running broker, as a coordinator administrator "
        "(it admits its own demo members: use a staging broker)",
    )
    return parser


def _tokens_in(argv: Sequence[str]) -> list[str]:
    # Found before parsing, so even a usage error that echoes argv cannot print them.
    found: list[str] = []
    for index, arg in enumerate(argv):
        if arg == "--token" and index + 1 < len(argv):
            found.append(argv[index + 1])
        elif arg.startswith("--token="):
            found.append(arg.partition("=")[2])
    return found


def _plain_http_warning(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        return f"{parts.netloc} is plain http: the token travels unencrypted"
    return None


def _default_client(url: str, token: str) -> CouncilClient:
    return CouncilClient(url, token)


async def run(
    argv: Sequence[str] | None = None,
    *,
    client_factory: ClientFactory | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run ``council`` with ``argv`` and return its exit status.

    ``client_factory(url, token)`` builds the client (default: a real
    :class:`CouncilClient`); ``env`` replaces ``os.environ``.
    """
    env = os.environ if env is None else env
    argv = list(sys.argv[1:] if argv is None else argv)
    out = Output(sys.stdout, sys.stderr, env, [*_tokens_in(argv), env.get("COUNCIL_TOKEN", "")])
    try:
        args = build_parser(out).parse_args(argv)
    except _Exit as stop:
        return stop.status
    try:
        connection = resolve_connection(args.url, args.token, env)
        out.add_secret(connection.file_token)
        client = (client_factory or _default_client)(connection.url, connection.token)
    except (ConfigError, ValueError) as exc:
        out.error(str(exc))
        return EXIT_USAGE
    for warning in connection.warnings:
        out.warning(warning)
    plain = _plain_http_warning(connection.url)
    if plain:
        out.warning(plain)
    handler: Command = args.handler
    try:
        async with client:
            return await handler(args, client, out)
    except _UsageError as exc:
        out.error(str(exc))
        return EXIT_USAGE
    except NotFound as exc:
        out.error(str(exc))
        return EXIT_NOT_FOUND
    except Invalid as exc:
        out.error(f"{exc} (field: {exc.field})" if exc.field else str(exc))
        return EXIT_ERROR
    except CouncilError as exc:
        out.error(str(exc))
        return EXIT_ERROR


def main(
    argv: Sequence[str] | None = None,
    *,
    client_factory: ClientFactory | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """The console script: ``sys.exit(main())``. Same arguments as :func:`run`."""
    try:
        return asyncio.run(run(argv, client_factory=client_factory, env=env))
    except KeyboardInterrupt:
        return 130
