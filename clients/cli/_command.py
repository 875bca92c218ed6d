"""The frame every ``council`` command is built on (Click, with the broker call deferred).

A command is an ``async def`` taking a :class:`Call` (the connected client, the
output, ``--json``) and its own Click parameters, made a command by
:func:`council_command`::

    @council_command("show")
    @click.argument("item_id", metavar="ID")
    async def show(call: Call, item_id: str) -> int:
        \"\"\"Show one item with its handling.\"\"\"
        item = await call.client.get_item(item_id)
        ...
        return EXIT_OK

Click parses the command line synchronously; the callback it runs does not call
the broker but returns an :class:`Invocation`, which :func:`clients.cli.main.run`
awaits once the connection (flags, environment, config file) is resolved. So
parsing never needs an event loop, and every command gets the same error
handling, exit codes and redaction without repeating them.

Every command accepts the connection options ``--url``, ``--token``, ``--ca``
and ``--json``, at the top level (``council --json inbox``) or after its name
(``council inbox --json``); given after the name, a flag wins.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import click

from clients.cli._output import Output
from clients.sdk import CouncilClient

__all__ = [
    "EXIT_AUTH",
    "EXIT_CODES",
    "EXIT_ERROR",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_USAGE",
    "TLP_LEVELS",
    "Call",
    "Choice",
    "ConnectionOptions",
    "CouncilCommand",
    "CouncilGroup",
    "EnvOption",
    "Handler",
    "InputError",
    "Invocation",
    "State",
    "Tlp",
    "connection_options",
    "council_command",
    "exactly_one",
]

EXIT_OK = 0
"""The command did what was asked."""
EXIT_ERROR = 1
"""The broker refused the request, or could not be reached."""
EXIT_USAGE = 2
"""The command line or the configuration is wrong."""
EXIT_NOT_FOUND = 3
"""The broker says the thing does not exist for this caller."""
EXIT_AUTH = 4
"""Not signed in: no token, or the broker refused it (wrong, expired, revoked)."""
EXIT_UNREACHABLE = 5
"""The broker could not be reached, or what answered is not a council broker."""

EXIT_CODES = (
    "Exit codes: 0 done; 1 refused by the broker (or the audit log fails verification); "
    "2 usage or configuration error; 3 not found (or not yours to see); "
    "4 not signed in or token refused; 5 broker unreachable or not a council broker."
)
"""The exit codes, as help and the README state them."""


class InputError(Exception):
    """A problem with what the person typed that Click could not see (an unreadable file).

    The command exits with :data:`EXIT_USAGE` and the message, before or instead
    of calling the broker.
    """


@dataclass(frozen=True)
class ConnectionOptions:
    """The connection options as given on one level of the command line (None: not given)."""

    url: str | None = None
    token: str | None = field(default=None, repr=False)
    ca: str | None = None
    json: bool | None = None

    def over(self, base: ConnectionOptions) -> ConnectionOptions:
        """These options, with what they leave unset taken from ``base``."""
        return ConnectionOptions(
            url=self.url if self.url is not None else base.url,
            token=self.token if self.token is not None else base.token,
            ca=self.ca if self.ca is not None else base.ca,
            json=self.json if self.json is not None else base.json,
        )


@dataclass
class State:
    """What a run of the command shares with Click's context (``ctx.obj``).

    ``env`` stands in for ``os.environ`` (tests pass their own); ``options`` are
    the connection options given before the command's name; ``notes`` what
    parsing corrected and says so (``TLP:WHITE`` read as ``CLEAR``).
    """

    env: Mapping[str, str]
    options: ConnectionOptions = field(default_factory=ConnectionOptions)
    notes: list[str] = field(default_factory=list)
    """Things parsing noticed that the person should know (printed as warnings)."""


@dataclass(frozen=True)
class Call:
    """What a command's handler works with: the connected client, the output, ``--json``."""

    client: CouncilClient
    out: Output
    json: bool
    env: Mapping[str, str]


Handler = Callable[..., Awaitable[int]]
"""``async def handler(call: Call, **params) -> exit status``."""


@dataclass(frozen=True)
class Invocation:
    """A parsed command waiting for its connection: what the Click callback returns."""

    handler: Handler
    params: Mapping[str, Any]
    options: ConnectionOptions
    name: str
    flags: Mapping[str, str] = field(default_factory=dict)
    """The API's JSON fields this command fills, mapped to its flags (for error messages)."""

    async def __call__(self, call: Call) -> int:
        """Run the handler with the parsed parameters."""
        return await self.handler(call, **self.params)


class EnvOption(click.Option):
    """An option whose environment variable is read from :attr:`State.env`.

    Click reads ``os.environ``; the command reads the mapping it was given, so a
    caller (or a test) decides what the environment is.
    """

    def resolve_envvar_value(self, ctx: click.Context) -> str | None:
        """The first non-empty value of this option's variables in the command's environment."""
        if not self.envvar:
            return None
        state = ctx.find_object(State)
        env: Mapping[str, str] = state.env if state is not None else os.environ
        names = [self.envvar] if isinstance(self.envvar, str) else list(self.envvar)
        for name in names:
            value = env.get(name)
            if value:
                return value
        return None


class Choice(click.Choice[str]):
    """A choice that says "invalid choice" and lists the choices plainly."""

    def get_invalid_choice_message(self, value: Any, ctx: click.Context | None) -> str:
        """The message for a value outside the choices."""
        return f"invalid choice {value!r} (choose from {', '.join(map(str, self.choices))})"


TLP_LEVELS = ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED")
"""The TLP 2.0 labels, as the broker spells them."""


