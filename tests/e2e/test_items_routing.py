"""Routing rules of SPEC §3 over real HTTP: who opens what, and what 404s."""

from __future__ import annotations

import pytest

from clients.sdk import CouncilClient, Forbidden, Invalid, NotFound
from tests.conftest import Broker
from tests.council import Council, decide_status, draft, make_council


@pytest.fixture
async def council(broker: Broker) -> Council:
    """The cast of SPEC §1."""
    return await make_council(broker)


async def _opens(client: CouncilClient, item_id: str) -> bool:
    try:
        await client.get_item(item_id)
    except NotFound:
        return False
    return True


async def _in_inbox(client: CouncilClient, item_id: str) -> bool:
    return item_id in [i.id async for i in client.iter_inbox()]


async def test_rule3_art18_secret_item_opens_only_for_registered_handlers(
    council: Council,
) -> None:
    """A secret item opens for handlers; a non-handler of the same member neither opens
    nor lists it (art. 18(3),(4))."""
    item = await council.vendor_a.handler.submit(draft(secret=True))
    assert await _opens(council.vendor_b.handler, item.id)
    assert not await _opens(council.vendor_b.plain, item.id)
    assert not await _in_inbox(council.vendor_b.plain, item.id)
    assert await _in_inbox(council.vendor_b.handler, item.id)
    # art. 13: the coordinator's own staff are bound too.
    assert await _opens(council.coordinator, item.id)
    assert not await _opens(council.coordinator_plain, item.id)


async def test_rule3_art18_3_only_a_handler_submits_a_secret_item(council: Council) -> None:
    """A user who is not a registered handler cannot submit a secret item (art. 18(3))."""
    with pytest.raises(Forbidden):
        await council.vendor_a.plain.submit(draft(secret=True))


async def test_rule4_art18_5_and_rule5_art19_2_countermeasure_to_all_members(
    council: Council,
) -> None:
    """A secret high-confidence countermeasure to all members skips the refuser, the
    member without a handler and the excluded law-enforcement body."""
    item = await council.vendor_a.handler.submit(
        draft(
            kind="countermeasure",
            confidence="high",
            secret=True,
            tlp="GREEN",
            title="do not boot unpatched PCs",
            scope={"groups": ["all_members"], "exclude_attributes": ["law_enforcement"]},
        )
    )
    # SPEC §3 rule 10: why other members were left out is not the submitter's to learn;
    # the coordinator, who sees every body, is told.
    assert item.dropped == {}
    told = await council.coordinator.submit(
        draft(
            kind="countermeasure",
            confidence="high",
            secret=True,
            tlp="GREEN",
            scope={"groups": ["all_members"], "exclude_attributes": ["law_enforcement"]},
        )
    )
    assert told.dropped.get("refuses_secrets") == 1
    assert told.dropped.get("no_handler") == 1
    assert told.dropped.get("excluded_attribute") == 1
    for org in (council.vendor_b, council.power, council.rail, council.general):
        assert await _opens(org.handler, item.id), org.name
    for org in (council.refuser, council.no_handler, council.police):
        assert not await _opens(org.handler, item.id), org.name
    public = await council.vendor_a.handler.submit(
        draft(
            kind="countermeasure",
            confidence="high",
            secret=False,
            tlp="GREEN",
            title="do not boot unpatched PCs",
            scope={"groups": ["all_members"]},
        )
    )
    for org in (council.refuser, council.no_handler, council.police):
        assert await _opens(org.plain, public.id), org.name


async def test_rule5_art19_2_exclusion_by_name(council: Council) -> None:
    """A provider excludes a named member even from a group it is in."""
    item = await council.vendor_a.handler.submit(
        draft(scope={"groups": ["tier_one_group"], "exclude_members": [council.vendor_c.id]})
    )
    assert await _opens(council.vendor_b.handler, item.id)
    assert not await _opens(council.vendor_c.handler, item.id)


