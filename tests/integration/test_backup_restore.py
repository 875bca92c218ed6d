"""`council-broker backup` under load and `council-broker restore`, on real processes.

A broker takes submissions from several concurrent clients while `backup`
runs beside it. The backup restores into a new data directory holding only
the key ring; a broker started there verifies its audit chain and opens every
item acknowledged before the backup began, with its content. The backup file
holds neither the content of any item nor any key of the key ring. Runs on
SQLite and, with COUNCIL_TEST_POSTGRES_URL, from and to PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from broker.crypto import KeyRing
from broker.services.backup import BackupError, restore_backup
from broker.settings import Settings
from clients.sdk import CouncilClient, NotFound
from tests.procs import (
    Processes,
    audit_verify,
    broker_env,
    cli,
    fresh_postgres_database,
    init_data_dir,
)

POSTGRES_URL = os.environ.get("COUNCIL_TEST_POSTGRES_URL")
SUBMITTERS = 6
CANARY = "CANARY-7f3a9c-plaintext-never-stored"


@dataclass
class Site:
    """A data directory and the environment that points a broker at its database."""

    data_dir: Path
    env: dict[str, str]


@pytest.fixture(params=["sqlite", "postgresql"])
async def sites(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Site, Site]]:
    """Where the backup is taken, and where it is restored (the same kind of database)."""
    # Six clients submit as fast as they can: no per-token rate limit in the way.
    settings = {"CHECKPOINT_INTERVAL": "PT0.3S", "TOKEN_REQUESTS_PER_SECOND": "0"}
    source_dir, target_dir = tmp_path / "data", tmp_path / "restored"
    if request.param == "sqlite":
        yield Site(source_dir, broker_env(**settings)), Site(target_dir, broker_env(**settings))
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL run: set COUNCIL_TEST_POSTGRES_URL (e.g. make test-postgres)")
    async with (
        fresh_postgres_database(POSTGRES_URL, "backup") as source_url,
        fresh_postgres_database(POSTGRES_URL, "restore") as target_url,
    ):
        yield (
            Site(source_dir, broker_env(DATABASE_URL=source_url, **settings)),
            Site(target_dir, broker_env(DATABASE_URL=target_url, **settings)),
        )


def _settings(site: Site) -> Settings:
    return Settings(data_dir=site.data_dir, database_url=site.env.get("COUNCIL_DATABASE_URL"))


def _quiet(done: int, total: int) -> None:
    """No progress bar in-process."""


def _draft(n: int) -> dict[str, Any]:
    return {
        "kind": "analysis",
        "title": f"backup under load {n}",
        "body": f"{CANARY} submission {n}",
        "tlp": "AMBER",
        "secret": False,
        "confidence": "unconfirmed",
        "scope": {"groups": ["tier_one_group"]},
    }


async def _cast(url: str, admin_token: str) -> tuple[str, str]:
    """A tier-one provider's and a tier-one recipient's handler tokens."""
    tokens = []
    async with CouncilClient(url, admin_token) as admin:
        for name in ("Provider", "Recipient"):
            member = await admin.create_member(
                name=name, category="cyber_business", tier="tier_one"
            )
            user, token = await admin.create_user(member.id, f"{name} handler", "member_user")
            await admin.add_handler(member.id, user.id)
            tokens.append(token)
    return tokens[0], tokens[1]


async def test_a_backup_under_load_restores_into_a_broker_that_verifies_and_opens_every_item(
    procs: Processes, sites: tuple[Site, Site], tmp_path: Path
) -> None:
    """Backup while 6 clients submit; restore; the restored broker's chain verifies
    and every item acknowledged before the backup began opens with its content."""
    source, target = sites
    first = await init_data_dir(source.data_dir, source.env)
    broker = procs.broker("source", source.data_dir, source.env)
    await broker.start()
    provider_token, recipient_token = await _cast(broker.url, first["token"])
    acked: dict[str, int] = {}
    stop = asyncio.Event()

    async def submitter(k: int) -> None:
        async with CouncilClient(broker.url, provider_token, timeout=30) as client:
            n = k
            while not stop.is_set():
                result = await client.submit(_draft(n))
                acked[result.id] = n
                n += SUBMITTERS

    load = [asyncio.create_task(submitter(k)) for k in range(SUBMITTERS)]
    try:
        await asyncio.sleep(1.0)
        before = dict(acked)
        out = tmp_path / "council.backup"
        backup = await cli(
            "backup", "--data-dir", str(source.data_dir), "--out", str(out), env=source.env
        )
        during = len(acked) - len(before)
        await asyncio.sleep(0.3)
    finally:
        stop.set()
        results = await asyncio.gather(*load, return_exceptions=True)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert backup.returncode == 0, backup.stdout + backup.stderr
    assert "the key ring is not in the backup" in backup.stdout
    assert len(before) >= SUBMITTERS and during > 0, "the backup ran under load"
    after = set(acked) - set(before)
    assert out.stat().st_mode & 0o777 == 0o600

    # The canary: the backup holds no content and no key (in any encoding).
    raw = out.read_bytes()
    assert CANARY.encode() not in raw
    ring = KeyRing.load(source.data_dir / "keyring.json")
    document = json.loads((source.data_dir / "keyring.json").read_text())
    for section in ("keks", "signing_keys"):
        for encoded in document[section].values():
            key = base64.b64decode(encoded)
            for form in (key, encoded.encode(), key.hex().encode()):
                assert form not in raw, f"{section} material in the backup"
    assert ring.to_env_value().encode() not in raw
    assert first["token"].encode() not in raw and provider_token.encode() not in raw

    # Restoring needs the key ring: without it, one line saying where to put it.
    target.data_dir.mkdir()
    refused = await cli(
        "restore", "--data-dir", str(target.data_dir), "--from", str(out), env=target.env
    )
    assert refused.returncode == 1
    assert "keyring.json" in refused.stderr and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    # A key ring lacking the backup's key version is named exactly.
    KeyRing.create(target.data_dir / "keyring.json")
    with pytest.raises(BackupError, match="key version 1 in the key ring is another key") as wrong:
        await restore_backup(_settings(target), out, _quiet)
    assert ring.check_value(1) in str(wrong.value)
    assert not (target.data_dir / "council.db").exists()
    (target.data_dir / "keyring.json").unlink()

    shutil.copy2(source.data_dir / "keyring.json", target.data_dir / "keyring.json")
    os.chmod(target.data_dir / "keyring.json", 0o600)
    restored = await cli(
        "restore", "--data-dir", str(target.data_dir), "--from", str(out), env=target.env
    )
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "every data key opens" in restored.stdout
    assert "ok: " in restored.stdout and "verified in the database" in restored.stdout
    with pytest.raises(BackupError, match="already"):
        await restore_backup(_settings(target), out, _quiet)

    await broker.stop()
    second = procs.broker("restored", target.data_dir, target.env)
    await second.start()
    async with CouncilClient(second.url, recipient_token) as recipient:
        sem = asyncio.Semaphore(8)

        async def opens(item_id: str) -> str:
            async with sem:
                return (await recipient.get_item(item_id)).title

        titles = await asyncio.gather(*(opens(i) for i in before))
        assert titles == [f"backup under load {n}" for n in before.values()]
        # Acknowledged after the backup finished: not in it (a snapshot, not a log).
        late = sorted(after)[-1]
        with pytest.raises(NotFound):
            await recipient.get_item(late)
        # The restored broker takes new work and its chain still verifies.
        async with CouncilClient(second.url, provider_token) as provider:
            await provider.submit(_draft(10_000))
    await second.stop()
    final = await audit_verify(target.data_dir, target.env)
    assert final.returncode == 0, final.stdout + final.stderr


async def test_a_file_that_is_not_a_backup_is_refused_in_one_line(tmp_path: Path) -> None:
    """Restoring from anything but a backup says so, with no traceback."""
    data = tmp_path / "data"
    data.mkdir()
    KeyRing.create(data / "keyring.json")
    bogus = tmp_path / "bogus.db"
    with contextlib.closing(sqlite3.connect(bogus)) as db:
        db.execute("CREATE TABLE t (x)")
    result = await cli("restore", "--data-dir", str(data), "--from", str(bogus), env=broker_env())
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {bogus} is not a council broker backup"
    settings = Settings(data_dir=data)
    for path, says in (
        (tmp_path / "missing.backup", "does not exist"),
        (data / "keyring.json", "is not a council broker backup"),
    ):
        with pytest.raises(BackupError, match=says):
            await restore_backup(settings, path, _quiet)
