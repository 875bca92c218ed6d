"""`council-broker`: init, serve, migrate, keys rotate, audit verify.

Every failure is one line on stderr that says what to do, with a documented
exit status (`EXIT_STATUSES`, shown by `--help`); never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from broker.crypto import KeyRingError
from broker.services.bootstrap import (
    NOT_INITIALISED,
    UNREADABLE,
    AlreadyInitialised,
    DataDirProblem,
    check_data_dir,
    check_directory,
    initialise,
    is_initialised,
)
from broker.settings import Settings

__all__ = ["EXIT_STATUSES", "main"]

EXIT_STATUSES = {
    0: "success",
    1: "the operation failed (audit verification found a problem, already initialised, ...)",
    2: "wrong usage (unknown option, missing argument, bad setting)",
    NOT_INITIALISED: "no broker initialised in the data directory: run `council-broker init`",
    UNREADABLE: "the data directory, its database or key ring cannot be read",
    130: "interrupted",
}
"""`council-broker`'s exit statuses, as `--help` documents them."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `council-broker` command."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = _settings(args)
    except ValidationError as exc:
        problem = exc.errors(include_url=False)[0]
        name = "COUNCIL_" + "_".join(str(p) for p in problem["loc"]).upper()
        print(f"error: {name}: {problem['msg']}", file=sys.stderr)
        return 2
    from broker.logging import configure_logging

    configure_logging(settings.log_level)
    try:
        code: int = args.run(args, settings)
    except KeyboardInterrupt:
        return 130
    except DataDirProblem as problem:
        print(f"error: {problem}", file=sys.stderr)
        return problem.exit_code
    except KeyRingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return UNREADABLE
    except OSError as exc:
        # The data directory or a file named on the command line (permissions,
        # a full disk, a path that is not a directory).
        where = f" {exc.filename}" if exc.filename else ""
        print(f"error: cannot use{where}: {exc.strerror or exc}", file=sys.stderr)
        return UNREADABLE
    except Exception as exc:  # a user sees one line, never a traceback
        if settings.log_level.lower() == "debug":
            raise
        first_line = (str(exc).strip().splitlines() or [""])[0]
        print(
            f"error: {type(exc).__name__}: {first_line} "
            "(COUNCIL_LOG_LEVEL=debug shows the details)",
            file=sys.stderr,
        )
        return 1
    return code


def _require_initialised(settings: Settings, *, key_ring: bool = True) -> None:
    """One line and `NOT_INITIALISED` / `UNREADABLE` unless the data directory is usable."""
    asyncio.run(check_data_dir(settings, key_ring=key_ring))


def _exit_statuses() -> str:
    lines = [f"  {code:>3}  {meaning}" for code, meaning in EXIT_STATUSES.items()]
    return "exit status:\n" + "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="council-broker",
        description="Run and maintain a council broker: init, serve, migrate, keys rotate, "
        "audit verify. Every failure is one line on stderr saying what to do.",
        epilog=_exit_statuses(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    defaults = Settings.model_fields

    def data_dir(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--data-dir",
            type=Path,
            help="where the database and key ring live "
            f"(default: COUNCIL_DATA_DIR, else {defaults['data_dir'].default})",
        )

    init = commands.add_parser("init", help="create the database, key ring and first admin")
    data_dir(init)
    init.add_argument("--json", action="store_true", help="print the result as JSON")
    init.set_defaults(run=_init)

    serve = commands.add_parser("serve", help="run the broker", epilog=_exit_statuses())
    serve.formatter_class = argparse.RawDescriptionHelpFormatter
    data_dir(serve)
    serve.add_argument(
        "--host",
        help=f"address to listen on (default: COUNCIL_HOST, else {defaults['host'].default})",
    )
    serve.add_argument(
        "--port",
        type=int,
        help=f"port to listen on (default: COUNCIL_PORT, else {defaults['port'].default})",
    )
    serve.add_argument(
        "--init",
        action="store_true",
        help="initialise the data directory on first start (default: off; without it an "
        "uninitialised data directory is an error)",
    )
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="bring the schema up to date")
    data_dir(migrate)
    migrate.set_defaults(run=_migrate)

    keys = commands.add_parser("keys", help="key ring operations")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    rotate = key_commands.add_parser(
        "rotate", help="add a key version and re-wrap every data key (safe while serving)"
    )
    data_dir(rotate)
    rotate.set_defaults(run=_rotate)

    audit = commands.add_parser("audit", help="audit log operations")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser("verify", help="check the hash chain and checkpoints")
    data_dir(verify)
    verify.add_argument("--export", type=Path, help="a JSON Lines export to check instead")
    verify.add_argument(
        "--public-key",
        type=Path,
        help="with --export: the saved GET /v1/audit/keys document; no key ring needed",
    )
    verify.set_defaults(run=_verify)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if getattr(args, "data_dir", None) is not None:
        overrides["data_dir"] = args.data_dir
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None):
        overrides["port"] = args.port
    return Settings(**overrides)  # type: ignore[arg-type]


