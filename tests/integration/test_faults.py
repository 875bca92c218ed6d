"""Faults a deployment meets, against real broker processes.

- PostgreSQL goes away under load and comes back (a TCP proxy the test
  controls stands between the broker and the machine's PostgreSQL, and cuts
  every connection): while it is down the broker answers 503 `unavailable`
  with `Retry-After`, never a 500; it recovers without a restart; no
  acknowledged submission is lost and the audit chain verifies.
- The disk fills under SQLite (a small tmpfs when this process may mount one,
  else RLIMIT_FSIZE on the broker): a 507 `storage_full` (or 503), never a
  500; reads go on; after space is freed the database passes SQLite's
  integrity check, the chain verifies and every acknowledged item opens.
- The key ring is missing or corrupt: `serve` refuses to start with one line
  that says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from broker.crypto import KeyRing
from broker.services.bootstrap import UNREADABLE
from clients.sdk import CouncilClient, CouncilError
from tests.procs import (
    Processes,
    audit_verify,
    broker_env,
    cli,
    free_port,
    fresh_postgres_database,
    init_data_dir,
)

POSTGRES_URL = os.environ.get("COUNCIL_TEST_POSTGRES_URL")


def _draft(n: int, body: str = "") -> dict[str, Any]:
    return {
        "kind": "analysis",
        "title": f"fault {n}",
        "body": body or f"submission {n}",
        "tlp": "AMBER",
        "secret": False,
        "confidence": "unconfirmed",
        "scope": {"groups": ["tier_one_group"]},
    }


async def _cast(url: str, admin_token: str) -> tuple[str, str]:
    """A tier-one provider's and a tier-one recipient's handler tokens."""
    tokens = []
    async with CouncilClient(url, admin_token, timeout=30) as admin:
        for name in ("Provider", "Recipient"):
            member = await admin.create_member(
                name=name, category="cyber_business", tier="tier_one"
            )
            user, token = await admin.create_user(member.id, f"{name} handler", "member_user")
            await admin.add_handler(member.id, user.id)
            tokens.append(token)
    return tokens[0], tokens[1]


async def _all_open(url: str, token: str, acked: dict[str, int]) -> None:
    """Every acknowledged submission opens for the recipient, with its title."""
    async with CouncilClient(url, token, timeout=30) as recipient:
        sem = asyncio.Semaphore(8)

        async def title(item_id: str) -> str | None:
            async with sem:
                return (await recipient.get_item(item_id)).title

        titles = await asyncio.gather(*(title(i) for i in acked))
    assert titles == [f"fault {n}" for n in acked.values()]


# -- PostgreSQL restarted under load ----------------------------------------------


class CuttableProxy:
    """A TCP proxy to PostgreSQL that can drop every connection and refuse new ones."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()

    async def start(self) -> None:
        """Accept connections (again) on the proxy's port."""
        self.server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )

    async def cut(self) -> None:
        """As if the server died: every connection reset, new ones refused."""
        assert self.server is not None
        self.server.close()
        for client, upstream in list(self.pairs):
            client.transport.abort()
            upstream.transport.abort()
        self.pairs.clear()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        self.pairs.add(pair)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.pairs.discard(pair)


