"""The motivating case (`council demo`), steps 1-9, end to end through the SDK: who
received, owed, answered and saw what.

The May 2017 worm, compressed into one Friday evening: three tier-one vendors,
five tier-two operators, five general members (a manufacturer, a police
body excluded by attribute, a member refusing secrets, one without a
registered handler, and a university), the coordinator and the secretariat.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from broker.domain.obligations import SweepReport
from broker.services.audit_verify import verify_export
from broker.services.auditor import Auditor
from broker.services.sweeper import Sweeper
from broker.store.tables import events
from broker.store.uow import Store
from clients.sdk import Conflict, CouncilClient, Forbidden, NotFound
from tests.conftest import Broker, ManualClock
from tests.council import Org, make_org

FRIDAY_EVENING = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)  # in ISO week 2026-W47


@pytest.fixture
def clock() -> ManualClock:
    """Company A's Friday: the systems fail at five in the evening."""
    return ManualClock(FRIDAY_EVENING)


@dataclass
class Cast:
    """Everyone in the scenario."""

    vendor_a: Org
    vendor_b: Org
    vendor_c: Org
    power: Org
    rail: Org
    hospital: Org
    city: Org
    water: Org
    maker: Org
    police: Org
    refuser: Org
    handlerless: Org
    university: Org
    coordinator: CouncilClient
    coordinator_id: str
    secretariat: CouncilClient

    @property
    def tier_two(self) -> list[Org]:
        """The five operators."""
        return [self.power, self.rail, self.hospital, self.city, self.water]

    @property
    def general(self) -> list[Org]:
        """The five general members."""
        return [self.maker, self.police, self.refuser, self.handlerless, self.university]


async def _cast(broker: Broker) -> Cast:
    tier_one = {"tier": "tier_one", "category": "cyber_business"}
    ci = {"tier": "tier_two", "category": "critical_infrastructure"}
    admin = broker.admin
    bodies = await admin.list_members()
    secretariat_id = next(m.id for m in bodies.items if m.kind == "secretariat")
    _, auditor_token = await admin.create_user(secretariat_id, "Auditor", "member_user")
    return Cast(
        vendor_a=await make_org(broker, "Vendor A", **tier_one),
        vendor_b=await make_org(broker, "Vendor B", **tier_one),
        vendor_c=await make_org(broker, "Vendor C", **tier_one),
        power=await make_org(broker, "Power Co", **ci),
        rail=await make_org(broker, "Rail Co", **ci),
        hospital=await make_org(broker, "Hospital Group", **ci),
        city=await make_org(broker, "City B", tier="tier_two", category="local_government"),
        water=await make_org(broker, "Water Works", **ci),
        maker=await make_org(broker, "Maker D", category="other"),
        police=await make_org(broker, "Police", category="government", law_enforcement=True),
        refuser=await make_org(broker, "Refuser E", category="other", refuses_secrets=True),
        handlerless=await make_org(broker, "Handlerless F", category="other", with_handler=False),
        university=await make_org(broker, "University G", category="academia"),
        coordinator=admin,
        coordinator_id=broker.coordinator_id,
        secretariat=broker.client(auditor_token),
    )


async def _opens(client: CouncilClient, item_id: str) -> bool:
    try:
        await client.get_item(item_id)
    except NotFound:
        return False
    return True


async def _owes(client: CouncilClient) -> dict[str, str]:
    """item id -> obligation kind, for what the caller's member still owes."""
    return {o.item_id: str(o.kind) for o in await client.obligations()}


async def _sweep(broker: Broker) -> SweepReport:
    """One pass of a sweeper on the broker's database, as a second replica would run it."""
    db = broker.database()
    try:
        store = Store(db)
        sweeper = Sweeper(
            store=store,
            clock=broker.clock,
            auditor=Auditor(store, broker.clock),
            reminder_lead=broker.settings.reminder_lead,
        )
        return await sweeper.run_once()
    finally:
        await db.dispose()


