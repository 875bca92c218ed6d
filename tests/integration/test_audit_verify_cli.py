"""`council-broker audit verify` catches every kind of tampering and names the event."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text, update

from broker.services.audit import AuditService
from broker.services.auditor import Auditor
from broker.services.keyring import Keys
from broker.store.tables import audit_events
from broker.store.uow import Store
from tests.conftest import Broker
from tests.council import draft, make_council


def _verify(broker: Broker, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "COUNCIL_DATABASE_URL": broker.settings.resolved_database_url,
        "COUNCIL_KEY_RING": broker.ring.to_env_value(),
    }
    return subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [
            sys.executable,
            "-m",
            "broker.cli",
            "audit",
            "verify",
            "--data-dir",
            str(broker.settings.data_dir),
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


async def _checkpoint(broker: Broker) -> None:
    store = Store(broker.database())
    service = AuditService(
        store=store,
        keys=Keys(broker.ring),
        clock=broker.clock,
        auditor=Auditor(store, broker.clock),
        checkpoint_every=broker.settings.checkpoint_every_events,
    )
    await service.checkpoint(force=True)
    await store.dispose()


@pytest.fixture
async def busy_broker(broker: Broker) -> Broker:
    """A broker whose audit log has a few dozen events and a signed checkpoint."""
    council = await make_council(broker)
    item = await council.vendor_a.handler.submit(draft())
    await council.vendor_b.handler.get_item(item.id)
    await council.vendor_b.handler.inbox()
    await _checkpoint(broker)
    return broker


async def _row(broker: Broker, seq: int) -> dict[str, Any]:
    db = broker.database()
    async with db.read() as conn:
        row = (await conn.execute(select(audit_events).where(audit_events.c.seq == seq))).one()
    await db.dispose()
    return dict(row._mapping)


async def _sql(broker: Broker, *statements: Any) -> None:
    db = broker.database()
    async with db.write() as conn:
        for statement in statements:
            await conn.execute(statement)
    await db.dispose()


async def test_clean_chain_verifies(busy_broker: Broker) -> None:
    """An untouched log verifies: exit 0."""
    result = _verify(busy_broker)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok:" in result.stdout


async def test_modified_event_is_named(busy_broker: Broker) -> None:
    """Editing one field of event 5 is reported as modified at seq 5."""
    await _sql(
        busy_broker,
        update(audit_events).where(audit_events.c.seq == 5).values(reason="nothing to see"),
    )
    result = _verify(busy_broker)
    assert result.returncode == 1
    assert "modified at seq 5" in result.stdout


async def test_deleted_event_is_named(busy_broker: Broker) -> None:
    """Deleting event 7 is reported as deleted at seq 7."""
    await _sql(busy_broker, delete(audit_events).where(audit_events.c.seq == 7))
    result = _verify(busy_broker)
    assert result.returncode == 1
    assert "deleted at seq 7" in result.stdout


async def test_swapped_rows_are_named(busy_broker: Broker) -> None:
    """Swapping the rows of events 5 and 6 in the database is caught at seq 5 (each
    event's seq is inside its hash, so renumbering it reads as a modification)."""
    five, six = await _row(busy_broker, 5), await _row(busy_broker, 6)
    await _sql(
        busy_broker,
        delete(audit_events).where(audit_events.c.seq.in_([5, 6])),
        insert(audit_events).values({**six, "seq": 5}),
        insert(audit_events).values({**five, "seq": 6}),
    )
    result = _verify(busy_broker)
    assert result.returncode == 1
    assert "at seq 5" in result.stdout


async def test_inserted_event_is_named(busy_broker: Broker) -> None:
    """A forged event slipped in at seq 10 (later ones renumbered) is reported."""
    forged = {
        **(await _row(busy_broker, 10)),
        "id": "01FORGEDFORGEDFORGEDFORGED",
        "action": "item.read",
    }
    db = busy_broker.database()
    async with db.write() as conn:
        size = (await conn.execute(text("SELECT max(seq) FROM audit_events"))).scalar_one()
        for seq in range(int(size), 9, -1):
            await conn.execute(
                update(audit_events).where(audit_events.c.seq == seq).values(seq=seq + 1)
            )
        await conn.execute(insert(audit_events).values(forged))
    await db.dispose()
    result = _verify(busy_broker)
    assert result.returncode == 1
    assert "at seq 10" in result.stdout
    assert "inserted" in result.stdout or "modified" in result.stdout


async def test_truncated_tail_is_caught_by_the_signed_checkpoint(busy_broker: Broker) -> None:
    """Cutting the newest events off is caught because a signed checkpoint covers them."""
    db = busy_broker.database()
    async with db.write() as conn:
        size = (await conn.execute(text("SELECT max(seq) FROM audit_events"))).scalar_one()
        await conn.execute(delete(audit_events).where(audit_events.c.seq >= int(size) - 1))
    await db.dispose()
    result = _verify(busy_broker)
    assert result.returncode == 1
    assert "TAMPERED" in result.stdout


async def test_export_verifies_offline_and_an_edited_line_is_caught(
    busy_broker: Broker, tmp_path: Path
) -> None:
    """The JSON Lines export verifies on its own; an edited line names its event."""
    client = busy_broker.admin
    lines = [line async for line in client.audit_export()]
    import json

    export = tmp_path / "audit.jsonl"
    export.write_text("".join(json.dumps(line) + "\n" for line in lines))
    ok = _verify(busy_broker, "--export", str(export))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    events = [line for line in lines if line.get("type") == "event"]
    events[3]["actor_user_id"] = "someone-else"
    export.write_text("".join(json.dumps(line) + "\n" for line in lines))
    bad = _verify(busy_broker, "--export", str(export))
    assert bad.returncode == 1
    assert f"at seq {events[3]['seq']}" in bad.stdout


async def test_reordered_export_lines_are_named(busy_broker: Broker, tmp_path: Path) -> None:
    """Swapping two event lines of an export is reported as reordered."""
    import json

    lines = [line async for line in busy_broker.admin.audit_export()]
    events = [n for n, line in enumerate(lines) if line.get("type") == "event"]
    first, second = events[4], events[5]
    lines[first], lines[second] = lines[second], lines[first]
    export = tmp_path / "audit.jsonl"
    export.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = _verify(busy_broker, "--export", str(export))
    assert result.returncode == 1
    assert "reordered at seq 5" in result.stdout or "reordered at seq 6" in result.stdout


def _verify_without_ring(*args: str) -> subprocess.CompletedProcess[str]:
    # Another machine: no key ring in the environment, an empty data directory.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNCIL_")}
    return subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "broker.cli", "audit", "verify", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


async def test_an_export_verifies_with_the_published_public_key_alone(
    busy_broker: Broker, tmp_path: Path
) -> None:
    """SPEC §5 (the log is verifiable offline): --public-key needs no key ring; edits are caught."""
    import json

    client = busy_broker.admin
    lines = [line async for line in client.audit_export()]
    assert lines[0]["type"] == "keys"  # the export's header names its keys
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(await client.audit_keys()))
    export = tmp_path / "audit.jsonl"
    export.write_text("".join(json.dumps(line) + "\n" for line in lines))
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    ok = _verify_without_ring(
        "--data-dir", str(empty), "--export", str(export), "--public-key", str(keys)
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "signed checkpoints" in ok.stdout
    events = [line for line in lines if line.get("type") == "event"]
    events[2]["action"] = "item_read"
    export.write_text("".join(json.dumps(line) + "\n" for line in lines))
    bad = _verify_without_ring(
        "--data-dir", str(empty), "--export", str(export), "--public-key", str(keys)
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr


async def test_a_forged_public_key_file_does_not_verify_the_checkpoints(
    busy_broker: Broker, tmp_path: Path
) -> None:
    """SPEC §5: checkpoint signatures are checked against the given key, not the export's."""
    import base64
    import json

    from broker.crypto import KeyRing

    lines = [line async for line in busy_broker.admin.audit_export()]
    export = tmp_path / "audit.jsonl"
    export.write_text("".join(json.dumps(line) + "\n" for line in lines))
    other = KeyRing.generate().public_keys()
    keys = tmp_path / "keys.json"
    keys.write_text(
        json.dumps(
            {
                "keys": [
                    {"key_id": k, "public_key": base64.b64encode(v).decode()}
                    for k, v in other.items()
                ]
            }
        )
    )
    result = _verify_without_ring("--export", str(export), "--public-key", str(keys))
    assert result.returncode == 1, result.stdout + result.stderr
    keys.write_text("{nope")
    unreadable = _verify_without_ring("--export", str(export), "--public-key", str(keys))
    assert unreadable.returncode == 2
    assert "GET /v1/audit/keys" in unreadable.stderr or "not JSON" in unreadable.stderr
