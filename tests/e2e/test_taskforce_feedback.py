"""Obligations and answers over HTTP: changes until due, late answers, withdrawal, departure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from broker.store.tables import events, obligations
from clients.sdk import Conflict, Forbidden, Invalid, NotFound
from tests.conftest import Broker
from tests.council import Org, decide_status, make_org


@dataclass
class TaskForce:
    """Two vendors, three operators and a general member."""

    broker: Broker
    vendor: Org
    peer: Org
    power: Org
    rail: Org
    water: Org
    general: Org

    @property
    def operators(self) -> list[Org]:
        """The tier-two members."""
        return [self.power, self.rail, self.water]


@pytest.fixture
async def tf(broker: Broker) -> TaskForce:
    """A small task force on a fresh broker."""
    ci = {"tier": "tier_two", "category": "critical_infrastructure"}
    return TaskForce(
        broker=broker,
        vendor=await make_org(broker, "Vendor", tier="tier_one"),
        peer=await make_org(broker, "Peer", tier="tier_one"),
        power=await make_org(broker, "Power", **ci),
        rail=await make_org(broker, "Rail", **ci),
        water=await make_org(broker, "Water", tier="tier_two", category="local_government"),
        general=await make_org(broker, "Maker", category="other"),
    )


def _countermeasure(**overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "kind": "countermeasure",
        "title": "do not boot unpatched PCs",
        "body": "apply the patch offline first",
        "tlp": "AMBER",
        "secret": False,
        "confidence": "low",
        "scope": {"groups": ["task_force"]},
        "feedback": {"due": "PT4H"},
    }
    item.update(overrides)
    return item


async def _audit(broker: Broker, item_id: str, action: str) -> list[Any]:
    page = await broker.admin.audit(item=item_id, action=action, limit=200)
    return page.items


async def test_an_answer_changes_until_due_each_change_audited_then_locks(tf: TaskForce) -> None:
    """Before the due time an answer may change (each change an audit event); a retry of the
    same answer changes nothing; from the due time on a given answer is locked."""
    item = await tf.vendor.handler.submit(_countermeasure())
    power = tf.power.handler
    assert (await power.answer(item.id, "unknown"))["change"] == "first"
    tf.broker.clock.advance(hours=1)
    assert (await power.answer(item.id, "came", "seen on two hosts"))["change"] == "changed"
    again = await power.answer(item.id, "came", "seen on two hosts")
    assert again["change"] == "unchanged"
    assert again["changes"] == 1
    answers = await _audit(tf.broker, item.id, "feedback.answer")
    assert [e.details["change"] for e in answers] == ["first", "changed", "unchanged"]
    assert all(e.actor_member_id == tf.power.id for e in answers)
    # The log keeps who answered and when, never what: verdicts and comments are content.
    assert all("verdict" not in e.details and "comment" not in e.details for e in answers)
    tf.broker.clock.advance(hours=3)  # exactly the due time: now locked
    with pytest.raises(Conflict):
        await power.answer(item.id, "not_came")
    assert (await power.answer(item.id, "came", "seen on two hosts"))["change"] == "unchanged"
    own = (await power.feedback(item.id))["own"]
    assert (own["verdict"], own["comment"], own["late"]) == ("came", "seen on two hosts", False)


async def test_a_late_first_answer_is_accepted_and_counted_late(tf: TaskForce) -> None:
    """The provider always gets feedback: a first answer after the due time is taken, late."""
    item = await tf.vendor.handler.submit(_countermeasure(feedback={"due": "PT1H"}))
    tf.broker.clock.advance(hours=2)
    late = await tf.rail.handler.answer(item.id, "not_came")
    assert late["late"] is True
    view = await tf.vendor.handler.feedback(item.id)
    assert view["summary"]["quick_answers"]["late"] == 1
    assert view["summary"]["quick_answers"]["missing"] == 2  # power and water, past due


async def test_verdicts_must_fit_the_obligation(tf: TaskForce) -> None:
    """Tier two answers came / not_came / unknown; tier one confirm / refute /
    additional_info, the last with text; anything else is a 422 naming the field."""
    cm = await tf.vendor.handler.submit(_countermeasure())
    with pytest.raises(Invalid) as wrong_kind:
        await tf.power.handler.answer(cm.id, "confirm")
    assert wrong_kind.value.field == "verdict"
    with pytest.raises(Invalid) as unknown:
        await tf.power.handler.answer(cm.id, "maybe")
    assert unknown.value.field == "verdict"
    analysis = await tf.vendor.handler.submit(
        {
            "kind": "analysis",
            "title": "worm",
            "tlp": "AMBER",
            "secret": False,
            "scope": {"groups": ["tier_one_group"]},
        }
    )
    with pytest.raises(Invalid) as bare:
        await tf.peer.handler.answer(analysis.id, "additional_info", "   ")
    assert bare.value.field == "comment"
    assert (await tf.peer.handler.answer(analysis.id, "refute", "benign updater"))["late"] is False
    # A verdict that fits no obligation is refused by the policy, and audited; one that is
    # no verdict at all never gets past parsing, like any malformed request.
    denied = await _audit(tf.broker, cm.id, "feedback.answer")
    assert [e.reason for e in denied if e.outcome == "denied"] == ["invalid_verdict"]


async def test_who_may_answer_and_see_answers_404s_reveal_nothing(tf: TaskForce) -> None:
    """A member that cannot open the item gets the same 404 as for an item that does not
    exist; one that can but owes nothing gets 403; each refusal is audited."""
    item = await tf.vendor.handler.submit(_countermeasure())
    errors = []
    for item_id in (item.id, "01JZZZZZZZZZZZZZZZZZZZZZZZ"):
        for call in (
            tf.general.handler.feedback(item_id),
            tf.general.handler.answer(item_id, "came"),
        ):
            with pytest.raises(NotFound) as caught:
                await call
            errors.append((caught.value.code, caught.value.message, caught.value.field))
    assert len(set(errors)) == 1
    with pytest.raises(Forbidden):
        await tf.peer.handler.answer(item.id, "came")  # tier one owes nothing on it
    denials = await _audit(tf.broker, item.id, "feedback.read")
    assert [(e.actor_member_id, e.outcome) for e in denials] == [(tf.general.id, "denied")]


async def test_withdrawal_cancels_open_obligations_and_keeps_given_answers(
    tf: TaskForce,
) -> None:
    """Withdrawing an item cancels what is still owed on it; answers already given stay
    (without their comments, destroyed with the content) and nothing counts as missing."""
    item = await tf.vendor.handler.submit(_countermeasure(feedback={"due": "PT1H"}))
    await tf.power.handler.answer(item.id, "came", "quoting the countermeasure text")
    await tf.vendor.handler.withdraw(item.id)
    for org in tf.operators:
        assert await org.handler.obligations() == []
    history = await tf.rail.handler._json("GET", "/v1/obligations", params={"status": "all"})
    assert [(o["item_id"], o["status"], o["title"]) for o in history["items"]] == [
        (item.id, "cancelled", None)
    ]
    with pytest.raises(NotFound):
        await tf.rail.handler.answer(item.id, "came")
    tf.broker.clock.advance(hours=2)
    view = await tf.vendor.handler.feedback(item.id)
    assert view["item"]["status"] == "withdrawn"
    statuses = {a["member_id"]: (a["status"], a["verdict"], a["comment"]) for a in view["answers"]}
    assert statuses[tf.power.id] == ("answered", "came", None)
    assert statuses[tf.rail.id] == ("cancelled", None, None)
    assert view["summary"]["quick_answers"]["missing"] == 0
    rows = {r["member_id"]: r for r in (await tf.broker.admin.ledger())["items"]}
    assert rows[tf.rail.id]["answers_missing"] == 0
    assert rows[tf.power.id]["answers_on_time"] == 1


@pytest.mark.parametrize("status", ["restricted", "withdrawn", "expelled"])
async def test_a_departing_member_has_its_open_obligations_closed_not_missing(
    tf: TaskForce, status: str
) -> None:
    """A restricted, withdrawn or expelled member owes nothing more (art. 7, 8): its open
    obligations close and never count as missing; answered ones stay answered."""
    first = await tf.vendor.handler.submit(_countermeasure(feedback={"due": "PT1H"}))
    second = await tf.vendor.handler.submit(_countermeasure(feedback={"due": "PT1H"}))
    await tf.rail.handler.answer(first.id, "came")
    if status == "withdrawn":
        await tf.broker.admin.update_member(tf.rail.id, status=status)
    else:
        await decide_status(tf.broker, tf.rail.id, status)
    tf.broker.clock.advance(hours=2)
    view = await tf.vendor.handler.feedback(second.id)
    assert {a["member_id"]: a["status"] for a in view["answers"]}[tf.rail.id] == "closed"
    assert view["summary"]["quick_answers"]["missing"] == 2  # power and water only
    rows = {r["member_id"]: r for r in (await tf.broker.admin.ledger())["items"]}
    assert rows[tf.rail.id]["answers_missing"] == 0
    assert rows[tf.rail.id]["answers_on_time"] == 1
    assert rows[tf.rail.id]["flagged"] is False  # no longer active: not under review
    if status == "restricted":
        # A member whose restriction is lifted owes nothing on what it missed meanwhile.
        await decide_status(tf.broker, tf.rail.id, "active")
        assert await tf.rail.handler.obligations() == []


async def test_obligations_list_pages_by_due_time_and_hides_secret_items_from_non_handlers(
    tf: TaskForce,
) -> None:
    """`GET /v1/obligations` pages earliest-due first; a non-handler user does not see
    obligations on secret items (art. 18(4): not even that they exist)."""
    dues = ["PT5H", "PT1H", "PT3H", "PT2H", "PT4H"]
    ids = {
        due: (await tf.vendor.handler.submit(_countermeasure(feedback={"due": due}))).id
        for due in dues
    }
    secret = await tf.vendor.handler.submit(_countermeasure(secret=True, feedback={"due": "PT30M"}))
    seen: list[str] = []
    cursor = None
    while True:
        page = await tf.power.handler._json(
            "GET", "/v1/obligations", params={"limit": 2, "cursor": cursor}
        )
        seen.extend(o["item_id"] for o in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [secret.id, *(ids[d] for d in sorted(dues))]
    plain = [o.item_id for o in await tf.power.plain.obligations()]
    assert plain == [ids[d] for d in sorted(dues)]
    with pytest.raises(Invalid):
        await tf.power.handler._json("GET", "/v1/obligations", params={"cursor": "!!"})
    with pytest.raises(Invalid):
        await tf.power.handler._json("GET", "/v1/obligations", params={"status": "late"})


async def test_obligations_are_created_with_the_delivery_as_events(tf: TaskForce) -> None:
    """Each new obligation is an `obligation` event for the owing member's stream; an item
    without a due time gets the kind's default from the settings."""
    item = await tf.vendor.handler.submit(_countermeasure(feedback=None))
    owed = await tf.water.handler.obligations()
    settings = tf.broker.settings
    assert owed[0].due == tf.broker.clock.now + settings.feedback_due_countermeasure
    db = tf.broker.database()
    try:
        async with db.read() as conn:
            rows = (await conn.execute(select(events).where(events.c.kind == "obligation"))).all()
            stored = (await conn.execute(select(obligations))).all()
    finally:
        await db.dispose()
    assert sorted(r.member_id for r in rows) == sorted(o.id for o in tf.operators)
    assert all(r.item_id == item.id and r.payload["kind"] == "quick_answer" for r in rows)
    assert len(stored) == 3


async def test_ledger_rows_and_periods(tf: TaskForce) -> None:
    """The coordinator sees every task-force row, a member its own; a bad period is a 422."""
    await tf.vendor.handler.submit(_countermeasure())
    everyone = await tf.broker.admin.ledger()
    members = {r["member_id"] for r in everyone["items"] if r["kind"] == "member"}
    assert members == {tf.vendor.id, tf.peer.id, *(o.id for o in tf.operators)}
    peer = {r["member_id"]: r for r in everyone["items"]}[tf.peer.id]
    assert peer["reasons"] == ["no_original_submissions"]
    assert everyone["policy"] == {"min_original_submissions_tier_one": 1, "min_on_time_ratio": 0.8}
    mine = await tf.power.plain.ledger()
    assert [r["member_id"] for r in mine["items"]] == [tf.power.id]
    for bad in ("2026-13", "last-week", "2026-W60"):
        with pytest.raises(Invalid) as caught:
            await tf.vendor.handler.ledger(bad)
        assert caught.value.field == "period"