async def test_rule6_tf_art5_analysis_stays_in_tier_one(council: Council) -> None:
    """An analysis scoped beyond the tier-one group is refused; tier two and general
    members never receive analysis (Task Force Rules art. 5)."""
    with pytest.raises(Invalid) as refused:
        await council.vendor_a.handler.submit(draft(scope={"groups": ["task_force"]}))
    assert refused.value.field == "scope"
    low = await council.vendor_a.handler.submit(
        draft(kind="countermeasure", confidence="low", scope={"groups": ["all_members"]})
    )
    assert await _opens(council.power.plain, low.id)  # tier two: any confidence
    assert not await _opens(council.general.plain, low.id)  # general: high only


async def test_rule7_art8_2_restricted_member_loses_access_at_once(council: Council) -> None:
    """Restricting a member removes its access to what it could read a moment ago."""
    item = await council.vendor_a.handler.submit(draft())
    assert await _opens(council.vendor_b.handler, item.id)
    await decide_status(council.broker, council.vendor_b.id, "restricted")
    assert not await _opens(council.vendor_b.handler, item.id)
    assert not await _in_inbox(council.vendor_b.handler, item.id)
    later = await council.vendor_a.handler.submit(draft())
    assert later.recipients == 3  # A, C, coordinator


async def test_rule8_tlp_red_opens_only_for_handlers_and_is_not_reshareable(
    council: Council,
) -> None:
    """TLP:RED is for named recipients: non-handlers cannot open it, nobody re-shares it."""
    item = await council.vendor_a.handler.submit(draft(tlp="RED"))
    assert not await _opens(council.vendor_b.plain, item.id)
    opened = await council.vendor_b.handler.get_item(item.id)
    assert opened.handling is not None and opened.handling.may_reshare is False
    with pytest.raises(NotFound):
        await council.vendor_b.handler.submit(
            draft(
                kind="countermeasure", derived_from=[item.id], scope={"groups": ["tier_one_group"]}
            )
        )


async def test_rule9_art14_coordinator_reads_all_secretariat_only_by_break_glass(
    council: Council,
) -> None:
    """The coordinator opens any item; the secretariat reads nothing but through a
    break-glass with a reason, which the provider sees in the access log."""
    item = await council.vendor_a.handler.submit(draft(secret=True))
    assert await _opens(council.coordinator, item.id)
    assert not await _opens(council.secretariat_handler, item.id)
    assert not await _in_inbox(council.secretariat_handler, item.id)
    with pytest.raises(NotFound):  # art. 13: a non-handler secretariat user, secret item
        await council.secretariat_plain.break_glass(item.id, "dispute between A and B")
    opened = await council.secretariat_handler.break_glass(item.id, "dispute between A and B")
    assert opened.title.startswith("file-sharing")
    log = await council.vendor_a.handler.access_log(item.id)
    glass = [e for e in log.items if e.action == "item.break_glass" and e.outcome == "allowed"]
    assert glass and glass[0].details["written_reason"] == "dispute between A and B"
    with pytest.raises(Forbidden):
        await council.vendor_b.handler.break_glass(item.id, "curious about this one")


async def test_rule10_denials_reveal_nothing_and_are_audited(council: Council) -> None:
    """A denied read and a read of a missing id get the same 404, and both are audited."""
    item = await council.vendor_a.handler.submit(draft())
    with pytest.raises(NotFound) as denied:
        await council.power.handler.get_item(item.id)
    with pytest.raises(NotFound) as missing:
        await council.power.handler.get_item("01J0000000000000000000NONE")
    assert (denied.value.code, denied.value.message) == (missing.value.code, missing.value.message)
    events = await council.coordinator.audit(outcome="denied", member=council.power.id)
    reasons = {(e.item_id, e.reason) for e in events.items}
    assert (item.id, "out_of_scope") in {(i, r.split(",")[0]) for i, r in reasons if r}
    assert any(i == "01J0000000000000000000NONE" for i, _ in reasons)


