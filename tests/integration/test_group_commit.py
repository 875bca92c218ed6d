"""Concurrent submissions share transactions and none is lost (group commit)."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from broker.store.audit_repo import AuditRepository
from broker.store.tables import items
from tests.conftest import Broker
from tests.council import draft, make_org


async def test_concurrent_submissions_are_all_stored_and_chained(broker: Broker) -> None:
    """64 concurrent submitters: every 201 is stored once, with its audit event."""
    vendor = await make_org(broker, "Vendor A", tier="tier_one")
    db = broker.database()
    async with db.read() as conn:
        before_items = (await conn.execute(select(func.count()).select_from(items))).scalar_one()
        before_size, _ = await AuditRepository(conn).head()
    results = await asyncio.gather(
        *(
            vendor.handler.submit(draft(title=f"t{n}"), idempotency_key=f"k{n % 48}")
            for n in range(64)
        ),
        return_exceptions=True,
    )
    ok = [r for r in results if not isinstance(r, BaseException)]
    # Keys repeat for n >= 48 with different titles: those are refused as conflicts.
    assert len({r.id for r in ok}) == 48
    async with db.read() as conn:
        after_items = (await conn.execute(select(func.count()).select_from(items))).scalar_one()
        after_size, _ = await AuditRepository(conn).head()
    await db.dispose()
    assert after_items - before_items == 48
    assert after_size - before_size >= 48  # one item.submit each (plus denials audited)
