"""The ``council`` command: the council broker from a member's side.

Exit codes (:data:`clients.cli._command.EXIT_CODES`, also in ``--help``): 0 done,
1 refused by the broker (or the audit log fails verification), 2 usage or
configuration error, 3 not found (which includes "you may not see it"), 4 not
signed in or token refused, 5 broker unreachable or not a council broker.

The command tree is Click's (:data:`council`); its commands live in
:mod:`clients.cli.commands`, one module per resource. :func:`run` parses the
command line, resolves the connection, then awaits the command with a connected
client; every failure becomes one line on stderr and an exit status.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlsplit

import click
from pydantic import ValidationError

from clients.cli._command import (
    EXIT_AUTH,
    EXIT_CODES,
    EXIT_ERROR,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    Call,
    ConnectionOptions,
    CouncilGroup,
    InputError,
    Invocation,
    State,
    connection_options,
)
from clients.cli._config import ConfigError, NotSignedIn, resolve_connection
from clients.cli._errors import pydantic_problems, report, show_problems
from clients.cli._output import Output
from clients.cli.commands import register
from clients.sdk import CouncilClient, CouncilError

__all__ = [
    "EXIT_AUTH",
    "EXIT_ERROR",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "ClientFactory",
    "council",
    "main",
    "run",
]

ClientFactory = Callable[[str, str], CouncilClient]
"""Builds the client from the resolved broker URL and token (the seam tests replace)."""

_EPILOG = (
    "URL and token: --url/--token, else COUNCIL_URL/COUNCIL_TOKEN, else the TOML file "
    "at COUNCIL_CONFIG or ~/.config/council/config.toml (keys url, token). "
    f"{EXIT_CODES}"
)


@click.group(
    "council",
    cls=CouncilGroup,
    params=connection_options(top_level=True),
    epilog=_EPILOG,
    # No command is a usage error (exit 2), as a wrong one is.
    no_args_is_help=False,
    context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
)
@click.version_option(package_name="council-broker", prog_name="council")
@click.pass_context
def council(
    ctx: click.Context, url: str | None, token: str | None, ca: str | None, json: bool | None
) -> None:
    """The council broker, from a member's side."""
    ctx.ensure_object(State).options = ConnectionOptions(url, token, ca, json)


register(council)


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


def _ssl_context(ca: str | None, env: Mapping[str, str]) -> ssl.SSLContext | None:
    # A broker with mutual TLS wants a client certificate naming the user:
    # COUNCIL_CLIENT_CERT and COUNCIL_CLIENT_KEY (PEM), as `council-broker tls client` issues.
    cert = env.get("COUNCIL_CLIENT_CERT") or None
    key = env.get("COUNCIL_CLIENT_KEY") or None
    if ca is None and cert is None and key is None:
        return None
    try:
        # The council's own CA, on top of the system's: a broker may use either.
        context = ssl.create_default_context(cafile=ca)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"cannot use CA file {ca}: {reason}") from exc
    if key is not None and cert is None:
        raise ConfigError("COUNCIL_CLIENT_KEY needs its certificate: set COUNCIL_CLIENT_CERT")
    if cert is not None:
        try:
            context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ConfigError(f"cannot use client certificate {cert}: {reason}") from exc
    return context


def _show_click_error(error: click.ClickException, out: Output) -> None:
    if isinstance(error, click.UsageError) and error.ctx is not None:
        out.write_err(error.ctx.get_usage() + "\n")
        out.write_err(f"Try '{error.ctx.command_path} --help' for help.\n")
    out.error(error.format_message())


def _parse(argv: list[str], state: State, out: Output) -> Invocation | int:
    try:
        result = council.main(
            argv,
            prog_name="council",
            standalone_mode=False,
            obj=state,
            # Help wraps to the terminal, yet stays readable on a wide one.
            terminal_width=min(out.width, 100),
        )
    except click.ClickException as error:
        _show_click_error(error, out)
        return error.exit_code
    except click.Abort:
        return 130
    if isinstance(result, Invocation):
        return result
    # --help and --version end here, having printed what was asked.
    return result if isinstance(result, int) else EXIT_OK


async def run(
    argv: Sequence[str] | None = None,
    *,
    client_factory: ClientFactory | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run ``council`` with ``argv`` and return its exit status.

    ``client_factory(url, token)`` builds the client (default: a real
    :class:`CouncilClient`, trusting ``--ca``/``COUNCIL_CA`` if given); ``env``
    replaces ``os.environ``.
    """
    env = os.environ if env is None else env
    argv = list(sys.argv[1:] if argv is None else argv)
    out = Output(sys.stdout, sys.stderr, env, [*_tokens_in(argv), env.get("COUNCIL_TOKEN", "")])
    state = State(env)
    parsed = _parse(argv, state, out)
    if not isinstance(parsed, Invocation):
        return parsed
    for note in state.notes:
        out.warning(note)
    options = parsed.options.over(state.options)
    try:
        connection = resolve_connection(options.url, options.token, env)
        out.add_secret(connection.file_token)
        context = _ssl_context(options.ca, env)
        if client_factory is None:
            client = CouncilClient(connection.url, connection.token, ssl_context=context)
        else:
            client = client_factory(connection.url, connection.token)
    except NotSignedIn as exc:
        out.error(str(exc))
        return EXIT_AUTH
    except (ConfigError, ValueError) as exc:
        out.error(str(exc))
        return EXIT_USAGE
    for warning in connection.warnings:
        out.warning(warning)
    plain = _plain_http_warning(connection.url)
    if plain:
        out.warning(plain)
    try:
        async with client:
            try:
                return await parsed(Call(client, out, bool(options.json), env))
            except CouncilError as exc:
                return await report(exc, client, parsed.flags, out)
    except InputError as exc:
        out.error(str(exc))
        return EXIT_USAGE
    except click.ClickException as exc:
        # A combination only the command could check (or a refused confirmation).
        out.error(exc.format_message())
        return exc.exit_code
    except click.Abort:
        out.error("stopped: nothing was changed")
        return EXIT_USAGE
    except ValidationError as exc:
        # The SDK's own models refused what was typed, before anything was sent.
        show_problems(pydantic_problems(exc), parsed.flags, out)
        return EXIT_USAGE


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
    except BrokenPipeError:
        # `council audit export | head`: the reader left; say nothing more, and keep
        # Python from complaining about the unflushed rest at exit.
        _silence_stdout()
        return EXIT_OK


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # a stdout without a file descriptor (a test's capture) has nothing to flush