@pytest.fixture
async def proxied_postgres() -> AsyncIterator[tuple[str, CuttableProxy]]:
    """A fresh PostgreSQL database, and its URL through a proxy the test can cut."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL run: set COUNCIL_TEST_POSTGRES_URL (e.g. make test-postgres)")
    async with fresh_postgres_database(POSTGRES_URL, "fault") as url:
        from sqlalchemy import make_url

        parsed = make_url(url)
        proxy = CuttableProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
        await proxy.start()
        try:
            yield parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(False), proxy
        finally:
            with contextlib.suppress(Exception):
                await proxy.cut()


async def test_postgres_down_under_load_is_a_clean_503_and_the_broker_recovers(
    procs: Processes, tmp_path: Path, proxied_postgres: tuple[str, CuttableProxy]
) -> None:
    """Cut PostgreSQL for 3 s under load: 503 with Retry-After while down, no 500,
    recovery without a restart, every acknowledged submission kept."""
    url, proxy = proxied_postgres
    env = broker_env(DATABASE_URL=url, CHECKPOINT_INTERVAL="PT0.5S")
    data_dir = tmp_path / "data"
    first = await init_data_dir(data_dir, env)
    broker = procs.broker("pg", data_dir, env)
    await broker.start()
    provider_token, recipient_token = await _cast(broker.url, first["token"])
    acked: dict[str, int] = {}
    unavailable: list[CouncilError] = []
    unexpected: list[str] = []
    phase = {"name": "before"}
    acked_after_restore = asyncio.Event()
    stop = asyncio.Event()

    async def submitter(k: int) -> None:
        async with CouncilClient(broker.url, provider_token, timeout=30) as client:
            n = k
            while not stop.is_set():
                n += 4
                try:
                    result = await client.submit(_draft(n))
                except CouncilError as exc:
                    if exc.status == 503 and exc.code == "unavailable":
                        unavailable.append(exc)
                    else:
                        unexpected.append(f"{phase['name']}: {exc!r}")
                    await asyncio.sleep(0.1)
                    continue
                acked[result.id] = n
                if phase["name"] == "restored":
                    acked_after_restore.set()

    load = [asyncio.create_task(submitter(k)) for k in range(4)]
    statuses: list[tuple[int, str | None]] = []
    try:
        await asyncio.sleep(1.0)
        phase["name"] = "down"
        await proxy.cut()
        async with aiohttp.ClientSession() as session:
            for _ in range(10):
                headers = {"Authorization": f"Bearer {provider_token}"}
                async with session.get(broker.url + "/v1/inbox", headers=headers) as answer:
                    statuses.append((answer.status, answer.headers.get("Retry-After")))
                await asyncio.sleep(0.3)
            async with session.get(broker.url + "/readyz") as ready:
                ready_while_down = ready.status
        await proxy.start()
        phase["name"] = "restored"
        await asyncio.wait_for(acked_after_restore.wait(), 30)
        await asyncio.sleep(0.5)
    finally:
        stop.set()
        await asyncio.gather(*load, return_exceptions=True)
    assert broker.running and broker.starts == 1, "recovered without a restart"
    assert not unexpected, unexpected[:5]
    assert unavailable, "submissions while PostgreSQL was down were answered 503"
    # Reads signed in before the cut may come from the sign-in cache, then fail
    # at the database: every answer is a 503 with Retry-After, never a 500.
    assert {status for status, _ in statuses} <= {503}, statuses
    assert all(retry == "2" for _, retry in statuses), statuses
    assert ready_while_down == 503
    await _all_open(broker.url, recipient_token, acked)
    await broker.stop()
    verified = await audit_verify(data_dir, env)
    assert verified.returncode == 0, verified.stdout + verified.stderr


# -- The disk fills under SQLite ---------------------------------------------------


@contextlib.contextmanager
def _small_disk(path: Path, size: str) -> Any:
    """A tmpfs of `size` at `path` if this process may mount one; yields whether it did."""
    path.mkdir()
    mount = shutil.which("mount")
    mounted = False
    if mount is not None and os.geteuid() == 0:
        result = subprocess.run(  # noqa: S603 - fixed arguments
            [mount, "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
            capture_output=True,
            check=False,
        )
        mounted = result.returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            umount = shutil.which("umount") or "umount"
            subprocess.run([umount, "-l", str(path)], capture_output=True, check=False)  # noqa: S603


def _grow(path: Path, size: str) -> None:
    mount = shutil.which("mount") or "mount"
    subprocess.run(  # noqa: S603 - fixed arguments
        [mount, "-o", f"remount,size={size}", str(path)], check=True, capture_output=True
    )


async def test_a_full_disk_is_a_clean_507_and_nothing_is_corrupted(
    procs: Processes, tmp_path: Path
) -> None:
    """Submit until the disk is full: 507 `storage_full` (or 503), never a 500; reads
    go on; once there is room, integrity check, chain and every acknowledged item hold."""
    disk = tmp_path / "disk"
    with _small_disk(disk, "6m") as mounted:
        data_dir = disk / "data"
        env = broker_env(CHECKPOINT_INTERVAL="PT0.5S")
        first = await init_data_dir(data_dir, env)
        broker = procs.broker("full", data_dir, env)
        if not mounted:
            # No tmpfs: the broker's files may not grow past a few MiB instead (then
            # SQLite meets EFBIG, a disk I/O error: 503).
            used = sum(f.stat().st_size for f in data_dir.iterdir())
            broker.file_size_limit = used + 6 * 1024 * 1024
        try:
            await broker.start()
            provider_token, recipient_token = await _cast(broker.url, first["token"])
            acked: dict[str, int] = {}
            refused: list[CouncilError] = []
            filler = "x" * 200_000
            async with CouncilClient(broker.url, provider_token, timeout=30) as provider:
                for n in range(200):
                    try:
                        result = await provider.submit(_draft(n, body=f"{n} {filler}"))
                    except CouncilError as exc:
                        refused.append(exc)
                        if len(refused) >= 3:
                            break
                        continue
                    acked[result.id] = n
            assert refused, "the disk never filled"
            assert acked, "nothing fitted before the disk filled"
            for exc in refused:
                assert (exc.status, exc.code) in {(507, "storage_full"), (503, "unavailable")}, exc
            if mounted:
                assert refused[0].status == 507, refused[0]
            # Opening an item is audited (SPEC §5): an access that cannot be recorded
            # is not served, and says why; the process itself stays up.
            async with CouncilClient(broker.url, recipient_token, timeout=30) as recipient:
                with pytest.raises(CouncilError) as unrecorded:
                    await recipient.get_item(next(iter(acked)))
                assert unrecorded.value.status in (507, 503), unrecorded.value
                assert (await recipient.health())["status"] == "ok"
            assert broker.running
            await broker.stop()
            if mounted:
                _grow(disk, "64m")
            else:
                broker.file_size_limit = None
            with contextlib.closing(sqlite3.connect(data_dir / "council.db")) as db:
                assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            verified = await audit_verify(data_dir, env)
            assert verified.returncode == 0, verified.stdout + verified.stderr
            await broker.start()
            await _all_open(broker.url, recipient_token, acked)
            async with CouncilClient(broker.url, provider_token, timeout=30) as provider:
                await provider.submit(_draft(999))
        finally:
            broker.kill()


# -- The key ring missing or corrupt ----------------------------------------------


async def _serve_once(data_dir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return await cli(
        "serve", "--data-dir", str(data_dir), "--port", str(free_port()), env=env, timeout=60
    )


async def test_the_broker_refuses_to_start_without_a_usable_key_ring(tmp_path: Path) -> None:
    """Missing, corrupt, or too widely readable: exit 4 (unreadable) with one line naming
    the problem."""
    data_dir = tmp_path / "data"
    env = broker_env()
    await init_data_dir(data_dir, env)
    ring_file = data_dir / "keyring.json"
    saved = ring_file.read_bytes()
    cases = []
    ring_file.unlink()
    cases.append(("is missing", await _serve_once(data_dir, env)))
    ring_file.write_bytes(saved.replace(b'"current_kek": 1', b'"current_kek": 7'))
    ring_file.chmod(0o600)
    cases.append(("must name a version present", await _serve_once(data_dir, env)))
    ring_file.write_bytes(saved)
    ring_file.chmod(0o644)
    cases.append(("chmod 600", await _serve_once(data_dir, env)))
    ring_file.chmod(0o600)
    env_corrupt = broker_env(KEY_RING="not-base64!")
    cases.append(("not valid base64", await _serve_once(data_dir, env_corrupt)))
    for says, result in cases:
        assert result.returncode == UNREADABLE, (says, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        assert says in lines[0] and "key ring" in lines[0], lines[0]
        assert "Traceback" not in result.stdout + result.stderr
    assert KeyRing.load(ring_file).kek_versions == (1,)