async def test_victim_name_masked_for_all_but_provider_and_coordinator(council: Council) -> None:
    """Only the provider and the coordinator see the victim's name (charter annex)."""
    item = await council.vendor_a.handler.submit(
        draft(victim={"name": "Company A", "damage": True})
    )
    mine = await council.vendor_a.plain.get_item(item.id)
    theirs = await council.vendor_b.handler.get_item(item.id)
    coordinator = await council.coordinator.get_item(item.id)
    assert mine.victim is not None and mine.victim.name == "Company A"
    assert coordinator.victim is not None and coordinator.victim.name == "Company A"
    assert theirs.victim is not None and theirs.victim.name is None and theirs.victim.damage


async def test_rule1_art17_1_scope_versions_narrow_and_widen(council: Council) -> None:
    """Narrowing and widening are new versions by the provider only; reach follows."""
    item = await council.vendor_a.handler.submit(draft())
    narrowed = await council.vendor_a.handler.change_scope(
        item.id, {"groups": [], "members": [council.vendor_b.id]}
    )
    assert narrowed.version == 2
    assert not await _opens(council.vendor_c.handler, item.id)
    assert await _opens(council.vendor_b.handler, item.id)
    with pytest.raises(Forbidden):
        await council.coordinator.change_scope(item.id, {"groups": ["tier_one_group"]})
    widened = await council.vendor_a.handler.change_scope(item.id, {"groups": ["tier_one_group"]})
    assert widened.version == 3
    assert await _opens(council.vendor_c.handler, item.id)
    log = await council.coordinator.audit(
        item=item.id, action="item.scope_change", outcome="allowed"
    )
    assert [e.details["change"] for e in log.items] == ["narrowed", "widened"]


async def test_rule2_art17_3_derived_item_clipped_until_each_source_provider_consents(
    council: Council,
) -> None:
    """B derives from A's tier-one analysis for tier two: clipped until A consents."""
    source = await council.vendor_a.handler.submit(draft())
    derived = await council.vendor_b.handler.submit(
        draft(
            kind="countermeasure",
            confidence="low",
            derived_from=[source.id],
            title="do not boot unpatched PCs",
            scope={"groups": ["tier_two"]},
        )
    )
    assert [(p.provider_id, p.source_item_id) for p in derived.pending_consents] == [
        (council.vendor_a.id, source.id)
    ]
    assert not await _opens(council.power.handler, derived.id)
    waiting = await council.vendor_a.handler._json("GET", "/v1/consents")
    assert [w["derived_item_id"] for w in waiting["items"]] == [derived.id]
    with pytest.raises(Forbidden):  # C cannot consent for A
        await council.vendor_c.handler.consent(source.id, derived.id)
    await council.vendor_a.handler.consent(source.id, derived.id)
    assert await _opens(council.power.handler, derived.id)
    own = await council.vendor_a.handler.submit(
        draft(
            kind="countermeasure",
            confidence="low",
            derived_from=[source.id],
            scope={"groups": ["tier_two"]},
        )
    )
    assert own.pending_consents == []  # deriving from one's own item needs no consent
    assert await _opens(council.rail.plain, own.id)


async def test_withdrawal_destroys_content_for_good(council: Council) -> None:
    """After withdrawal nobody opens the content; the provider keeps the metadata."""
    item = await council.vendor_a.handler.submit(draft())
    await council.vendor_a.handler.withdraw(item.id)
    assert not await _opens(council.vendor_b.handler, item.id)
    mine = await council.vendor_a.handler._json("GET", f"/v1/items/{item.id}")
    assert mine["status"] == "withdrawn" and mine["body"] is None and mine["title"] is None
    db = council.broker.database()
    async with db.read() as conn:
        from sqlalchemy import select

        from broker.store.tables import items

        row = (await conn.execute(select(items).where(items.c.id == item.id))).one()
    await db.dispose()
    assert row.wrapped_key is None and row.ciphertext is None


