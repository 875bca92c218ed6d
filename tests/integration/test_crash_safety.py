"""SIGKILL under submission load loses nothing acknowledged and half-stores nothing.

A real broker process takes submissions from 16 concurrent SDK clients and is
killed with SIGKILL at a random moment (seeded), four times over. After each
restart:

* every submission answered 201 opens for a recipient, is in the recipient's
  inbox, and has exactly one `item.submit` audit event;
* every submission that got no answer either does not exist or is complete:
  retrying it with the same Idempotency-Key answers 201 (with the stored id if
  it had committed) and the item opens; in the database every item has its
  scope version, a non-empty audience, its `item` event and its audit event,
  and nothing refers to an item that is not there;
* `council-broker audit verify` passes on the database exactly as the crash
  left it;
* a stream client resumes from the last cursor it saw and, over all its
  connections, receives strictly increasing ids and exactly the items of the
  recipient's final inbox.

Runs on SQLite (a data directory) and, with COUNCIL_TEST_POSTGRES_URL, on a
fresh PostgreSQL database too. COUNCIL_CRASH_SEED replays a run's kill times.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from broker.store import Database
from broker.store.tables import (
    audience_members,
    audiences,
    audit_events,
    events,
    items,
    scope_versions,
)
from clients.sdk import CouncilClient, CouncilError, TransportError
from tests.procs import (
    BrokerProcess,
    Processes,
    audit_verify,
    broker_env,
    fresh_postgres_database,
    init_data_dir,
)

POSTGRES_URL = os.environ.get("COUNCIL_TEST_POSTGRES_URL")
SEED = int(os.environ.get("COUNCIL_CRASH_SEED", "20261122"))
ROUNDS = 4
SUBMITTERS = 16
KILL_WINDOW = (0.3, 1.5)  # seconds into the load
CHECK_CONCURRENCY = 8


@dataclass
class Deployment:
    """Where a broker keeps its data: a data dir, and a PostgreSQL URL or SQLite in it."""

    data_dir: Path
    env: dict[str, str]
    database_url: str

    def database(self) -> Database:
        """A connection for inspection (SQLite readers do not block the broker: WAL)."""
        return Database(self.database_url)


@pytest.fixture(params=["sqlite", "postgresql"])
async def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Deployment]:
    """A data directory on SQLite, or one whose database is a fresh PostgreSQL database."""
    data_dir = tmp_path / "data"
    # Signed checkpoints every half second, so crashes land among them too; no
    # per-token limit, or 16 submitters on one token outrun its 100/s.
    settings = {"CHECKPOINT_INTERVAL": "PT0.5S", "TOKEN_REQUESTS_PER_SECOND": "0"}
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{(data_dir / 'council.db').resolve()}"
        yield Deployment(data_dir, broker_env(**settings), url)
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL run: set COUNCIL_TEST_POSTGRES_URL (e.g. make test-postgres)")
    async with fresh_postgres_database(POSTGRES_URL, "crash") as url:
        yield Deployment(data_dir, broker_env(DATABASE_URL=url, **settings), url)


def _draft(key: str) -> dict[str, Any]:
    # The same key always yields the same body, so a retry is the same submission.
    return {
        "kind": "analysis",
        "title": f"crash-safety {key}",
        "body": f"submission {key} under load; the broker may die at any moment",
        "tlp": "AMBER",
        "secret": False,
        "confidence": "unconfirmed",
        "scope": {"groups": ["tier_one_group"]},
    }


def _title(key: str) -> str:
    return str(_draft(key)["title"])


@dataclass
class Cast:
    """The coordinator, a tier-one provider and a tier-one recipient (handlers)."""

    admin_token: str
    provider_token: str
    provider_user_id: str
    recipient_token: str


async def _cast(url: str, admin_token: str) -> Cast:
    async with CouncilClient(url, admin_token) as admin:
        tokens: dict[str, tuple[str, str]] = {}
        for name in ("Provider", "Recipient"):
            member = await admin.create_member(
                name=name, category="cyber_business", tier="tier_one"
            )
            user, token = await admin.create_user(member.id, f"{name} handler", "member_user")
            await admin.add_handler(member.id, user.id)
            tokens[name] = (user.id, token)
    return Cast(
        admin_token=admin_token,
        provider_token=tokens["Provider"][1],
        provider_user_id=tokens["Provider"][0],
        recipient_token=tokens["Recipient"][1],
    )


@dataclass
class Ledger:
    """What the submitters were told, across every round."""

    acked: dict[str, str] = field(default_factory=dict)  # key -> id answered with 201
    failed: dict[str, int] = field(default_factory=dict)  # key -> round, no answer
    retried: dict[str, str] = field(default_factory=dict)  # failed key -> id of the retry
    unexpected: list[str] = field(default_factory=list)


async def _load_until_killed(
    broker: BrokerProcess, cast: Cast, round_no: int, kill_after: float, ledger: Ledger
) -> tuple[int, int]:
    """16 submitters until SIGKILL at `kill_after` s; returns (acked, failed) this round."""
    loop = asyncio.get_running_loop()
    killed = asyncio.Event()
    acked_before, failed_before = len(ledger.acked), len(ledger.failed)

    async def submitter(n: int) -> None:
        async with CouncilClient(broker.url, cast.provider_token, timeout=20) as client:
            i = 0
            while not killed.is_set():
                key = f"r{round_no}-s{n:02d}-{i:05d}"
                i += 1
                try:
                    result = await client.submit(_draft(key), idempotency_key=key)
                except TransportError as exc:
                    ledger.failed[key] = round_no
                    if not killed.is_set():
                        ledger.unexpected.append(f"{key}: no answer before the kill: {exc}")
                    return
                except CouncilError as exc:
                    ledger.unexpected.append(f"{key}: {exc!r}")
                    return
                ledger.acked[key] = result.id

    tasks = [asyncio.create_task(submitter(n)) for n in range(SUBMITTERS)]
    try:
        await asyncio.sleep(kill_after)
        # The order matters: a failure seen after this line is the kill's doing.
        killed.set()
        started = loop.time()
        broker.kill()
        assert loop.time() - started < 5
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    finally:
        for task in tasks:
            task.cancel()
    return len(ledger.acked) - acked_before, len(ledger.failed) - failed_before


class StreamWatcher:
    """One recipient's WebSocket stream, reconnected after each restart from its last cursor."""

    def __init__(self, session: aiohttp.ClientSession, token: str) -> None:
        self.session = session
        self.token = token
        self.events: list[dict[str, Any]] = []
        self.resumed_from: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    @property
    def cursor(self) -> str:
        """The id of the last event received ("0" before any: replay everything)."""
        return str(self.events[-1]["id"]) if self.events else "0"

    async def connect(self, url: str) -> None:
        """Open the stream with `?cursor=` the last id seen and read it in the background."""
        await self.closed()
        self.resumed_from.append(self.cursor)
        self._ws = await self.session.ws_connect(
            f"{url}/v1/stream?cursor={self.cursor}",
            headers={"Authorization": f"Bearer {self.token}"},
        )
        self._task = asyncio.create_task(self._read(self._ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        with contextlib.suppress(aiohttp.ClientError, ConnectionError):
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                self.events.append(json.loads(message.data))

    async def closed(self, timeout: float = 10.0) -> None:
        """Wait until the connection is gone (it goes with the broker)."""
        if self._task is not None:
            await asyncio.wait_for(self._task, timeout)
            self._task = None
        if self._ws is not None:
            await self._ws.close()
            self._ws = None

    async def close(self) -> None:
        """Close the connection from this side."""
        if self._ws is not None:
            await self._ws.close()
        await self.closed()

    def item_ids(self) -> list[str]:
        """The ids of the `item` events received, in order."""
        return [e["data"]["id"] for e in self.events if e["event"] == "item"]

    async def wait_for_item(self, item_id: str, timeout: float = 15.0) -> None:
        """Wait until the `item` event of `item_id` has arrived."""
        deadline = asyncio.get_running_loop().time() + timeout
        while item_id not in self.item_ids():
            if self._task is None or self._task.done():
                raise AssertionError(f"the stream closed before item {item_id} arrived")
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"item {item_id} was not streamed within {timeout} s")
            await asyncio.sleep(0.05)


@dataclass
class Integrity:
    """The database's view of the items: which are complete and what refers to what."""

    by_key: dict[str, str]  # idempotency key -> item id
    incomplete: dict[str, list[str]]  # item id -> what it lacks
    orphans: list[str]  # rows referring to an item that does not exist


async def _integrity(deployment: Deployment) -> Integrity:
    db = deployment.database()
    try:
        async with db.read() as conn:
            rows = (
                await conn.execute(select(items.c.id, items.c.idempotency_key, items.c.audience_id))
            ).all()
            with_version = set(
                (
                    await conn.execute(
                        select(scope_versions.c.item_id).where(scope_versions.c.version == 1)
                    )
                ).scalars()
            )
            with_event = set(
                (
                    await conn.execute(select(events.c.item_id).where(events.c.kind == "item"))
                ).scalars()
            )
            submit_audits = list(
                (
                    await conn.execute(
                        select(audit_events.c.item_id).where(
                            audit_events.c.action == "item.submit",
                            audit_events.c.outcome == "allowed",
                        )
                    )
                ).scalars()
            )
            sizes: dict[str, int] = dict(
                (await conn.execute(select(audiences.c.id, audiences.c.size))).all()
            )
            counted: dict[str, int] = dict(
                (
                    await conn.execute(
                        select(audience_members.c.audience_id, func.count()).group_by(
                            audience_members.c.audience_id
                        )
                    )
                ).all()
            )
    finally:
        await db.dispose()
    ids = {r.id for r in rows}
    audit_count: dict[str, int] = {}
    for item_id in submit_audits:
        audit_count[item_id] = audit_count.get(item_id, 0) + 1
    incomplete: dict[str, list[str]] = {}
    for row in rows:
        lacks = []
        if row.id not in with_version:
            lacks.append("scope version 1")
        if row.id not in with_event:
            lacks.append("item event")
        if audit_count.get(row.id, 0) != 1:
            lacks.append(f"one item.submit audit event (has {audit_count.get(row.id, 0)})")
        size = sizes.get(row.audience_id)
        if not size or counted.get(row.audience_id) != size:
            lacks.append(
                f"audience {row.audience_id} (size {size}, {counted.get(row.audience_id)})"
            )
        if lacks:
            incomplete[row.id] = lacks
    orphans = [f"scope version of {i}" for i in with_version - ids]
    orphans += [f"item event of {i}" for i in with_event - ids]
    orphans += [f"item.submit audit of {i}" for i in set(submit_audits) - ids]
    by_key = {r.idempotency_key: r.id for r in rows if r.idempotency_key}
    return Integrity(by_key, incomplete, orphans)


async def _bounded(jobs: list[Any], limit: int = CHECK_CONCURRENCY) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def run(job: Any) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(run(job) for job in jobs))


