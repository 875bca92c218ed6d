"""Real broker processes, for tests that kill, restart or replicate a broker.

The in-process `broker` fixture (tests/conftest.py) cannot be SIGKILLed or run
twice on one database as separate processes; these helpers run
`python -m broker.cli serve` for real:

    procs = Processes(tmp_path)           # kills whatever is still running on close()
    first = await init_data_dir(data_dir, env)
    broker = procs.broker("a", data_dir, env)
    await broker.start()                  # waits for /readyz
    broker.kill()                         # SIGKILL, as a crash
    await broker.start()                  # same port, same data
    await broker.stop()                   # SIGTERM, then SIGKILL if it hangs

Everything listens on 127.0.0.1. Each broker's stdout and stderr (its JSON
logs) go to a file under the test's directory; `describe()` gives its tail
for assertion messages. On Linux a broker also dies with the test process
(PR_SET_PDEATHSIG), so an interrupted run leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import resource
import secrets
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
_PR_SET_PDEATHSIG = 1
# Loaded now, not in the forked child (where loading could wait on a lock forever).
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


class BrokerFailed(AssertionError):
    """A broker process did not start, or did not stop, as expected (its log tail attached)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def broker_env(**settings: str) -> dict[str, str]:
    """The test's environment without any inherited `COUNCIL_*`, plus `settings`.

    `broker_env(DATABASE_URL=url, SWEEP_INTERVAL="PT0.5S")` sets
    `COUNCIL_DATABASE_URL` and `COUNCIL_SWEEP_INTERVAL`.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNCIL_")}
    env.update({f"COUNCIL_{name}": value for name, value in settings.items()})
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("COUNCIL_LOG_LEVEL", "warning")
    return env


async def cli(
    *args: str, env: Mapping[str, str], timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run `council-broker ARGS` to completion (without blocking the event loop)."""
    command = [sys.executable, "-m", "broker.cli", *args]
    return await asyncio.to_thread(
        subprocess.run,
        command,
        env=dict(env),
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


async def init_data_dir(data_dir: Path, env: Mapping[str, str]) -> dict[str, str]:
    """`council-broker init --data-dir DATA_DIR --json`: {"token", "member_id", "user_id"}."""
    result = await cli("init", "--data-dir", str(data_dir), "--json", env=env)
    if result.returncode != 0:
        raise BrokerFailed(f"init failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    first: dict[str, str] = json.loads(result.stdout.strip().splitlines()[-1])
    return first


async def audit_verify(data_dir: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`council-broker audit verify --data-dir DATA_DIR` (exit 0: the chain verifies)."""
    return await cli("audit", "verify", "--data-dir", str(data_dir), env=env, timeout=120)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # SIGKILL this broker if the test process dies first (Linux only; best effort).
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _child_setup(file_size_limit: int | None) -> Callable[[], None]:
    def setup() -> None:  # pragma: no cover - runs in the child between fork and exec
        _die_with_parent()
        if file_size_limit is not None:
            # A disk that fills: writes past the limit fail with EFBIG (Python
            # ignores SIGXFSZ, so the process lives on and sees the error).
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    return setup


class BrokerProcess:
    """One `council-broker serve` process: started, killed and restarted on one port.

    Start it from the event loop's thread (not `asyncio.to_thread`): the child
    is tied to the thread that forks it.
    """

    def __init__(
        self,
        name: str,
        data_dir: Path,
        env: Mapping[str, str],
        log_dir: Path,
        port: int | None,
        *,
        args: Sequence[str] = (),
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        self.data_dir = data_dir
        self.env = dict(env)
        # More `serve` arguments (--tls-cert ...); with TLS, how to trust the broker.
        self.args = tuple(args)
        self.ssl_context = ssl_context
        self.port = port or free_port()
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        # RLIMIT_FSIZE for the next start (None: no limit), to fill a "disk".
        self.file_size_limit: int | None = None

    @property
    def url(self) -> str:
        """The broker's base URL."""
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The running process's id."""
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    async def start(self, timeout: float = READY_TIMEOUT) -> float:
        """Start serving and wait until /readyz answers 200; returns the seconds it took."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.launch()
        await self.wait_ready(timeout)
        return loop.time() - started

    def launch(self) -> None:
        """Spawn `council-broker serve` (not waiting for it: see `wait_ready`)."""
        if self.running:
            raise BrokerFailed(f"{self.name} is already running")
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"--- {self.name} start #{self.starts} on port {self.port} ---\n".encode())
            log.flush()
            self.proc = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
                [
                    sys.executable,
                    "-m",
                    "broker.cli",
                    "serve",
                    "--data-dir",
                    str(self.data_dir),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    *self.args,
                ],
                env=self.env,
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_child_setup(self.file_size_limit),
            )

    async def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Poll /readyz until 200; fail with the log tail if the process exits or times out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        probe_timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=probe_timeout) as session:
            while True:
                if self.proc is None or self.proc.poll() is not None:
                    code = None if self.proc is None else self.proc.returncode
                    raise BrokerFailed(
                        f"{self.name} exited ({code}) before it was ready\n" + (self.describe())
                    )
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(
                        self.url + "/readyz", ssl=self.ssl_context or True
                    ) as response:
                        if response.status == 200:
                            return
                if loop.time() > deadline:
                    self.kill()
                    raise BrokerFailed(
                        f"{self.name} was not ready within {timeout:.0f} s\n{self.describe()}"
                    )
                await asyncio.sleep(0.05)

    def kill(self) -> int | None:
        """SIGKILL (a crash: no cleanup runs); returns the exit status once it is gone."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(timeout=10)

    async def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM and wait for a clean exit; SIGKILL (and fail) if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.proc.poll() is None:
            if loop.time() > deadline:
                self.kill()
                raise BrokerFailed(
                    f"{self.name} did not stop within {timeout:.0f} s of SIGTERM\n"
                    + self.describe()
                )
            await asyncio.sleep(0.05)
        return self.proc.returncode

    def log_text(self) -> str:
        """Everything the process wrote so far (all its starts)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_records(self) -> list[dict[str, Any]]:
        """The JSON log lines the process wrote (others skipped)."""
        records = []
        for line in self.log_text().splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    records.append(json.loads(line))
        return records

    def describe(self, tail: int = 4000) -> str:
        """Who this is and the tail of its log, for a failure message."""
        text = self.log_text()
        state = "running" if self.running else f"exited {self.proc and self.proc.returncode}"
        return (
            f"[{self.name}: pid {self.pid}, {self.url}, {state}, log {self.log_path}]\n"
            f"{text[-tail:]}"
        )


class Processes:
    """Every broker a test started; `close()` kills those still running."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.brokers: list[BrokerProcess] = []

    def broker(
        self,
        name: str,
        data_dir: Path,
        env: Mapping[str, str],
        port: int | None = None,
        *,
        args: Sequence[str] = (),
        ssl_context: ssl.SSLContext | None = None,
    ) -> BrokerProcess:
        """A broker process (not started yet); `args` go to `serve`."""
        process = BrokerProcess(
            name, data_dir, env, self.root, port, args=args, ssl_context=ssl_context
        )
        self.brokers.append(process)
        return process

    def describe(self, tail: int = 3000) -> str:
        """Every broker's log tail, for a failure message."""
        return "\n".join(b.describe(tail) for b in self.brokers)

    def close(self) -> None:
        """Kill whatever is still running (a test's cleanup, even after a failure)."""
        for process in self.brokers:
            process.kill()


def postgres_admin_dsn(url: str) -> str:
    """An asyncpg DSN from a SQLAlchemy `postgresql+asyncpg://` URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@contextlib.asynccontextmanager
async def fresh_postgres_database(base_url: str, label: str) -> AsyncIterator[str]:
    """A new, empty PostgreSQL database on `base_url`'s server, dropped afterwards.

    Unreachable server: skipped with a message, or a failure when `CI` is set
    (the rule of tests/conftest.py).
    """
    import asyncpg  # type: ignore[import-untyped]

    admin_dsn = postgres_admin_dsn(base_url)
    name = f"council_{label}_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        admin = await asyncpg.connect(admin_dsn, timeout=10)
    except OSError as exc:
        if os.environ.get("CI"):
            raise RuntimeError(f"PostgreSQL is unreachable in CI: {exc}") from exc
        pytest.skip(f"PostgreSQL at {admin_dsn} is unreachable: {exc}")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield base_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin = await asyncpg.connect(admin_dsn, timeout=10)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