async def _events(broker: Broker, kind: str) -> list[tuple[str, str | None]]:
    db = broker.database()
    try:
        async with db.read() as conn:
            rows = await conn.execute(
                select(events.c.member_id, events.c.item_id).where(events.c.kind == kind)
            )
            return sorted((r.member_id, r.item_id) for r in rows)
    finally:
        await db.dispose()


async def test_the_worm_scenario_steps_1_to_9(broker: Broker, tmp_path: Path) -> None:
    """The motivating case end to end: routing, obligations, answers, views, consultation,
    audit, ledger."""
    clock = broker.clock
    cast = await _cast(broker)
    a, b, c = cast.vendor_a, cast.vendor_b, cast.vendor_c

    # -- step 1: Vendor A's unconfirmed, secret analysis to the tier-one group --------------
    analysis = await a.handler.submit(
        {
            "kind": "analysis",
            "title": "Worm over the file-sharing protocol",
            "body": "Exploits a known CVE patched two months ago; spreads to unpatched PCs "
            "on boot.",
            "tlp": "AMBER",
            "secret": True,
            "confidence": "unconfirmed",
            "scope": {"groups": ["tier_one_group"]},
            "victim": {"name": "Company A", "damage": True},
            "feedback": {"due": "PT6H"},
        }
    )
    assert analysis.recipients == 4  # A, B, C and the coordinator
    for reader in (b.handler, c.handler, cast.coordinator):
        assert await _opens(reader, analysis.id)
    assert (await b.handler.get_item(analysis.id)).victim.name is None  # masked
    assert (await cast.coordinator.get_item(analysis.id)).victim.name == "Company A"
    outsiders = [*cast.tier_two, *cast.general]
    for org in outsiders:
        assert not await _opens(org.handler, analysis.id), org.name
    assert not await _opens(b.plain, analysis.id)  # secret: handlers only (art. 18(4))
    assert not await _opens(cast.secretariat, analysis.id)

    # Who owes what: expert feedback from B, C and the coordinator, by the item's due time.
    for owing in (b.handler, c.handler, cast.coordinator):
        owed = await owing.obligations()
        assert [(o.item_id, o.kind) for o in owed] == [(analysis.id, "expert_feedback")]
        assert owed[0].due == FRIDAY_EVENING + timedelta(hours=6)
        assert owed[0].title == "Worm over the file-sharing protocol"
    assert await _owes(a.handler) == {}  # the provider owes nothing on its own item
    assert await _owes(b.plain) == {}  # a non-handler does not even learn the secret item exists
    for org in outsiders:
        assert await _owes(org.handler) == {}, org.name

    # -- step 2: B confirms, C adds indicators (after first confirming: a change) ------------
    clock.advance(minutes=10)
    first = await b.handler.answer(analysis.id, "confirm", "same sample at two customers")
    assert first["change"] == "first"
    assert not first["late"]
    await c.handler.answer(analysis.id, "confirm")
    changed = await c.handler.answer(
        analysis.id, "additional_info", "indicators: beacon to 203.0.113.7:445"
    )
    assert changed["change"] == "changed"
    assert changed["changes"] == 1
    with pytest.raises(NotFound):  # a tier-two member cannot even see the analysis
        await cast.power.handler.answer(analysis.id, "came")
    with pytest.raises(Forbidden):  # the provider may see it, but owes nothing
        await a.handler.answer(analysis.id, "confirm")
    assert await _owes(b.handler) == {}

    seen_by_a = await a.handler.feedback(analysis.id)
    assert seen_by_a["view"] == "individual"
    verdicts = {x["member_id"]: (x["verdict"], x["comment"]) for x in seen_by_a["answers"]}
    assert verdicts == {
        b.id: ("confirm", "same sample at two customers"),
        c.id: ("additional_info", "indicators: beacon to 203.0.113.7:445"),
        cast.coordinator_id: (None, None),
    }
    seen_by_b = await b.handler.feedback(analysis.id)
    assert seen_by_b["view"] == "aggregate"
    assert seen_by_b["answers"] is None
    assert seen_by_b["summary"]["expert_feedback"] == {
        "confirm": 1,
        "refute": 0,
        "additional_info": 1,
        "late": 0,
        "missing": 0,
        "pending": 1,
        "answered": 2,
    }
    assert seen_by_b["own"]["verdict"] == "confirm"

    # -- step 3: A derives a low-confidence countermeasure for the task force ----------------
    clock.advance(minutes=20)  # 17:30
    early = await a.handler.submit(
        {
            "kind": "countermeasure",
            "title": "Do not boot unpatched PCs",
            "body": "Keep unpatched PCs off; apply the patch offline first.",
            "tlp": "AMBER",
            "secret": False,
            "confidence": "low",
            "scope": {"groups": ["task_force"]},
            "derived_from": [analysis.id],
            "feedback": {"due": "PT2H"},
        }
    )
    assert early.recipients == 9  # 3 tier one + 5 tier two + the coordinator
    for org in cast.tier_two:
        assert await _opens(org.plain, early.id), org.name  # not secret: every user
        assert await _owes(org.handler) == {early.id: "quick_answer"}, org.name
    for org in cast.general:
        assert not await _opens(org.handler, early.id), org.name  # low confidence
    for org in (b, c):
        assert await _owes(org.handler) == {}  # tier one owes nothing on a countermeasure
    assert await _owes(cast.coordinator) == {analysis.id: "expert_feedback"}
    provenance = (await cast.power.handler.get_item(early.id)).provenance
    assert [p.id for p in provenance] == [analysis.id]  # provenance kept, content not shown

    # -- step 4: the operators answer before Monday; one late, one never ---------------------
    clock.advance(minutes=15)  # 17:45
    await cast.power.handler.answer(early.id, "came", "two hosts rebooted into the worm")
    await cast.hospital.handler.answer(early.id, "not_came")
    await cast.city.plain.answer(early.id, "unknown")  # not secret: any user of the member

    clock.advance(minutes=55)  # 18:40: within the hour before the 19:30 deadline
    await _sweep(broker)
    reminded = await _events(broker, "reminder")
    assert sorted(m for m, _ in reminded) == sorted([cast.rail.id, cast.water.id])
    await _sweep(broker)  # a second pass (or replica) reminds nobody twice
    assert len(await _events(broker, "reminder")) == 2

    clock.advance(hours=1)  # 19:40: past due
    await _sweep(broker)
    overdue = await _events(broker, "overdue")
    assert sorted(m for m, _ in overdue) == sorted([cast.rail.id, cast.water.id])
    rail_owes = await cast.rail.handler.obligations()
    assert rail_owes[0].model_extra is not None and rail_owes[0].model_extra["overdue"] is True

    clock.advance(minutes=10)  # 19:50
    late = await cast.rail.handler.answer(early.id, "came")
    assert late["late"] is True
    with pytest.raises(Conflict):  # an on-time answer is locked after the due time
        await cast.power.handler.answer(early.id, "not_came")

    # -- step 5: what each party sees of the answers -----------------------------------------
    for privileged in (a.handler, cast.coordinator):
        view = await privileged.feedback(early.id)
        assert view["view"] == "individual"
        answers = {x["member_id"]: x for x in view["answers"]}
        assert answers[cast.power.id]["verdict"] == "came"
        assert answers[cast.power.id]["comment"] == "two hosts rebooted into the worm"
        assert answers[cast.rail.id]["verdict"] == "came"
        assert answers[cast.rail.id]["late"] is True
        assert answers[cast.hospital.id]["verdict"] == "not_came"
        assert answers[cast.city.id]["verdict"] == "unknown"
        assert answers[cast.water.id]["verdict"] is None
        assert answers[cast.water.id]["overdue"] is True
    for tier_one in (b.handler, c.plain):
        view = await tier_one.feedback(early.id)
        assert view["view"] == "aggregate"
        assert view["answers"] is None
        assert view["summary"]["quick_answers"] == {
            "came": 2,
            "not_came": 1,
            "unknown": 1,
            "late": 1,
            "missing": 1,
            "pending": 0,
            "answered": 4,
        }
        by_category = view["summary"]["quick_answers_by_category"]
        assert by_category["critical_infrastructure"]["missing"] == 1
        assert by_category["local_government"]["unknown"] == 1
        assert "Power Co" not in str(view) and cast.power.id not in str(view)
    for org in cast.tier_two:
        view = await org.handler.feedback(early.id)
        assert view["view"] == "own"
        assert view["summary"] is None and view["answers"] is None
        others = [o.id for o in cast.tier_two if o is not org]
        assert not any(other in str(view) for other in others)
    assert (await cast.water.handler.feedback(early.id))["own"]["verdict"] is None
    assert (await cast.power.handler.feedback(early.id))["own"]["verdict"] == "came"
    for org in cast.general:
        with pytest.raises(NotFound):
            await org.handler.feedback(early.id)
    with pytest.raises(NotFound):
        await cast.secretariat.feedback(early.id)
    with pytest.raises(NotFound):  # the analysis' feedback is tier one's alone
        await cast.power.handler.feedback(analysis.id)

    # -- step 6: a high-confidence countermeasure for all members, police excluded -----------
    clock.advance(minutes=30)  # 20:20
    scope = {"groups": ["all_members"], "exclude_attributes": ["law_enforcement"]}
    confirmed = {
        "kind": "countermeasure",
        "confidence": "high",
        "tlp": "GREEN",
        "scope": scope,
        "derived_from": [early.id],
    }
    detailed = await a.handler.submit(
        {
            **confirmed,
            "secret": True,
            "title": "Confirmed: worm via file sharing, details",
            "body": "Indicators and the victims' timeline; keep unpatched PCs off.",
        }
    )
    public = await a.handler.submit(
        {
            **confirmed,
            "secret": False,
            "title": "Confirmed: keep unpatched PCs off",
            "body": "Apply the patch offline before switching unpatched PCs on.",
        }
    )
    # SPEC §3 rule 10: who else was left out, and why, is not the submitter's to learn.
    assert detailed.dropped == {}
    assert detailed.recipients == 11
    assert public.dropped == {}
    assert public.recipients == 13
    for org in (b, cast.power, cast.water, cast.maker, cast.university):
        assert await _opens(org.handler, detailed.id), org.name
        assert await _opens(org.handler, public.id), org.name
    for org in (cast.refuser, cast.handlerless):
        assert not await _opens(org.handler, detailed.id), org.name
        assert await _opens(org.plain, public.id), org.name  # the non-secret version
    assert not await _opens(cast.police.handler, detailed.id)
    assert not await _opens(cast.police.handler, public.id)
    for org in [*cast.tier_two, *cast.general]:  # a confirmed countermeasure asks nothing
        assert detailed.id not in await _owes(org.handler)
        assert public.id not in await _owes(org.handler)

    # -- step 7: the manufacturer consults; tier one answers without learning who ------------
    clock.advance(minutes=5)
    asked = await cast.maker.plain.consult(
        "File server acting strangely", "Our file server has behaved oddly since this morning."
    )
    seen_by_b_consult = await b.handler.get_consultation(asked.id)
    assert (seen_by_b_consult.model_extra or {})["consulter"] is None
    await b.handler.reply_consultation(asked.id, "Check port 445 traffic; isolate the server.")
    back = await cast.maker.handler.get_consultation(asked.id)
    assert [r["body"] for r in back.replies] == ["Check port 445 traffic; isolate the server."]
    assert back.replies[0]["author"]["name"] == "Vendor B"
    by_coordinator = await cast.coordinator.get_consultation(asked.id)
    assert (by_coordinator.model_extra or {})["consulter"]["name"] == "Maker D"
    for org in (cast.power, cast.police, cast.university):
        with pytest.raises(NotFound):
            await org.handler.get_consultation(asked.id)
    with pytest.raises(NotFound):
        await cast.secretariat.get_consultation(asked.id)

    # -- step 8: the secretariat reviews the access log and verifies the chain ---------------
    log = await cast.secretariat.audit(item=analysis.id, limit=200)
    actions = {(e.action, e.actor_member_id, e.outcome) for e in log.items}
    assert ("item.submit", a.id, "allowed") in actions
    assert ("item.read", b.id, "allowed") in actions
    assert ("feedback.answer", b.id, "allowed") in actions
    assert ("feedback.answer", c.id, "allowed") in actions
    assert ("feedback.answer", cast.power.id, "denied") in actions  # the denial is an event
    assert ("item.read", cast.police.id, "denied") in actions
    consult_log = await cast.secretariat.audit(item=asked.id, limit=200)
    assert consult_log.items and all(e.actor_member_id != cast.maker.id for e in consult_log.items)
    export = tmp_path / "audit.jsonl"
    lines = [record async for record in cast.secretariat.audit_export()]
    export.write_text("".join(_json_line(r) for r in lines))
    exported = export.read_text()
    for content in (
        "same sample at two customers",
        "two hosts rebooted",
        "203.0.113.7",
        "acting strangely",
        "port 445",
        "Company A",
    ):
        assert content not in exported  # the log holds who and what, never contents
    assert verify_export(broker.settings, export) == 0
    with pytest.raises(NotFound):  # reads no content
        await cast.secretariat.get_item(analysis.id)

    # -- step 9: the coordinator's contribution ledger for the week --------------------------
    clock.advance(hours=4)  # Saturday 00:25: the analysis fell due at 23:00
    await _sweep(broker)
    assert (cast.coordinator_id, analysis.id) in await _events(broker, "overdue")
    ledger = await cast.coordinator.ledger("2026-W47")
    rows = {row["name"]: row for row in ledger["items"] if row["kind"] == "member"}
    # The task force has rows; general members have no duties and no row.
    assert set(rows) == {
        "Vendor A",
        "Vendor B",
        "Vendor C",
        "Power Co",
        "Rail Co",
        "Hospital Group",
        "City B",
        "Water Works",
    }
    assert rows["Vendor A"]["original_submissions"] == 4
    assert rows["Vendor A"]["flagged"] is False
    for name in ("Vendor B", "Vendor C"):
        assert rows[name]["feedback_given"] == 1
        assert rows[name]["answers_on_time"] == 1
        assert rows[name]["reasons"] == ["no_original_submissions"]  # free riders
    for name in ("Power Co", "Hospital Group", "City B"):
        assert rows[name]["answers_on_time"] == 1
        assert rows[name]["flagged"] is False
    assert rows["Rail Co"]["answers_late"] == 1
    assert rows["Rail Co"]["reasons"] == ["low_on_time_ratio"]
    assert rows["Water Works"]["answers_missing"] == 1
    assert rows["Water Works"]["reasons"] == ["low_on_time_ratio"]
    (coordinator_row,) = [r for r in ledger["items"] if r["kind"] == "coordinator"]
    assert coordinator_row["member_id"] == cast.coordinator_id
    assert coordinator_row["answers_missing"] == 1
    assert coordinator_row["flagged"] is False  # the coordinator is not under review
    # Each member sees its own row; a general member has none; the secretariat none at all.
    own = await b.plain.ledger("2026-W47")
    assert [r["member_id"] for r in own["items"]] == [b.id]
    assert (await cast.maker.handler.ledger("2026-W47"))["items"] == []
    with pytest.raises(Forbidden):
        await cast.secretariat.ledger("2026-W47")


def _json_line(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n"
