"""Child processes, ports, peak memory, percentiles and a throw-away PostgreSQL database.

Everything listens on 127.0.0.1 and everything stops by itself: a child that
does not answer its readiness check in time is killed, and stopping sends
SIGINT (aiohttp's graceful exit, which also lets a profiler write its report)
before SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import resource
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import IO, Any

import aiohttp

__all__ = [
    "HOST",
    "PYTHON",
    "REPO_ROOT",
    "Broker",
    "ChildProcess",
    "DatabaseUnavailable",
    "child_env",
    "describe_machine",
    "free_port",
    "peak_rss_bytes",
    "percentile",
    "postgres_database",
    "raise_fd_limit",
    "start_baseline",
]

HOST = "127.0.0.1"
PYTHON = sys.executable
# Children run from the repository root so that `python -m bench....` finds
# this package (the broker itself is installed in the venv).
REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def raise_fd_limit() -> int:
    """Raise this process's open-file limit to its hard limit (1,000 sockets and more)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return wanted


def peak_rss_bytes(pid: int) -> int | None:
    """The peak resident set size of a live process: VmHWM, else psutil's current RSS."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        status = ""
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    try:
        import psutil  # type: ignore[import-untyped]
    except ImportError:
        return None
    try:
        rss: int = psutil.Process(pid).memory_info().rss  # not a peak: the best available
        return rss
    except psutil.Error:
        return None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile `q` (0-100) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without COUNCIL_* settings, plus `extra`."""
    # The caller's own COUNCIL_* settings must not leak into a benchmark broker.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNCIL_")}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ChildProcess:
    """A child process on loopback, its output in a log file, its peak RSS read before it stops."""

    def __init__(self, name: str, argv: Sequence[str], log_dir: Path, env: dict[str, str]) -> None:
        """Describe the child; :meth:`start` runs it."""
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self._log: IO[bytes] | None = None
        self.proc: asyncio.subprocess.Process | None = None
        self.peak_rss: int | None = None

    @property
    def pid(self) -> int:
        """The child's process id (it must have been started)."""
        assert self.proc is not None, f"{self.name} was not started"
        return self.proc.pid

    async def start(self) -> None:
        """Start the child with stdout and stderr going to its log file."""
        self._log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
            env=self.env,
            cwd=REPO_ROOT,
        )

    async def wait_http(self, url: str, within: float = 60) -> None:
        """Poll `url` until it answers 200; raise with the log's tail if the child dies or hangs."""
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.returncode is not None:
                    code = self.proc.returncode
                    raise RuntimeError(f"{self.name} exited with {code}: {self.tail()}")
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                    async with session.get(url) as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)
        await self.stop()
        raise RuntimeError(f"{self.name} was not ready within {within:.0f} s: {self.tail()}")

    def tail(self) -> str:
        """The gist of the child's log for an error message: its last error line, and the path."""
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        errors = [line.strip() for line in lines if "Error" in line or "error" in line]
        gist = (errors or lines or ["(empty log)"])[-1][:240]
        return f"{gist} (log: {self.log_path})"

    def sample_rss(self) -> int | None:
        """Read the child's peak RSS now (it is lost once the child exits)."""
        if self.proc is not None and self.proc.returncode is None:
            self.peak_rss = peak_rss_bytes(self.proc.pid) or self.peak_rss
        return self.peak_rss

    async def stop(self, grace: float = 30) -> int | None:
        """Read the peak RSS, then SIGINT, then SIGKILL after `grace` s; returns the peak RSS."""
        proc = self.proc
        if proc is not None and proc.returncode is None:
            self.sample_rss()
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.peak_rss