async def _check_round(
    broker: BrokerProcess, deployment: Deployment, cast: Cast, ledger: Ledger, round_no: int
) -> dict[str, int]:
    """After a restart: what was acknowledged is complete; what was not is all or nothing."""
    before = await _integrity(deployment)
    assert not before.incomplete, f"half-stored items after crash {round_no}: {before.incomplete}"
    assert not before.orphans, f"rows of items that do not exist: {before.orphans[:10]}"
    for key, item_id in ledger.acked.items():
        assert before.by_key.get(key) == item_id, f"201 for {key} ({item_id}) but not stored"
    failed = [k for k, r in ledger.failed.items() if r == round_no]
    stored_unanswered = {k: before.by_key[k] for k in failed if k in before.by_key}

    async with (
        CouncilClient(broker.url, cast.provider_token) as provider,
        CouncilClient(broker.url, cast.recipient_token) as recipient,
        CouncilClient(broker.url, cast.admin_token) as coordinator,
    ):

        async def retry(key: str) -> None:
            answer = await provider._send(
                "POST", "/v1/items", json=_draft(key), headers={"Idempotency-Key": key}
            )
            assert answer.status == 201, (key, answer.status)
            item_id = answer.json()["id"]
            if key in stored_unanswered:
                assert item_id == stored_unanswered[key], f"{key}: the retry made a second item"
            ledger.retried[key] = item_id

        await _bounded([retry(key) for key in failed])

        this_round = {
            key: item_id
            for key, item_id in [*ledger.acked.items(), *ledger.retried.items()]
            if key.startswith(f"r{round_no}-")
        }

        async def opens(key: str, item_id: str) -> None:
            item = await recipient.get_item(item_id)
            assert (item.id, item.title) == (item_id, _title(key))
            page = await coordinator.audit(item=item_id, action="item.submit")
            assert [(e.action, e.outcome, e.actor_user_id) for e in page.items] == [
                ("item.submit", "allowed", cast.provider_user_id)
            ], key

        await _bounded([opens(k, i) for k, i in this_round.items()])
        inbox = {entry.id async for entry in recipient.iter_inbox(limit=200)}
    missing = {k: i for k, i in this_round.items() if i not in inbox}
    assert not missing, f"acknowledged but not in the recipient's inbox: {missing}"
    after = await _integrity(deployment)
    assert not after.incomplete and not after.orphans, (after.incomplete, after.orphans[:10])
    return {"stored_unanswered": len(stored_unanswered), "checked": len(this_round)}


