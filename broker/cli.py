"""`council-broker`: init, serve, migrate, keys rotate, audit verify, backup, restore."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from broker.services.bootstrap import AlreadyInitialised, initialise, is_initialised
from broker.settings import Settings

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `council-broker` command."""
    parser = _parser()
    args = parser.parse_args(argv)
    settings = _settings(args)
    from broker.logging import configure_logging

    configure_logging(settings.log_level)
    try:
        code: int = args.run(args, settings)
    except KeyboardInterrupt:
        return 130
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="council-broker", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def data_dir(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", type=Path, help="where the database and key ring live")

    init = commands.add_parser("init", help="create the database, key ring and first admin")
    data_dir(init)
    init.add_argument("--json", action="store_true", help="print the result as JSON")
    init.set_defaults(run=_init)

    serve = commands.add_parser("serve", help="run the broker")
    data_dir(serve)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--init", action="store_true", help="initialise the data directory on first start"
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

    backup = commands.add_parser(
        "backup", help="back the database up into a file while the broker serves (no keys)"
    )
    data_dir(backup)
    backup.add_argument("--out", type=Path, required=True, help="the new backup file")
    backup.set_defaults(run=_backup)
    restore = commands.add_parser(
        "restore", help="restore a backup into a new data directory that holds the key ring"
    )
    data_dir(restore)
    restore.add_argument("--from", dest="source", type=Path, required=True, help="the backup file")
    restore.set_defaults(run=_restore)
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
    try:
        first = asyncio.run(initialise(settings))
    except AlreadyInitialised as exc:
        print(f"error: {exc}", file=sys.stderr)
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

    if not asyncio.run(is_initialised(settings)):
        if not args.init:
            print(
                "error: the data directory is not initialised; run `council-broker init` "
                "or `council-broker serve --init`",
                file=sys.stderr,
            )
            return 1
        _print_first_admin(asyncio.run(initialise(settings)))

    async def migrate() -> None:
        db = Database(settings.resolved_database_url)
        try:
            await db.migrate()
        finally:
            await db.dispose()

    if not _key_ring_opens(settings):
        return 1
    asyncio.run(migrate())
    print(f"Council broker listening on http://{settings.host}:{settings.port}", flush=True)
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        print=None,
        loop=_serving_loop(),
        # Streams are closed as shutdown begins and other requests take
        # milliseconds: a handler still running after this is stuck, and a
        # supervisor (systemd, the tests) must see the broker stop.
        shutdown_timeout=_HANDLERS_STOP_SECONDS,
    )
    return 0


_HANDLERS_STOP_SECONDS = 5.0


def _key_ring_opens(settings: Settings) -> bool:
    """Whether the key ring loads; if not, one line saying why, and the broker does
    not start (without its keys it could neither open items nor sign the log)."""
    from broker.app import load_key_ring
    from broker.crypto import KeyRingError

    try:
        load_key_ring(settings)
    except KeyRingError as exc:
        print(
            f"error: {exc}; the broker cannot start without its key ring: restore it "
            "from your secret store (or set COUNCIL_KEY_RING)",
            file=sys.stderr,
        )
        return False
    return True


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

    return asyncio.run(rotate_and_rewrap(settings))


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    from broker.services.audit_verify import verify_database, verify_export

    if args.public_key is not None and args.export is None:
        print("error: --public-key checks an export: give --export FILE too", file=sys.stderr)
        return 2
    if args.export is not None:
        return verify_export(settings, args.export, args.public_key)
    return asyncio.run(verify_database(settings))


class _LazyBar:
    """A rich progress bar on stderr that appears with the first progress report,
    so that a command refused before any work prints its one error line only."""

    def __init__(self, description: str) -> None:
        self._description = description
        self._bar: Any = None
        self._task: Any = None

    def update(self, done: int, total: int) -> None:
        """Show `done` of `total` (called from any thread)."""
        if self._bar is None:
            self._bar = _progress_bar()
            self._bar.start()
            self._task = self._bar.add_task(self._description, total=total)
        self._bar.update(self._task, completed=done, total=total)

    def warn(self, message: str) -> None:
        """A warning line on stderr, above the bar if it shows."""
        if self._bar is not None:
            self._bar.console.print(f"warning: {message}")
        else:
            print(f"warning: {message}", file=sys.stderr)

    def stop(self) -> None:
        """Leave the bar as it ended."""
        if self._bar is not None:
            self._bar.stop()


def _progress_bar() -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


def _failure(exc: BaseException) -> str:
    # One line, never a traceback: the first line of what went wrong.
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    from broker.services.backup import BackupError, take_backup

    bar = _LazyBar("backing up")
    try:
        manifest = asyncio.run(take_backup(settings, args.out, bar.update, warn=bar.warn))
    except BackupError as exc:
        bar.stop()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        bar.stop()
        print(f"error: the backup failed ({_failure(exc)})", file=sys.stderr)
        return 1
    bar.stop()
    versions = ", ".join(
        f"{v} (check value {c or 'unrecorded'})" for v, c in manifest.kek_check_values.items()
    )
    print(
        f"backup written to {args.out}: {sum(manifest.rows.values())} rows, an audit log "
        f"of {manifest.audit_size} events"
    )
    print(
        f"it needs key versions {versions or 'none'} and signing keys "
        f"{', '.join(manifest.signing_keys) or 'none'}; the key ring is not in the "
        "backup: keep it in your secret store"
    )
    return 0


def _restore(args: argparse.Namespace, settings: Settings) -> int:
    from broker.services.audit_verify import verify_database
    from broker.services.backup import BackupError, restore_backup

    bar = _LazyBar("restoring")
    try:
        result = asyncio.run(restore_backup(settings, args.source, bar.update))
    except BackupError as exc:
        bar.stop()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        bar.stop()
        print(f"error: the restore failed ({_failure(exc)})", file=sys.stderr)
        return 1
    bar.stop()
    print(
        f"restored the backup of {result.manifest.created_at} into "
        f"{settings.resolved_database_url.rsplit('@', 1)[-1]}"
    )
    if result.data_keys_failed:
        print(
            f"error: {len(result.data_keys_failed)} data key(s) do not open with this key "
            f"ring: {', '.join(result.data_keys_failed[:10])}",
            file=sys.stderr,
        )
        return 1
    print(f"every data key opens ({result.data_keys_opened})")
    return asyncio.run(verify_database(settings))


if __name__ == "__main__":
    raise SystemExit(main())
