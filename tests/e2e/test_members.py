"""Members, users and handlers (SPEC §1, §6; charter art. 6, 25)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from clients.sdk import Forbidden, Invalid, NotFound
from tests.conftest import Broker
from tests.council import draft, make_org


async def test_coordinator_creates_member_with_every_attribute(broker: Broker) -> None:
    """Every SPEC §1 attribute round-trips; the roster lists only listed, active members."""
    flags = {
        "regulator": True,
        "law_enforcement": False,
        "foreign": True,
        "mutual_aid": True,
        "listed": True,
        "refuses_secrets": True,
        "early_warning": False,
    }
    # Foreign, so outside the task force without a task_force_exception (art. 6(4)).
    member = await broker.admin.create_member(
        name="ISAC", category="critical_infrastructure", tier="none", **flags
    )
    again = await broker.admin.get_member(member.id)
    for flag, value in flags.items():
        assert getattr(again, flag) is value
    assert (again.category, again.tier, again.status) == (
        "critical_infrastructure",
        "none",
        "active",
    )
    roster = await broker.client(None).roster()
    assert [entry.name for entry in roster.items] == ["ISAC"]
    await broker.admin.update_member(member.id, listed=False)
    assert (await broker.client(None).roster()).items == []


async def test_member_admin_changes_only_self_service_fields(broker: Broker) -> None:
    """A member's own admin may change listed/refuses_secrets/early_warning, nothing else,
    and cannot see other members."""
    org = await make_org(broker, "Vendor A", tier="tier_one")
    other = await make_org(broker, "Vendor B", tier="tier_one")
    updated = await org.admin.update_member(org.id, refuses_secrets=True, listed=True)
    assert updated.refuses_secrets and updated.listed
    with pytest.raises(Forbidden):
        await org.admin.update_member(org.id, tier="tier_two")
    with pytest.raises(Forbidden):
        await org.plain.update_member(org.id, listed=False)
    with pytest.raises(NotFound):
        await org.admin.get_member(other.id)
    with pytest.raises(Forbidden):
        await org.admin.create_member(name="Sneaky", category="other")


async def test_handler_registration_takes_effect_at_its_time_and_is_audited(
    broker: Broker,
) -> None:
    """A handler registered in advance (art. 6(8)) opens secrets only from its effective
    time; adding and removing are audited with their times."""
    vendor_a = await make_org(broker, "Vendor A", tier="tier_one")
    vendor_b = await make_org(broker, "Vendor B", tier="tier_one")
    item = await vendor_a.handler.submit(draft(secret=True))
    start = broker.clock.now + timedelta(hours=2)
    await vendor_b.admin.add_handler(vendor_b.id, vendor_b.plain_user_id, effective_from=start)
    with pytest.raises(NotFound):
        await vendor_b.plain.get_item(item.id)
    broker.clock.advance(hours=3)
    assert (await vendor_b.plain.get_item(item.id)).id == item.id
    await vendor_b.admin.remove_handler(vendor_b.id, vendor_b.plain_user_id)
    with pytest.raises(NotFound):
        await vendor_b.plain.get_item(item.id)
    handlers = await broker.admin.list_handlers(vendor_b.id)
    mine = [h for h in handlers.items if h.user_id == vendor_b.plain_user_id]
    assert len(mine) == 1 and mine[0].effective_until is not None
    events = await broker.admin.audit(member=vendor_b.id)
    actions = [e.action for e in events.items if e.details.get("user_id") == vendor_b.plain_user_id]
    assert "handler.add" in actions and "handler.remove" in actions


async def test_audit_checkpoint_is_signed_and_exposed(broker: Broker) -> None:
    """The latest checkpoint carries size, head, signature and key id; only auditors see it."""
    from broker.services.audit import AuditService
    from broker.services.auditor import Auditor
    from broker.services.keyring import Keys
    from broker.store.uow import Store

    store = Store(broker.database())
    await AuditService(
        store=store,
        keys=Keys(broker.ring),
        clock=broker.clock,
        auditor=Auditor(store, broker.clock),
        checkpoint_every=broker.settings.checkpoint_every_events,
    ).checkpoint(force=True)
    await store.dispose()
    checkpoint = await broker.admin.latest_checkpoint()
    assert checkpoint.size > 0 and len(checkpoint.head) == 64 and checkpoint.key_id
    org = await make_org(broker, "Vendor A", tier="tier_one")
    with pytest.raises(Forbidden):
        await org.admin.latest_checkpoint()


async def test_the_coordinator_cannot_act_as_a_member_to_widen_its_scope(broker: Broker) -> None:
    """SPEC §3 rule 1: no one, the coordinator included, widens a provider's scope
    without its consent. Once v1 has its own admin, the coordinator's admin cannot
    create a user inside v1 (nor register its handlers), so it cannot widen v1's
    item to all members; the law-enforcement member v1 excluded still cannot read it."""
    v1 = await make_org(broker, "Vendor One", tier="tier_one")
    police = await make_org(broker, "Police", category="government", law_enforcement=True)
    item = await v1.handler.submit(
        draft(scope={"groups": ["tier_one_group"], "exclude_attributes": ["law_enforcement"]})
    )
    with pytest.raises(Forbidden):
        await broker.admin.create_user(v1.id, "Puppet", "member_user")
    with pytest.raises(Forbidden):
        await broker.admin.add_handler(v1.id, v1.plain_user_id)
    with pytest.raises(NotFound):
        await police.handler.get_item(item.id)
    users = await v1.admin._json("GET", f"/v1/members/{v1.id}/users")
    assert "Puppet" not in {u["name"] for u in users["items"]}
    denials = await broker.admin.audit(member=v1.id)
    assert any(
        e.action == "user.create"
        and e.outcome == "denied"
        and e.reason == "member_administers_itself"
        for e in denials.items
    )


async def test_patch_with_null_and_backdated_handler_are_clear_422s(broker: Broker) -> None:
    """docs/api.md errors, charter art. 6(8): a null attribute in PATCH and a handler
    registration back-dated to 2000 are 422s naming the field, never a 500."""
    org = await make_org(broker, "Vendor A", tier="tier_one")
    with pytest.raises(Invalid) as null:
        await broker.admin._json("PATCH", f"/v1/members/{org.id}", json={"name": None})
    assert null.value.field == "name"
    with pytest.raises(Invalid) as backdated:
        await org.admin.add_handler(
            org.id, org.plain_user_id, effective_from="2000-01-01T00:00:00Z"
        )
    assert backdated.value.field == "effective_from"
    handlers = await org.admin.list_handlers(org.id)
    assert org.plain_user_id not in {h.user_id for h in handlers.items}
