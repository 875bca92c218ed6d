"""The sweeper survives restarts and replicas: every reminder and overdue mark exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from broker.api.keys import SWEEPER
from broker.app import create_app
from broker.services.auditor import Auditor
from broker.services.sweeper import Sweeper
from broker.store.tables import events, obligations
from broker.store.uow import Store
from tests.conftest import Broker
from tests.council import Org, make_org


@asynccontextmanager
async def _instance(broker: Broker) -> AsyncIterator[web.Application]:
    """Another broker process on the same database, clock and keys; stopped on exit.

    Its loop sweeps once on start and then not for an hour, so the test decides
    every later pass. The catch-up pass is run here explicitly: on PostgreSQL
    only the replica holding the leader lock runs the loop, and the fixture's
    broker, still up, holds it.
    """
    settings = broker.settings.model_copy(update={"sweep_interval": timedelta(hours=1)})
    app = create_app(settings, clock=broker.clock, ring=broker.ring)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        await asyncio.wait_for(app[SWEEPER].run_once(), timeout=30)
        yield app
    finally:
        await server.close()


async def _countermeasure(org: Org, due: str) -> str:
    result = await org.handler.submit(
        {
            "kind": "countermeasure",
            "title": f"early countermeasure due {due}",
            "tlp": "AMBER",
            "secret": False,
            "confidence": "low",
            "scope": {"groups": ["tier_two"]},
            "feedback": {"due": due},
        }
    )
    return result.id


async def _sent(broker: Broker) -> Counter[tuple[str, str, str]]:
    """(kind, member, item) -> how many events of the sweeper's kinds were written."""
    db = broker.database()
    try:
        async with db.read() as conn:
            rows = await conn.execute(
                select(events.c.kind, events.c.member_id, events.c.item_id).where(
                    events.c.kind.in_(["reminder", "overdue"])
                )
            )
            return Counter((r.kind, r.member_id, r.item_id) for r in rows)
    finally:
        await db.dispose()


async def test_restart_neither_repeats_nor_misses_a_reminder(broker: Broker) -> None:
    """Reminders sent before a restart are not sent again; those that fell due while the
    broker was down are sent by the new instance's first pass; overdue marks likewise once."""
    clock = broker.clock
    vendor = await make_org(broker, "Vendor", tier="tier_one")
    operators = [
        await make_org(broker, name, tier="tier_two", category="critical_infrastructure")
        for name in ("Power", "Rail", "Water")
    ]
    soon = await _countermeasure(vendor, "PT2H")
    later = await _countermeasure(vendor, "PT4H")
    ops = [o.id for o in operators]

    async with _instance(broker) as first:
        clock.advance(hours=1, minutes=10)  # inside soon's reminder hour, not later's
        report = await first[SWEEPER].run_once()
        assert (report.reminded, report.overdue) == (3, 0)
        assert await _sent(broker) == Counter({("reminder", m, soon): 1 for m in ops})
    # Down from 1:10 to 3:05: later's reminder hour opened, soon fell due.
    clock.advance(hours=1, minutes=55)
    async with _instance(broker) as second:  # its first pass runs on start
        expected = Counter(
            {
                **{("reminder", m, soon): 1 for m in ops},
                **{("reminder", m, later): 1 for m in ops},
                **{("overdue", m, soon): 1 for m in ops},
            }
        )
        assert await _sent(broker) == expected
        again = await second[SWEEPER].run_once()
        assert (again.reminded, again.overdue) == (0, 0)
        clock.advance(hours=1, minutes=5)  # 4:10: later is due too
        # Two replicas racing over the same rows still mark each obligation once.
        db = broker.database()
        try:
            store = Store(db)
            replica = Sweeper(
                store=store,
                clock=clock,
                auditor=Auditor(store, clock),
                reminder_lead=broker.settings.reminder_lead,
            )
            reports = await asyncio.gather(second[SWEEPER].run_once(), replica.run_once())
        finally:
            await db.dispose()
        assert sum(r.overdue for r in reports) == 3
        assert sum(r.reminded for r in reports) == 0
    expected.update({("overdue", m, later): 1 for m in ops})
    assert await _sent(broker) == expected
    db = broker.database()
    try:
        async with db.read() as conn:
            rows = (await conn.execute(select(obligations))).all()
    finally:
        await db.dispose()
    assert len(rows) == 6
    assert all(r.reminded_at is not None and r.overdue_marked_at is not None for r in rows)


async def test_a_deadline_missed_while_down_gets_the_overdue_mark_not_a_stale_reminder(
    broker: Broker,
) -> None:
    """A broker down across a whole reminder window sends no reminder of a passed deadline
    on restart, only the overdue mark; an answered obligation gets neither."""
    vendor = await make_org(broker, "Vendor", tier="tier_one")
    power = await make_org(broker, "Power", tier="tier_two", category="critical_infrastructure")
    rail = await make_org(broker, "Rail", tier="tier_two", category="critical_infrastructure")
    item = await _countermeasure(vendor, "PT2H")
    await rail.handler.answer(item, "not_came")
    broker.clock.advance(hours=3)
    async with _instance(broker):
        assert await _sent(broker) == Counter({("overdue", power.id, item): 1})
    async with _instance(broker):  # and once more: nothing new
        assert await _sent(broker) == Counter({("overdue", power.id, item): 1})
