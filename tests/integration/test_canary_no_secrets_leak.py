"""Canary strings planted in items, violation reports and tokens never reach a log line
or a database file."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker.logging import configure_logging
from tests.conftest import Broker
from tests.council import committee_seat, draft, make_council

CANARIES = {
    "title": "CANARY-TITLE-7f3a9c",
    "body": "CANARY-BODY-51e2d0",
    "victim": "CANARY-VICTIM-c4b8e1",
    "stix": "CANARY-STIX-99ad02",
    "consent": "CANARY-BREAKGLASS-0b7e",
    "report": "CANARY-REPORT-3d61f0",
    "report_note": "CANARY-REPORT-NOTE-a24c7b",
    "resolution_title": "CANARY-RESOLUTION-TITLE-e8d1f4",
    "resolution_text": "CANARY-RESOLUTION-TEXT-07b93a",
    "resolution_purpose": "CANARY-RESOLUTION-PURPOSE-5c2e66",
    "recusal": "CANARY-RECUSAL-b1a7d9",
    "refusal": "CANARY-REFUSAL-4f0c28",
}


@pytest.fixture
def json_logs(tmp_path: Path) -> Iterator[Path]:
    """The broker's real JSON logging, written to a file the test reads back."""
    path = tmp_path / "broker.log"
    with path.open("w") as stream:
        configure_logging("info", stream)
        yield path
    configure_logging("warning", sys.stderr)


async def test_no_canary_in_logs_or_database_files(broker: Broker, json_logs: Path) -> None:
    """Item content, victim names, violation reports (art. 29: their text and the
    secretariat's notes), resolutions' texts and the reasons given on them (art. 11),
    tokens and keys appear in no log line and in no byte of the SQLite files, whatever
    path the request took."""
    council = await make_council(broker)
    stix = {
        "type": "bundle",
        "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
        "objects": [
            {
                "type": "indicator",
                "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                "name": CANARIES["stix"],
            }
        ],
    }
    item = await council.vendor_a.handler.submit(
        draft(
            title=CANARIES["title"],
            body=CANARIES["body"],
            secret=True,
            stix=stix,
            victim={"name": CANARIES["victim"], "damage": True},
        )
    )
    await council.vendor_b.handler.get_item(item.id)
    await council.vendor_b.handler.inbox()
    await council.coordinator.get_item(item.id)
    await council.secretariat_handler.break_glass(item.id, CANARIES["consent"] + " dispute")
    for denied in (council.power.handler, council.vendor_b.plain):
        with pytest.raises(Exception):  # noqa: B017 - any refusal will do
            await denied.get_item(item.id)
    derived = await council.vendor_b.handler.submit(
        draft(
            kind="countermeasure",
            title=CANARIES["title"],
            derived_from=[item.id],
            secret=True,
            scope={"groups": ["tier_two"]},
        )
    )
    await council.vendor_a.handler.consent(item.id, derived.id)
    await council.vendor_a.handler.withdraw(item.id)
    report = await council.vendor_c.handler.report(
        "leak", CANARIES["report"] + " seen outside", item_id=item.id, member_id=council.police.id
    )
    await council.vendor_c.handler.get_report(report.id)
    await council.secretariat_plain.reports()
    await council.secretariat_plain.update_report(
        report.id, "investigating", note=CANARIES["report_note"]
    )
    for outsider in (council.police.handler, council.coordinator):
        with pytest.raises(Exception):  # noqa: B017 - any refusal will do
            await outsider.get_report(report.id)

    chair = await committee_seat(broker)
    asked = []
    for _ in range(2):
        asked.append(
            await council.secretariat_plain.create_resolution(
                "information_request",
                CANARIES["resolution_title"],
                text=CANARIES["resolution_text"],
                purpose=CANARIES["resolution_purpose"],
                scope={"groups": ["tier_two"]},
                target_member_ids=[council.vendor_a.id],
            )
        )
    await chair.recuse(asked[0].id, CANARIES["recusal"] + " interest")
    await chair.refuse(asked[1].id, CANARIES["refusal"] + " out of order")
    # Opened for those who may read them: the offices see the texts and reasons.
    recused, refused = [
        await council.secretariat_plain._json("GET", f"/v1/resolutions/{r.id}") for r in asked
    ]
    assert recused["title"] == refused["title"] == CANARIES["resolution_title"]
    assert recused["text"] == CANARIES["resolution_text"]
    assert recused["purpose"] == CANARIES["resolution_purpose"]
    assert recused["recusals"][0]["reason"] == CANARIES["recusal"] + " interest"
    assert refused["refusal_reason"] == CANARIES["refusal"] + " out of order"
    await council.secretariat_plain.resolutions()

    tokens = [client._token for client in broker.clients if client._token]
    keys = json.loads(base64.b64decode(broker.ring.to_env_value()))
    key_strings = [v for group in ("keks", "signing_keys") for v in keys[group].values()]
    forbidden = [
        CANARIES["title"],
        CANARIES["body"],
        CANARIES["victim"],
        CANARIES["stix"],
        CANARIES["report"],
        CANARIES["report_note"],
        CANARIES["resolution_title"],
        CANARIES["resolution_text"],
        CANARIES["resolution_purpose"],
        CANARIES["recusal"],
        CANARIES["refusal"],
        *tokens,
        *key_strings,
    ]

    text = await asyncio.to_thread(json_logs.read_text)
    lines = [line for line in text.splitlines() if line.strip()]
    assert any('"event": "request"' in line for line in lines), "the logs were captured"
    for line in lines:
        for secret in forbidden:
            assert secret not in line, f"leaked into a log line: {line[:200]}"

    if broker.settings.resolved_database_url.startswith("sqlite"):
        files = sorted(broker.settings.data_dir.glob("council.db*"))
        assert files
        for path in files:
            data = await asyncio.to_thread(path.read_bytes)
            for secret in forbidden:
                assert secret.encode() not in data, f"{secret[:12]}... stored in {path.name}"
    else:
        from sqlalchemy import text

        db = broker.database()
        async with db.read() as conn:
            dump = (
                await conn.execute(
                    text("SELECT string_agg(t::text, '') FROM (SELECT * FROM items) t")
                )
            ).scalar_one() or ""
            dump += (
                await conn.execute(
                    text("SELECT string_agg(t::text, '') FROM (SELECT * FROM audit_events) t")
                )
            ).scalar_one() or ""
            for table in ("users", "reports", "resolutions", "resolution_ballots", "events"):
                dump += (
                    await conn.execute(
                        text(f"SELECT string_agg(t::text, '') FROM (SELECT * FROM {table}) t")
                    )
                ).scalar_one() or ""
        await db.dispose()
        for secret in forbidden:
            assert secret not in dump