class Tlp(click.ParamType[str]):
    """A TLP 2.0 label, in any case, with or without ``TLP:``; TLP 1.0's WHITE reads as CLEAR."""

    name = "tlp"

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        """``[CLEAR|GREEN|AMBER|AMBER+STRICT|RED]``."""
        return f"[{'|'.join(TLP_LEVELS)}]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        """The broker's spelling of ``value``; a usage error if it is no TLP label."""
        label = str(value).strip().upper().removeprefix("TLP:")
        if label == "WHITE":
            # TLP 2.0 renamed WHITE to CLEAR (FIRST, 2022); same meaning, so accepted.
            state = ctx.find_object(State) if ctx is not None else None
            if state is not None:
                state.notes.append(f"{value} is TLP 1.0; sending its TLP 2.0 name, CLEAR")
            return "CLEAR"
        if label not in TLP_LEVELS:
            self.fail(f"invalid choice {value!r} (choose from {', '.join(TLP_LEVELS)})", param, ctx)
        return label


_CONNECTION_PARAMS = ("url", "token", "ca", "json")


def connection_options(*, top_level: bool) -> list[click.Parameter]:
    """``--url``, ``--token``, ``--ca`` and ``--json``; bound to the environment at the top."""

    def env(name: str, text: str) -> dict[str, Any]:
        # Only the top level reads the environment: below, an unset option must
        # leave what was given before the command's name, not the variable.
        if top_level:
            return {"help": text, "envvar": name, "show_envvar": True}
        return {"help": f"{text}  [env var: {name}]"}

    return [
        EnvOption(["--url"], metavar="URL", **env("COUNCIL_URL", "the broker's base URL")),
        EnvOption(
            ["--token"],
            metavar="TOKEN",
            **env("COUNCIL_TOKEN", "your API token (the environment keeps it out of ps)"),
        ),
        EnvOption(
            ["--ca"],
            metavar="FILE",
            type=click.Path(dir_okay=False),
            **env("COUNCIL_CA", "a PEM file of the CA that signed the broker's certificate"),
        ),
        EnvOption(
            ["--json"],
            is_flag=True,
            default=None,
            help="print JSON for scripts instead of tables",
        ),
    ]


def _usage(command: click.Command, ctx: click.Context, formatter: click.HelpFormatter) -> None:
    # Lower case like every other line the command prints ("error: ...", "warning: ...").
    pieces = command.collect_usage_pieces(ctx)
    formatter.write_usage(ctx.command_path, " ".join(pieces), prefix="usage: ")


# Click ends a summary at the first ". "; the charter's "art. 7" is no sentence end.
_ABBREVIATION = re.compile(r"\b(art|arts|e\.g|i\.e|cf)\. ")


def _summary(command: click.Command, limit: int) -> str:
    if command.short_help or not command.help:
        return click.Command.get_short_help_str(command, limit)
    # The abbreviation's dot stands in as a private-use character while Click looks
    # for the sentence's end, then comes back.
    kept = _ABBREVIATION.sub(lambda m: m.group(0)[:-2] + "\ue000 ", command.help)
    shown = click.Command(command.name, help=kept).get_short_help_str(limit)
    return shown.replace("\ue000", ".")


class CouncilCommand(click.Command):
    """A ``council`` command: it takes the connection options after its name too."""

    def get_short_help_str(self, limit: int = 45) -> str:
        """The help's first sentence, not cut short at an abbreviation (``art. 7``)."""
        return _summary(self, limit)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(connection_options(top_level=False))

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """``usage: council COMMAND [OPTIONS] ...``."""
        _usage(self, ctx, formatter)


class CouncilGroup(click.Group):
    """A group of ``council`` commands (``council members ...``); its commands are
    :class:`CouncilCommand` and its subgroups :class:`CouncilGroup`."""

    command_class = CouncilCommand
    group_class = type

    def get_short_help_str(self, limit: int = 45) -> str:
        """The help's first sentence, not cut short at an abbreviation (``art. 7``)."""
        return _summary(self, limit)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """``usage: council GROUP [OPTIONS] COMMAND ...``."""
        _usage(self, ctx, formatter)


def council_command(
    name: str | None = None,
    *,
    group: click.Group | None = None,
    check: Callable[[dict[str, Any]], None] | None = None,
    flags: Mapping[str, str] | None = None,
    **attrs: Any,
) -> Callable[[Handler], CouncilCommand]:
    """Make the async ``handler`` a :class:`CouncilCommand` (added to ``group`` if given).

    The handler's docstring is the command's help; Click decorators placed below
    this one declare its parameters, which the handler receives by keyword after
    the :class:`Call`. ``check(params)`` runs at parse time, before any connection,
    and raises :class:`click.UsageError` for combinations Click cannot express
    (see :func:`exactly_one`). ``flags`` maps the API's JSON fields to the flags
    that fill them, so the broker's complaints name what the person typed.
    """

    def decorate(handler: Handler) -> CouncilCommand:
        command_name = name or handler.__name__.replace("_", "-")

        @functools.wraps(handler)
        def callback(**params: Any) -> Invocation:
            if check is not None:
                check(params)
            options = ConnectionOptions(**{key: params.pop(key) for key in _CONNECTION_PARAMS})
            return Invocation(handler, params, options, command_name, dict(flags or {}))

        command = click.command(command_name, cls=CouncilCommand, **attrs)(callback)
        if group is not None:
            group.add_command(command)
        return command

    return decorate


def exactly_one(params: dict[str, Any], *names: str) -> None:
    """A usage error unless exactly one of the options ``names`` was given."""
    given = [name for name in names if params.get(name) not in (None, False)]
    flags = " or ".join("--" + name.replace("_", "-") for name in names)
    if not given:
        raise click.UsageError(f"give {flags}")
    if len(given) > 1:
        raise click.UsageError(f"give only one of {flags}")
