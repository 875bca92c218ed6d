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
from broker.crypto import Envelope, KeyRing, open_envelope
from broker.services.bootstrap import initialise
from broker.services.keys import rotate_and_rewrap
from broker.services.webhooks import secret_aad
from broker.settings import Settings
from broker.store import Database
from broker.store.tables import (
    consultation_messages,
    consultations,
    items,
    obligations,
    reports,
    resolutions,
    webhooks,
)
from clients.sdk import CouncilClient
from tests.conftest import Broker, ManualClock
from tests.council import committee_seat, make_org

# Every sealed table with its wrapped-key and key-version columns.
SEALED_COLUMNS = (
    (items, "wrapped_key", "kek_version"),
    (obligations, "comment_wrapped_key", "comment_kek_version"),
    (consultations, "wrapped_key", "kek_version"),
    (consultation_messages, "wrapped_key", "kek_version"),
    (webhooks, "secret_wrapped_key", "secret_kek_version"),
    (reports, "wrapped_key", "kek_version"),
    (resolutions, "wrapped_key", "kek_version"),
)


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


async def test_rotation_rewraps_comments_consultations_and_webhook_secrets(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> None:
    """Not only items: feedback comments, consultations, their replies, violation reports,
    resolutions' texts and webhook signing secrets move to the new key version too, and
    still open afterwards."""
    # The webhook below names a local port: allowed here as the operator would.
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, webhook_allow_hosts=["127.0.0.1"]
    )
    first = await initialise(settings, clock)
    server = TestServer(create_app(settings, clock=clock), host="127.0.0.1")
    await server.start_server()
    broker = Broker(
        url=str(server.make_url("")).rstrip("/"),
        settings=settings,
        ring=KeyRing.load(settings.key_ring_path),
        clock=clock,
        admin_token=first["token"],
        coordinator_id=first["member_id"],
        admin_user_id=first["user_id"],
    )
    try:
        vendor = await make_org(broker, "Vendor", tier="tier_one")
        power = await make_org(broker, "Power", tier="tier_two", category="critical_infrastructure")
        item = await vendor.handler.submit(
            {
                "kind": "countermeasure",
                "title": "do not boot unpatched PCs",
                "tlp": "AMBER",
                "secret": False,
                "confidence": "low",
                "scope": {"groups": ["task_force"]},
            }
        )
        await power.handler.answer(item.id, "came", "seen on two hosts")
        asked = await power.plain.consult("something is off", "since this morning")
        await vendor.handler.reply_consultation(asked.id, "check the proxy logs")
        await power.admin._json(
            "POST", f"/v1/members/{power.id}/webhooks", json={"url": "http://127.0.0.1:9/hook"}
        )
        report = await power.plain.report("scope_breach", "our answer was forwarded")
        chair = await committee_seat(broker)
        request = await chair.create_resolution(
            "information_request",
            "logs of the outage",
            purpose="to trace the intrusion",
            scope={"groups": ["tier_two"]},
            target_member_ids=[power.id],
        )

        assert await rotate_and_rewrap(settings) == 0

        db = Database(database_url)
        try:
            async with db.read() as conn:
                for table, wrapped_key, kek_version in SEALED_COLUMNS:
                    rows = (await conn.execute(select(table))).all()
                    versions = {
                        getattr(row, kek_version)
                        for row in rows
                        if getattr(row, wrapped_key) is not None
                    }
                    assert versions == {2}, table.name
                hook = (await conn.execute(select(webhooks))).one()
        finally:
            await db.dispose()
        # Everything still opens: through the broker started before the rotation...
        own = (await power.handler.feedback(item.id))["own"]
        assert own["comment"] == "seen on two hosts"
        thread = await broker.admin.get_consultation(asked.id)
        assert (thread.body, thread.replies[0]["body"]) == (
            "since this morning",
            "check the proxy logs",
        )
        assert (await power.plain.get_report(report.id)).text == "our answer was forwarded"
        assert (await chair.get_resolution(request.id)).title == "logs of the outage"
        # ...and the webhook secret, which only the dispatcher opens, under key version 2.
        newest = KeyRing.load(settings.key_ring_path)
        envelope = Envelope(
            nonce=hook.secret_nonce,
            ciphertext=hook.secret_ciphertext,
            wrapped_key=hook.secret_wrapped_key,
            kek_version=hook.secret_kek_version,
        )
        aad = secret_aad(hook.id, hook.member_id)
        assert open_envelope(newest, envelope, content_aad=aad, key_aad=aad)
    finally:
        for client in broker.clients:
            await client.aclose()
        await server.close()