async def test_a_request_the_server_cannot_parse_logs_one_line_without_its_bytes(
    broker: Broker, json_logs: Path
) -> None:
    """An `Authorization` line over the header limit is refused by the HTTP server
    before any handler runs: the answer names no version, and the log gets one JSON
    warning naming the problem, with no traceback and none of the line (the token)."""
    token = broker.admin_token
    too_long = "x" * (broker.settings.max_header_bytes + 1)
    request = (
        f"GET /v1/inbox HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}{too_long}\r\n\r\n"
    )
    host, port = broker.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request.encode())
        async with asyncio.timeout(10):
            answer = await reader.read()
    finally:
        writer.close()
    head = answer.split(b"\r\n\r\n", 1)[0].decode()
    assert head.startswith("HTTP/1.0 400") or head.startswith("HTTP/1.1 400"), head
    assert "Server: council-broker" in head.splitlines(), head
    assert "aiohttp" not in head and "Python" not in head, head

    text = await asyncio.to_thread(json_logs.read_text)
    records = [json.loads(line) for line in text.splitlines() if line.strip()]  # all JSON
    malformed = [r for r in records if r["event"] == "malformed_request"]
    assert len(malformed) == 1, records
    assert malformed[0]["level"] == "warning" and malformed[0]["status"] == 400
    assert malformed[0]["problem"] == "LineTooLong" and "exception" not in malformed[0]
    assert token not in text and "Traceback" not in text