async def test_sigkill_under_load_loses_nothing_acknowledged(
    deployment: Deployment, procs: Processes
) -> None:
    """Four SIGKILLs at random moments under load: acknowledged means stored, delivered and
    audited; unacknowledged means absent or complete; the audit chain verifies; the stream
    resumes from its cursor without a gap."""
    rng = random.Random(SEED)
    first = await init_data_dir(deployment.data_dir, deployment.env)
    broker = procs.broker("broker", deployment.data_dir, deployment.env)
    await broker.start()
    cast = await _cast(broker.url, first["token"])
    ledger = Ledger()
    figures: list[str] = []
    async with aiohttp.ClientSession() as session:
        watcher = StreamWatcher(session, cast.recipient_token)
        await watcher.connect(broker.url)
        for round_no in range(ROUNDS):
            kill_after = rng.uniform(*KILL_WINDOW)
            acked, failed = await _load_until_killed(broker, cast, round_no, kill_after, ledger)
            assert not ledger.unexpected, ledger.unexpected[:10]
            assert acked > 0, f"round {round_no}: no submission was answered\n{broker.describe()}"
            await watcher.closed()  # the stream went down with the broker
            verified = await audit_verify(deployment.data_dir, deployment.env)
            assert verified.returncode == 0, (
                f"audit chain broken by crash {round_no}:\n{verified.stdout}{verified.stderr}"
            )
            restart = await broker.start()
            await watcher.connect(broker.url)  # resumes from the last cursor it saw
            t0 = time.monotonic()
            check = await _check_round(broker, deployment, cast, ledger, round_no)
            figures.append(
                f"round {round_no}: killed at {kill_after:.2f}s, {acked} answered 201, "
                f"{failed} unanswered ({check['stored_unanswered']} of them had committed), "
                f"restart {restart:.1f}s, {check['checked']} checked in "
                f"{time.monotonic() - t0:.1f}s"
            )

        async with CouncilClient(broker.url, cast.provider_token) as provider:
            marker = await provider.submit(_draft("marker"), idempotency_key="marker")
        await watcher.wait_for_item(marker.id)
        async with CouncilClient(broker.url, cast.recipient_token) as recipient:
            inbox = {entry.id async for entry in recipient.iter_inbox(limit=200)}
        await watcher.close()
    seqs = [int(e["id"]) for e in watcher.events]
    assert all(a < b for a, b in itertools.pairwise(seqs)), (
        "stream ids are not strictly increasing across reconnections"
    )
    streamed = watcher.item_ids()
    assert len(streamed) == len(set(streamed)), "an item was streamed twice"
    assert set(streamed) == inbox, {
        "in the inbox, never streamed": sorted(inbox - set(streamed))[:10],
        "streamed, not in the inbox": sorted(set(streamed) - inbox)[:10],
        "resumed from": watcher.resumed_from,
    }
    answered = {*ledger.acked.values(), *ledger.retried.values(), marker.id}
    assert answered == inbox, "the inbox differs from what the submitters were told"
    assert await broker.stop() == 0, broker.describe()
    errors = [r for r in broker.log_records() if r.get("level") in ("error", "critical")]
    assert not errors, f"the broker logged errors across the crashes: {errors[:5]}"
    verified = await audit_verify(deployment.data_dir, deployment.env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    figures.append(
        f"stream: {len(watcher.events)} events over {len(watcher.resumed_from)} connections "
        f"(resumed from {', '.join(watcher.resumed_from)}), {len(streamed)} items = inbox"
    )
    print("\n".join(figures))
