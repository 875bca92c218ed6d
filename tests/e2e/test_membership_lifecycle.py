"""The membership lifecycle through the HTTP API (SPEC §6; charter art. 6, 7, 11, 25;
Task Force Rules art. 3), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from clients.cli.main import run
from clients.sdk import (
    Conflict,
    CouncilClient,
    Forbidden,
    Invalid,
    NotFound,
    StreamClosed,
    Unauthorized,
)
from tests.conftest import Broker
from tests.council import decide_status, draft, make_org


async def _secretariat_id(broker: Broker) -> str:
    bodies = await broker.admin.list_members()
    return next(m.id for m in bodies.items if m.kind == "secretariat")


async def _audit(broker: Broker, action: str, member: str) -> list[dict[str, object]]:
    page = await broker.admin.audit(action=action, member=member, outcome="allowed")
    return [event.model_dump() for event in page.items]


async def test_art6_1_3_an_applicant_receives_nothing_until_admitted(broker: Broker) -> None:
    """Art. 6(1): an applicant is not a member yet. It sets itself up (its admin, users and
    handlers, art. 6(6)) but receives nothing, opens nothing, submits, consults and reports
    nothing, and is not on the roster, while an active peer with the same attributes gets
    the item."""
    peer = await make_org(broker, "Vendor A", tier="tier_one")
    applicant = await make_org(
        broker, "Vendor New", tier="tier_one", status="applicant", listed=True
    )
    assert (await broker.admin.get_member(applicant.id)).status == "applicant"
    [created] = await _audit(broker, "member.create", applicant.id)
    assert created["details"]["admission"] == "application"  # type: ignore[index]
    assert [h.user_id for h in (await applicant.admin.list_handlers(applicant.id)).items] == [
        applicant.handler_user_id
    ]

    item = await broker.admin.submit(
        draft(kind="countermeasure", confidence="high", scope={"groups": ["all_members"]})
    )
    assert [i.id for i in (await peer.handler.inbox()).items] == [item.id]
    assert (await applicant.handler.inbox()).items == []
    with pytest.raises(NotFound):
        await applicant.handler.get_item(item.id)
    with pytest.raises(Forbidden):
        await applicant.handler.submit(draft())
    with pytest.raises(Forbidden):
        await applicant.handler.consult("something feels off", "odd traffic")
    with pytest.raises(Forbidden):
        await applicant.handler.report("leak", "an applicant cannot report yet")
    assert applicant.id not in [e.id for e in (await broker.client(None).roster()).items]


async def test_art6_5_an_agency_that_notifies_is_created_active(broker: Broker) -> None:
    """Art. 6(5): a national government agency joining by notification is deemed approved
    on receipt: it starts active and receives at once; only government agencies join so,
    and never as applicants."""
    agency = await make_org(broker, "Ministry", category="government", notification=True)
    assert (await broker.admin.get_member(agency.id)).status == "active"
    [created] = await _audit(broker, "member.create", agency.id)
    assert created["details"]["admission"] == "notification"  # type: ignore[index]
    item = await broker.admin.submit(
        draft(kind="countermeasure", confidence="high", scope={"groups": ["all_members"]})
    )
    assert [i.id for i in (await agency.handler.inbox()).items] == [item.id]
    with pytest.raises(Invalid) as not_government:
        await broker.admin.create_member(
            name="Vendor", category="cyber_business", notification=True
        )
    assert not_government.value.field == "notification"
    with pytest.raises(Invalid) as applicant:
        await broker.admin.create_member(
            name="Agency", category="government", notification=True, status="applicant"
        )
    assert applicant.value.field == "status"
    with pytest.raises(Invalid):
        await broker.admin.create_member(name="Gone", category="other", status="withdrawn")


async def test_art11_committee_seats_sit_on_the_secretariat_with_one_chair(
    broker: Broker,
) -> None:
    """Art. 11(5): committee seats are users of the secretariat's body; one of them, and only
    one at a time, is the chair."""
    secretariat = await _secretariat_id(broker)
    member = await make_org(broker, "Vendor A")
    chair, _ = await broker.admin.create_user(secretariat, "Chair", "committee", chair=True)
    seat, _ = await broker.admin.create_user(secretariat, "Seat", "committee")
    assert (chair.role, chair.chair, seat.chair) == ("committee", True, False)
    with pytest.raises(Conflict):
        await broker.admin.create_user(secretariat, "Second chair", "committee", chair=True)
    with pytest.raises(Invalid):
        await broker.admin.create_user(secretariat, "Staff chair", "member_user", chair=True)
    for body in (member.id, broker.coordinator_id):
        with pytest.raises(Invalid):
            await broker.admin.create_user(body, "Seat", "committee")
    # A new chair once the sitting chair's seat is revoked.
    await broker.admin.revoke_user(secretariat, chair.id)
    successor, _ = await broker.admin.create_user(secretariat, "New chair", "committee", chair=True)
    assert successor.chair


async def test_art7_withdrawal_is_the_members_notice_and_takes_effect_at_once(
    broker: Broker,
) -> None:
    """Art. 7: the member's own admin withdraws it; at once its open stream closes, its
    tokens stop, it receives nothing and leaves the roster; the notice is audited with its
    reason. No one else gives the notice, and a gone member cannot give it twice."""
    leaving = await make_org(broker, "Maker Co", category="other", listed=True)
    other = await make_org(broker, "Vendor B")
    with pytest.raises(Forbidden):
        await leaving.plain.withdraw_member(leaving.id)
    with pytest.raises(Forbidden):
        await broker.admin.withdraw_member(leaving.id)  # the coordinator may not act for it
    with pytest.raises(NotFound):
        await other.admin.withdraw_member(leaving.id)
    first = await broker.admin.submit(
        draft(kind="countermeasure", confidence="high", scope={"groups": ["all_members"]})
    )
    stream = leaving.handler.follow("0")

    async def read_until_closed() -> None:
        async for _ in stream:
            pass

    following = asyncio.create_task(read_until_closed())
    assert [i.id for i in (await leaving.handler.inbox()).items] == [first.id]
    withdrawn = await leaving.admin.withdraw_member(leaving.id, reason="merged into Vendor B")
    assert withdrawn.status == "withdrawn"
    with pytest.raises(StreamClosed):
        await asyncio.wait_for(following, 5)
    for client in (leaving.admin, leaving.handler, leaving.plain):
        with pytest.raises(Unauthorized):
            await client.inbox()
    with pytest.raises(Unauthorized):
        await leaving.admin.withdraw_member(leaving.id)
    assert (await broker.admin.get_member(leaving.id)).status == "withdrawn"
    assert leaving.id not in [e.id for e in (await broker.client(None).roster()).items]
    [notice] = await _audit(broker, "member.withdraw", leaving.id)
    assert notice["actor_member_id"] == leaving.id
    assert notice["details"] == {"from": "active", "reason": "merged into Vendor B"}
    denied = (await broker.admin.audit(action="member.withdraw", outcome="denied")).items
    assert len(denied) == 3


async def test_art7_8_2_a_restricted_member_and_an_applicant_may_still_withdraw(
    broker: Broker,
) -> None:
    """Art. 8(2) leaves a restricted member its withdrawal; art. 6(1) lets no one be made to
    apply, so an applicant may withdraw its application."""
    restricted = await make_org(broker, "Suspect Co", category="other")
    await decide_status(broker, restricted.id, "restricted")
    with pytest.raises(Forbidden):
        await restricted.admin.update_member(restricted.id, listed=True)
    assert (await restricted.admin.withdraw_member(restricted.id)).status == "withdrawn"
    applicant = await make_org(broker, "Hesitant Co", category="other", status="applicant")
    assert (await applicant.admin.withdraw_member(applicant.id)).status == "withdrawn"
    [notice] = await _audit(broker, "member.withdraw", applicant.id)
    assert notice["details"] == {"from": "applicant"}


async def test_art25_the_roster_lists_only_listed_active_members(broker: Broker) -> None:
    """Art. 25: the public roster names listed, active members only: never an unlisted
    member, an applicant, a restricted or a withdrawn one."""
    listed = await make_org(broker, "Listed Co", category="other", listed=True)
    await make_org(broker, "Quiet Co", category="other")
    await make_org(broker, "Applicant Co", category="other", listed=True, status="applicant")
    restricted = await make_org(broker, "Restricted Co", category="other", listed=True)
    await decide_status(broker, restricted.id, "restricted")
    leaving = await make_org(broker, "Leaving Co", category="other", listed=True)
    await leaving.admin.withdraw_member(leaving.id)
    roster = await broker.client(None).roster()
    assert [(e.id, e.name) for e in roster.items] == [(listed.id, "Listed Co")]


async def test_tf_rules_art3_the_task_forces_tier_approval_is_audited(broker: Broker) -> None:
    """Task Force Rules art. 3: a member becomes tier one or two on the task force's
    approval, which the coordinator gives on its behalf; each is audited as such, and a
    member cannot give itself a tier."""
    member = await make_org(broker, "Vendor C")
    with pytest.raises(Forbidden):
        await member.admin.update_member(member.id, tier="tier_one")
    await broker.admin.update_member(member.id, tier="tier_one")
    await broker.admin.update_member(member.id, tier="tier_one", listed=True)  # no change
    await broker.admin.update_member(member.id, tier="tier_two")
    approvals = await _audit(broker, "member.tier_approve", member.id)
    assert [(e["actor_member_id"], e["details"]) for e in approvals] == [
        (broker.coordinator_id, {"from": "none", "to": "tier_one", "approved_by": "task_force"}),
        (
            broker.coordinator_id,
            {"from": "tier_one", "to": "tier_two", "approved_by": "task_force"},
        ),
    ]


async def test_council_withdraw_against_the_broker(
    broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    """`council withdraw --member --yes` gives the caller's member's notice; its token
    then stops."""
    leaving = await make_org(broker, "Maker Co", category="other")
    env = {"COUNCIL_URL": broker.url, "COUNCIL_TOKEN": leaving.admin._token or ""}

    async def council_cmd(*argv: str) -> tuple[int, str]:
        code = await run(
            list(argv), client_factory=lambda url, tok: CouncilClient(url, tok), env=env
        )
        return code, capsys.readouterr().out

    code, _ = await council_cmd("withdraw", "--member")
    assert code == 2  # --yes is required
    assert (await broker.admin.get_member(leaving.id)).status == "active"
    code, out = await council_cmd(
        "withdraw", "--member", "--yes", "--reason", "closing the business"
    )
    assert code == 0 and "has withdrawn" in out
    assert (await broker.admin.get_member(leaving.id)).status == "withdrawn"
    code, _ = await council_cmd("reports")
    assert code == 4  # the token no longer signs in