def _init(args: argparse.Namespace, settings: Settings) -> int:
    check_directory(settings)
    try:
        first = asyncio.run(initialise(settings))
    except AlreadyInitialised as exc:
        print(f"error: {exc}: nothing was changed; `serve` starts it", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(first))
    else:
        _print_first_admin(first)
    return 0


def _print_first_admin(first: dict[str, str]) -> None:
    # The one and only time this token is shown (README, "Operating it").
    print("Initialised. The first coordinator administrator's token (shown once, keep it safe):")
    print(f"  {first['token']}")
    print(f"  member {first['member_id']}, user {first['user_id']}")


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from aiohttp import web

    from broker.app import create_app
    from broker.store import Database

    check_directory(settings)
    if args.init and not asyncio.run(is_initialised(settings)):
        _print_first_admin(asyncio.run(initialise(settings)))
    _require_initialised(settings)

    async def migrate() -> None:
        db = Database(settings.resolved_database_url)
        try:
            await db.migrate()
        finally:
            await db.dispose()

    asyncio.run(migrate())
    print(f"Council broker listening on http://{settings.host}:{settings.port}", flush=True)
    try:
        _run_app(web, create_app(settings), settings)
    except OSError as exc:
        print(
            f"error: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}; "
            "choose another --port (COUNCIL_PORT) or stop what uses it",
            file=sys.stderr,
        )
        return 1
    return 0


def _run_app(web: Any, app: Any, settings: Settings) -> None:
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        print=None,
        loop=_serving_loop(),
        # Streams are closed as shutdown begins and other requests take
        # milliseconds: a handler still running after this is stuck, and a
        # supervisor (systemd, the tests) must see the broker stop.
        shutdown_timeout=_HANDLERS_STOP_SECONDS,
    )


_HANDLERS_STOP_SECONDS = 5.0


def _serving_loop() -> asyncio.AbstractEventLoop | None:
    """uvloop's event loop when it is installed, else None (asyncio's own).

    Measured on the ingest benchmark: ~10 % less CPU per durable submission
    (group commit, thread hops); PERFORMANCE.md reports it for WebSocket
    latency too. Nothing else changes: the same app runs on either loop.
    """
    try:
        import uvloop
    except ImportError:
        return None
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from broker.store import Database

    _require_initialised(settings, key_ring=False)

    async def run() -> None:
        db = Database(settings.resolved_database_url)
        try:
            await db.migrate()
        finally:
            await db.dispose()

    asyncio.run(run())
    print("schema is up to date")
    return 0


def _rotate(args: argparse.Namespace, settings: Settings) -> int:
    from broker.services.keys import rotate_and_rewrap

    _require_initialised(settings)
    return asyncio.run(rotate_and_rewrap(settings))


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    from broker.services.audit_verify import verify_database, verify_export

    if args.public_key is not None and args.export is None:
        print("error: --public-key checks an export: give --export FILE too", file=sys.stderr)
        return 2
    if args.export is not None:
        if args.public_key is None:
            # The export is checked with the key ring's signing keys.
            check_directory(settings)
            if settings.key_ring is None and not settings.key_ring_path.exists():
                raise DataDirProblem(
                    f"no key ring in {settings.data_dir} to check the export with: give "
                    "--public-key (the saved GET /v1/audit/keys document) or the broker's "
                    "--data-dir; `council-broker init` creates a new broker",
                    NOT_INITIALISED,
                )
        return verify_export(settings, args.export, args.public_key)
    _require_initialised(settings)
    return asyncio.run(verify_database(settings))


if __name__ == "__main__":
    raise SystemExit(main())
