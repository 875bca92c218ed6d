"""`council-broker`: init, serve, migrate, keys rotate, audit verify, tls init / client,
backup, restore.

Every failure is one line on stderr that says what to do, with a documented
exit status (`EXIT_STATUSES`, shown by `--help`); never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
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
        description="Run and maintain a council broker: init, serve, tls, migrate, keys "
        "rotate, audit verify, backup, restore. Every failure is one line on stderr saying "
        "what to do.",
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
    serve.add_argument("--tls-cert", type=Path, help="serve HTTPS with this PEM certificate chain")
    serve.add_argument("--tls-key", type=Path, help="the private key of --tls-cert (PEM)")
    serve.add_argument(
        "--client-ca",
        type=Path,
        help="mutual TLS: client certificates from this CA, each naming its user, are required",
    )
    serve.set_defaults(run=_serve)

    tls = commands.add_parser("tls", help="a private CA and certificates for TLS")
    tls_commands = tls.add_subparsers(dest="tls_command", required=True)
    tls_init = tls_commands.add_parser(
        "init", help="make a private CA and a server certificate in DATA_DIR/tls/"
    )
    data_dir(tls_init)
    tls_init.add_argument(
        "--name",
        action="append",
        default=[],
        help="a DNS name of the broker (repeatable; default: localhost and this host's name)",
    )
    tls_init.add_argument(
        "--ip",
        action="append",
        default=[],
        help="an IP address of the broker (repeatable; default: 127.0.0.1 and ::1)",
    )
    tls_init.add_argument(
        "--days", type=int, default=397, help="server certificate validity (default 397)"
    )
    tls_init.set_defaults(run=_tls_init)
    tls_client = tls_commands.add_parser(
        "client", help="issue a client certificate bound to a user, from the CA of tls init"
    )
    data_dir(tls_client)
    tls_client.add_argument("--user", required=True, help="the user id the certificate names")
    tls_client.add_argument("--days", type=int, default=397, help="validity (default 397)")
    tls_client.set_defaults(run=_tls_client)

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
    for name in ("tls_cert", "tls_key", "client_ca"):
        if getattr(args, name, None) is not None:
            overrides[name] = getattr(args, name)
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

    try:
        # Before anything else: a half-given TLS configuration is a typo to fix now.
        context = _tls_context(settings)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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

    if not _key_ring_opens(settings):
        return UNREADABLE
    asyncio.run(migrate())
    scheme = "https" if context is not None else "http"
    print(f"Council broker listening on {scheme}://{settings.host}:{settings.port}", flush=True)
    try:
        _run_app(web, create_app(settings), settings, context)
    except OSError as exc:
        print(
            f"error: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}; "
            "choose another --port (COUNCIL_PORT) or stop what uses it",
            file=sys.stderr,
        )
        return 1
    return 0


def _run_app(web: Any, app: Any, settings: Settings, context: ssl.SSLContext | None) -> None:
    from broker.app import server_options

    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        ssl_context=context,
        print=None,
        loop=_serving_loop(),
        **server_options(settings),
        # Streams are closed as shutdown begins and other requests take
        # milliseconds: a handler still running after this is stuck, and a
        # supervisor (systemd, the tests) must see the broker stop.
        shutdown_timeout=_HANDLERS_STOP_SECONDS,
    )


_HANDLERS_STOP_SECONDS = 5.0


def _tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The SSL context of `--tls-cert`/`--tls-key` (and `--client-ca`), or None."""
    from broker.tls import server_context

    if settings.tls_cert is None and settings.tls_key is None:
        if settings.client_ca is not None:
            raise ValueError("--client-ca needs TLS: give --tls-cert and --tls-key too")
        return None
    if settings.tls_cert is None or settings.tls_key is None:
        raise ValueError("TLS needs both --tls-cert and --tls-key")
    return server_context(settings.tls_cert, settings.tls_key, settings.client_ca)


def _tls_init(args: argparse.Namespace, settings: Settings) -> int:
    import socket

    from broker.tls import CertificateAuthority, TlsFiles

    files = TlsFiles.of(settings.data_dir)
    authority = CertificateAuthority(files)
    if authority.exists():
        print(f"error: {files.root} already holds a CA; remove it to start over", file=sys.stderr)
        return 1
    names = tuple(args.name) or ("localhost", socket.gethostname())
    ips = tuple(args.ip) or ("127.0.0.1", "::1")
    try:
        authority.init(dns_names=names, ip_addresses=ips, days=args.days)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Made a private CA and a server certificate for {', '.join(names + ips)}.")
    print(f"  serve:   council-broker serve --tls-cert {files.server_cert} \\")
    print(f"             --tls-key {files.server_key}")
    print(f"           (add --client-ca {files.ca_cert} for mutual TLS)")
    print(f"  clients: COUNCIL_CA={files.ca_cert}")
    print(f"  keep {files.ca_key} private: it signs certificates the broker trusts")
    return 0


def _tls_client(args: argparse.Namespace, settings: Settings) -> int:
    from broker.tls import CertificateAuthority, TlsFiles

    authority = CertificateAuthority(TlsFiles.of(settings.data_dir))
    if not authority.exists():
        print("error: no CA here yet; run `council-broker tls init` first", file=sys.stderr)
        return 1
    try:
        cert, key = authority.issue_client(args.user, days=args.days)
    except FileExistsError as exc:
        print(f"error: {exc.filename} exists; remove it to issue a new one", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Issued a client certificate for user {args.user}.")
    print(f"  COUNCIL_CLIENT_CERT={cert}")
    print(f"  COUNCIL_CLIENT_KEY={key}")
    return 0


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
    (group commit, thread hops), and lower WebSocket latency. Nothing else
    changes: the same app runs on either loop.
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

    # Nothing to back up, or nothing readable: the same line and status as elsewhere.
    _require_initialised(settings)
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
