"""`council-broker keys rotate` re-wraps every data key while the broker serves."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path

from aiohttp.test_utils import TestServer
from sqlalchemy import select

from broker.app import create_app
from broker.services.bootstrap import initialise
from broker.settings import Settings
from broker.store import Database
from broker.store.tables import items
from clients.sdk import CouncilClient
from tests.conftest import ManualClock


async def test_rotation_rewraps_every_key_and_serving_continues(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    """After rotation every data key is under the new version and still opens,
    through a broker that was started before the rotation."""
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    first = await initialise(settings, clock)
    ring_file = settings.key_ring_path
    assert ring_file.stat().st_mode & 0o077 == 0  # the key ring is 0600
    server = TestServer(create_app(settings, clock=clock), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    async with CouncilClient(url, first["token"]) as admin:
        ids = []
        for n in range(5):
            result = await admin.submit(
                {
                    "kind": "notice",
                    "title": f"notice {n}",
                    "body": "x",
                    "tlp": "GREEN",
                    "secret": n % 2 == 0,
                    "scope": {"groups": ["all_members"]},
                }
            )
            ids.append(result.id)
        # Rotate in another process while this broker keeps answering reads.
        rotation = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "broker.cli",
            "keys",
            "rotate",
            "--data-dir",
            str(settings.data_dir),
            env={**os.environ, "COUNCIL_DATABASE_URL": database_url},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        reads = 0
        while rotation.returncode is None:
            for item_id in ids:
                assert (await admin.get_item(item_id)).title.startswith("notice")
                reads += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(rotation.wait(), 0.05)
        output = (await rotation.communicate())[0].decode()
        assert rotation.returncode == 0, output
        assert "new key version 2" in output
        assert reads > 0
        db = Database(database_url)
        async with db.read() as conn:
            versions = set((await conn.execute(select(items.c.kek_version))).scalars())
        await db.dispose()
        assert versions == {2}
        for item_id in ids:
            assert (await admin.get_item(item_id)).title.startswith("notice")
        late = await admin.submit(
            {
                "kind": "notice",
                "title": "after rotation",
                "tlp": "GREEN",
                "secret": False,
                "scope": {"groups": ["all_members"]},
            }
        )
        assert (await admin.get_item(late.id)).title == "after rotation"
    await server.close()