async def test_idempotency_key_replays_first_result(council: Council) -> None:
    """A retried submission with the same key returns the first result, not a duplicate."""
    first = await council.vendor_a.handler.submit(draft(), idempotency_key="retry-1")
    second = await council.vendor_a.handler.submit(draft(), idempotency_key="retry-1")
    assert first.id == second.id
    from clients.sdk import Conflict

    with pytest.raises(Conflict):
        await council.vendor_a.handler.submit(draft(title="other"), idempotency_key="retry-1")
    listed = [i.id async for i in council.vendor_b.handler.iter_inbox()]
    assert listed.count(first.id) == 1


async def test_inbox_pages_newest_first_and_oldest_first(council: Council) -> None:
    """The inbox pages through everything, in both orders, with no repeats."""
    ids = [(await council.vendor_a.handler.submit(draft(title=f"n{i}"))).id for i in range(7)]
    page = await council.vendor_b.handler.inbox(limit=3)
    assert [i.id for i in page.items] == ids[::-1][:3]
    newest = [i.id async for i in council.vendor_b.handler.iter_inbox()]
    assert newest == ids[::-1]
    oldest = await council.vendor_b.handler.inbox(limit=50, order="oldest")
    assert [i.id for i in oldest.items] == ids


async def test_rule2_art17_3_a_narrowed_source_narrows_what_was_derived_from_it(
    council: Council,
) -> None:
    """SPEC §3 rule 2, charter art. 17(3): v2 derives D from v1's A; v1 narrows A to
    exclude v3; v3 loses D at once, as a new audited scope version of D."""
    a = await council.vendor_a.handler.submit(draft())
    d = await council.vendor_b.handler.submit(draft(derived_from=[a.id], title="derived"))
    assert await _opens(council.vendor_c.handler, d.id)
    await council.vendor_a.handler.change_scope(
        a.id, {"groups": ["tier_one_group"], "exclude_members": [council.vendor_c.id]}
    )
    assert not await _opens(council.vendor_c.handler, a.id)
    assert not await _opens(council.vendor_c.handler, d.id)
    assert await _opens(council.vendor_b.handler, d.id)
    log = await council.coordinator.audit(item=d.id, action="item.scope_change", outcome="allowed")
    assert [e.details["change"] for e in log.items] == ["ceiling"]


async def test_spec2_a_member_refusing_secrets_opens_its_own_secret_item(
    council: Council,
) -> None:
    """SPEC §2, charter art. 18(5): refusing secrets is about receiving; the provider's
    handlers keep access to their own body's items."""
    item = await council.refuser.handler.submit(
        draft(
            kind="countermeasure",
            confidence="high",
            secret=True,
            scope={"groups": ["all_members"]},
        )
    )
    assert await _opens(council.refuser.handler, item.id)
    assert not await _opens(council.refuser.plain, item.id)  # still a secret (art. 18(4))


async def test_tlp2_content_marked_red_is_refused_under_a_weaker_label(council: Council) -> None:
    """TLP 2.0: a STIX bundle marked TLP:RED is not accepted as a TLP:CLEAR item; the
    422 names the marked object and nothing reaches anyone."""
    indicator = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
    bundle = {
        "type": "bundle",
        "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
        "objects": [
            {
                "type": "indicator",
                "id": indicator,
                "object_marking_refs": ["marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"],
            }
        ],
    }
    with pytest.raises(Invalid) as refused:
        await council.vendor_a.handler.submit(
            draft(
                kind="countermeasure",
                confidence="high",
                tlp="CLEAR",
                scope={"groups": ["all_members"]},
                stix=bundle,
            )
        )
    assert indicator in str(refused.value)
    assert not await _in_inbox(council.vendor_b.handler, indicator)