class Broker:
    """One `council-broker` data directory and the `serve` process that runs on it."""

    def __init__(
        self,
        name: str,
        data_dir: Path,
        log_dir: Path,
        *,
        database_url: str | None = None,
        profile_dir: Path | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        """Describe the broker; nothing runs until :meth:`init` or :meth:`start`.

        `settings` are more `COUNCIL_*` variables for its commands.
        """
        self.name = name
        self.settings = dict(settings or {})
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.database_url = database_url
        self.profile_dir = profile_dir
        self.port = 0
        self.process: ChildProcess | None = None
        self.admin_token = ""
        self.coordinator_id = ""
        self._session: Path | None = None

    @property
    def url(self) -> str:
        """The broker's base URL."""
        return f"http://{HOST}:{self.port}"

    @property
    def sqlite_url(self) -> str:
        """The broker's database URL as the broker resolves it."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'council.db').resolve()}"

    def env(self) -> dict[str, str]:
        """The environment the broker's commands run in."""
        extra = {"COUNCIL_LOG_LEVEL": "warning", **self.settings}
        if self.database_url:
            extra["COUNCIL_DATABASE_URL"] = self.database_url
        return child_env(extra)

    async def init(self) -> dict[str, str]:
        """`council-broker init --json`: the database, the key ring, the first admin's token."""
        proc = await asyncio.create_subprocess_exec(
            PYTHON,
            "-m",
            "broker.cli",
            "init",
            "--data-dir",
            str(self.data_dir),
            "--json",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env(),
            cwd=REPO_ROOT,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        if proc.returncode != 0:
            raise RuntimeError(f"init of {self.name} failed: {err.decode(errors='replace')[-800:]}")
        first: dict[str, str] = json.loads(out.decode().strip().splitlines()[-1])
        self.admin_token = first["token"]
        self.coordinator_id = first["member_id"]
        return first

    async def start(self, *, profile_name: str | None = None) -> None:
        """`council-broker serve` on a free port; returns once /healthz answers."""
        self.port = free_port()
        serve = ["-m", "broker.cli", "serve", "--data-dir", str(self.data_dir)]
        serve += ["--port", str(self.port)]
        argv = [PYTHON, *serve]
        self._session = None
        if self.profile_dir is not None and profile_name is not None:
            self.profile_dir.mkdir(parents=True, exist_ok=True)
            self._session = self.profile_dir / f"{profile_name}.pyisession"
            argv = [PYTHON, "-m", "pyinstrument", "-r", "session", "-o", str(self._session)]
            argv += serve
        self.process = ChildProcess(self.name, argv, self.log_dir, self.env())
        await self.process.start()
        await self.process.wait_http(f"{self.url}/healthz")

    def sample_rss(self) -> int | None:
        """The serving process's peak RSS so far."""
        return self.process.sample_rss() if self.process else None

    async def stop(self) -> int | None:
        """Stop serving; returns the serving process's peak RSS."""
        if self.process is None:
            return None
        peak = await self.process.stop()
        if self._session is not None and self._session.exists():
            await _render_profile(self._session)
        return peak


async def _render_profile(session: Path) -> None:
    """A call tree and a flat list of the hottest functions, as text, next to the session."""
    renders = {
        ".txt": ["-r", "text"],
        ".flat.txt": [
            "-r",
            "text",
            "-p",
            "flat=true",
            "-p",
            "processor_options.filter_threshold=0.002",
        ],
    }
    for suffix, options in renders.items():
        target = session.with_suffix(suffix)
        proc = await asyncio.create_subprocess_exec(
            PYTHON,
            "-m",
            "pyinstrument",
            "--load",
            str(session),
            *options,
            "-o",
            str(target),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.wait_for(proc.wait(), 300)


async def start_baseline(kind: str, name: str, log_dir: Path) -> tuple[ChildProcess, str]:
    """Start `python -m bench.baselines KIND` on a free port; returns it and its base URL."""
    port = free_port()
    argv = [PYTHON, "-m", "bench.baselines", kind, "--port", str(port)]
    server = ChildProcess(name, argv, log_dir, child_env({}))
    await server.start()
    url = f"http://{HOST}:{port}"
    await server.wait_http(f"{url}/healthz")
    return server, url


class DatabaseUnavailable(Exception):
    """The PostgreSQL server cannot be reached, or will not create a database for us."""


@contextlib.asynccontextmanager
async def postgres_database(admin_url: str) -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one run, dropped afterwards.

    Raises :class:`DatabaseUnavailable` (before yielding) when it cannot be made.
    """
    import asyncpg  # type: ignore[import-untyped]

    dsn = admin_url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"council_bench_{os.getpid()}_{int(time.time())}"
    try:
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def describe_machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "platform": sys.platform,
    }
