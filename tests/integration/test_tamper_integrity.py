"""Editing an item's routing facts in the database makes it fail to open, audibly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import update

from broker.store.tables import items, scope_versions
from clients.sdk import CouncilClient, CouncilError
from tests.conftest import Broker
from tests.council import Council, draft, make_council

# Each case: what is submitted, the database edit that would widen access if the
# broker trusted it, and the reader the edit would let in.
Case = tuple[dict[str, Any], Callable[[str, Council], Any], Callable[[Council], CouncilClient]]

CASES: dict[str, Case] = {
    "tlp": (
        {"tlp": "RED"},
        lambda item_id, c: (
            update(items).where(items.c.id == item_id).values(tlp="CLEAR", effective_tlp="CLEAR")
        ),
        lambda c: c.vendor_b.plain,
    ),
    "secret": (
        {"secret": True},
        lambda item_id, c: (
            update(items).where(items.c.id == item_id).values(secret=False, effective_secret=False)
        ),
        lambda c: c.vendor_b.plain,
    ),
    "scope": (
        {"scope": {"groups": ["tier_one_group"], "exclude_members": ["VENDOR_C"]}},
        lambda item_id, c: (
            update(scope_versions)
            .where(scope_versions.c.item_id == item_id)
            .values(
                scope={
                    "groups": ["tier_one_group"],
                    "members": [],
                    "exclude_members": [],
                    "exclude_attributes": [],
                }
            )
        ),
        lambda c: c.vendor_c.handler,
    ),
    "confidence": (
        {"kind": "countermeasure", "confidence": "low", "scope": {"groups": ["all_members"]}},
        lambda item_id, c: update(items).where(items.c.id == item_id).values(confidence="high"),
        lambda c: c.general.handler,
    ),
}


@pytest.mark.parametrize("field", sorted(CASES))
async def test_tampered_item_fails_with_audited_integrity_error(broker: Broker, field: str) -> None:
    """Changing TLP, secrecy, scope or confidence in the database breaks the bound
    associated data: the read is a 500 integrity_error, never content, and an alarm
    is audited."""
    council = await make_council(broker)
    overrides, tamper, reader_of = CASES[field]
    if "scope" in overrides:
        overrides["scope"] = {
            k: [council.vendor_c.id if v == "VENDOR_C" else v for v in vs]
            for k, vs in overrides["scope"].items()
        }
    item = await council.vendor_a.handler.submit(draft(**overrides))
    reader = reader_of(council)
    with pytest.raises(CouncilError) as before:
        await reader.get_item(item.id)
    assert before.value.status == 404  # the reader really is kept out before the edit
    db = broker.database()
    async with db.write() as conn:
        await conn.execute(tamper(item.id, council))
    await db.dispose()
    with pytest.raises(CouncilError) as failed:
        await reader.get_item(item.id)
    assert (failed.value.status, failed.value.code) == (500, "integrity_error")
    alarms = await council.coordinator.audit(action="integrity.alarm", item=item.id)
    assert [(e.outcome, e.item_id) for e in alarms.items] == [("error", item.id)]
    # The legitimate provider is refused too: tampered data is never served.
    with pytest.raises(CouncilError):
        await council.vendor_a.handler.get_item(item.id)
