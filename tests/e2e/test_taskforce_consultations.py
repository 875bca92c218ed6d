"""Consultations (art. 16(3)): who asked is known to the coordinator alone, from every angle."""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select, text, update

from broker.store.tables import consultations, events
from clients.sdk import CouncilClient, Forbidden, NotFound, ServerError
from tests.conftest import Broker
from tests.council import Org, decide_status, make_org

QUESTION = "Our file server has behaved strangely since this morning"
ANSWER = "Look for SMB traffic on port 445 to unknown hosts"
FOLLOW_UP = "We did: two hosts talk to 198.51.100.23"


@dataclass
class Circle:
    """A consulting manufacturer and everyone who might try to learn who it is."""

    broker: Broker
    maker: Org  # the consulting member
    vendor: Org  # tier one: an addressee
    peer: Org  # tier one: another addressee
    power: Org  # tier two: not an addressee
    other: Org  # another general member
    secretariat: CouncilClient
    coordinator_staff: CouncilClient

    @property
    def coordinator(self) -> CouncilClient:
        """The coordinator's administrator."""
        return self.broker.admin


@pytest.fixture
async def circle(broker: Broker) -> Circle:
    """A council with a secretariat auditor and a plain coordinator user."""
    admin = broker.admin
    bodies = await admin.list_members()
    secretariat_id = next(m.id for m in bodies.items if m.kind == "secretariat")
    _, auditor = await admin.create_user(secretariat_id, "Auditor", "member_user")
    _, staff = await admin.create_user(broker.coordinator_id, "Coordinator staff", "member_user")
    return Circle(
        broker=broker,
        maker=await make_org(broker, "Maker D", category="other"),
        vendor=await make_org(broker, "Vendor A", tier="tier_one"),
        peer=await make_org(broker, "Vendor B", tier="tier_one"),
        power=await make_org(
            broker, "Power Co", tier="tier_two", category="critical_infrastructure"
        ),
        other=await make_org(broker, "University", category="academia"),
        secretariat=broker.client(auditor),
        coordinator_staff=broker.client(staff),
    )


def _names_the_maker(data: Any, maker: Org) -> bool:
    dumped = json.dumps(data)
    return (
        maker.id in dumped
        or maker.name in dumped
        or maker.handler_user_id in dumped
        or (maker.plain_user_id in dumped)
    )


async def _raw(client: CouncilClient, path: str) -> Any:
    return await client._json("GET", path)


async def test_only_the_coordinator_learns_who_asked(circle: Circle) -> None:
    """Tested from each role: the consulter sees itself, the coordinator (any of its users)
    sees who asked, tier one answers without learning it, everyone else sees nothing — and
    neither the audit log the secretariat reads nor any listing gives it away."""
    maker = circle.maker
    asked = await maker.plain.consult("Something feels off", QUESTION)
    path = f"/v1/consultations/{asked.id}"
    await maker.plain.reply_consultation(asked.id, FOLLOW_UP)
    await circle.vendor.handler.reply_consultation(asked.id, ANSWER)

    # The consulter: its own thread, itself, and who answered.
    own = await _raw(maker.handler, path)
    assert own["mine"] is True and own["role"] == "consulter"
    assert own["consulter"] == {"member_id": maker.id, "name": "Maker D"}
    assert [(r["body"], r["from_consulter"]) for r in own["replies"]] == [
        (FOLLOW_UP, True),
        (ANSWER, False),
    ]
    assert own["replies"][1]["author"] == {"member_id": circle.vendor.id, "name": "Vendor A"}

    # The coordinator, through any of its users (art. 16(3)).
    for coordinator in (circle.coordinator, circle.coordinator_staff):
        seen = await _raw(coordinator, path)
        assert seen["consulter"] == {"member_id": maker.id, "name": "Maker D"}
        assert seen["replies"][0]["author"]["member_id"] == maker.id
        listed = await _raw(coordinator, "/v1/consultations")
        assert listed["items"][0]["consulter"]["member_id"] == maker.id

    # Tier one: reads and answers, never learns who asked — not in the thread, not in a list.
    for tier_one in (circle.vendor.handler, circle.vendor.plain, circle.peer.handler):
        seen = await _raw(tier_one, path)
        assert seen["title"] == "Something feels off" and seen["body"] == QUESTION
        assert seen["consulter"] is None and seen["mine"] is False
        assert seen["replies"][0] == {**seen["replies"][0], "author": None, "from_consulter": True}
        assert not _names_the_maker(seen, maker)
        listed = await _raw(tier_one, "/v1/consultations")
        assert [c["id"] for c in listed["items"]] == [asked.id]
        assert not _names_the_maker(listed, maker)

    # Everyone else: 404, the same as for a consultation that does not exist.
    for outsider in (circle.power.handler, circle.other.handler, circle.secretariat):
        for target in (asked.id, "01JZZZZZZZZZZZZZZZZZZZZZZZ"):
            with pytest.raises(NotFound):
                await outsider.get_consultation(target)
            with pytest.raises(NotFound):
                await outsider.reply_consultation(target, "let me in")
        assert (await _raw(outsider, "/v1/consultations"))["items"] == []

    # The audit log: the whole thread is in it, the consulter is not.
    trail = (await circle.secretariat.audit(item=asked.id, limit=200)).items
    actions = [(e.action, e.actor_member_id, e.details.get("by")) for e in trail]
    assert ("consultation.open", None, "consulter") in actions
    assert ("consultation.reply", None, "consulter") in actions
    assert ("consultation.reply", circle.vendor.id, None) in actions
    assert ("consultation.read", circle.peer.id, None) in actions
    assert ("consultation.read", circle.power.id, None) in actions  # the denial
    assert not any(e.actor_member_id == maker.id for e in trail)
    by_maker = (await circle.secretariat.audit(member=maker.id, limit=200)).items
    assert not any(e.action.startswith("consultation.") for e in by_maker)
    export = [r async for r in circle.secretariat.audit_export()]
    consultation_records = [r for r in export if r.get("item_id") == asked.id]
    assert consultation_records and not _names_the_maker(consultation_records, maker)
    assert QUESTION not in json.dumps(export) and ANSWER not in json.dumps(export)

    # The live-stream events: the addressees are told, nothing names the maker.
    db = circle.broker.database()
    try:
        async with db.read() as conn:
            rows = (await conn.execute(select(events).where(events.c.kind.like("consult%")))).all()
    finally:
        await db.dispose()
    opened = sorted(r.member_id for r in rows if r.kind == "consultation")
    assert opened == sorted([circle.broker.coordinator_id, circle.vendor.id, circle.peer.id])
    assert not any(_names_the_maker(r.payload, maker) for r in rows)


async def test_the_consulter_may_reveal_itself_and_nobody_else_may(circle: Circle) -> None:
    """Revealing is the consulting member's choice, at the start or later; once revealed
    tier one sees who asked, and the audit log names it from then on."""
    open_hand = await circle.maker.handler.consult("Who we are", QUESTION, reveal_identity=True)
    seen = await _raw(circle.vendor.handler, f"/v1/consultations/{open_hand.id}")
    assert seen["consulter"]["name"] == "Maker D" and seen["reveal_identity"] is True

    hidden = await circle.maker.handler.consult("Later", QUESTION)
    for not_theirs in (circle.vendor.handler, circle.coordinator):
        with pytest.raises(Forbidden):
            await not_theirs._json("POST", f"/v1/consultations/{hidden.id}/reveal", json={})
    assert (await _raw(circle.peer.handler, f"/v1/consultations/{hidden.id}"))["consulter"] is None
    revealed = await circle.maker.plain._json(
        "POST", f"/v1/consultations/{hidden.id}/reveal", json={}
    )
    assert revealed["revealed_at"] is not None
    seen = await _raw(circle.peer.handler, f"/v1/consultations/{hidden.id}")
    assert seen["consulter"] == {"member_id": circle.maker.id, "name": "Maker D"}
    trail = (await circle.secretariat.audit(item=hidden.id, action="consultation.reveal")).items
    assert [(e.actor_member_id, e.outcome) for e in trail] == [
        (circle.vendor.id, "denied"),
        (circle.broker.coordinator_id, "denied"),
        (circle.maker.id, "allowed"),
    ]


async def test_who_may_consult(circle: Circle) -> None:
    """Any active member may consult, tier one and tier two included; the secretariat and a
    restricted member may not."""
    for asker in (circle.power.handler, circle.vendor.plain, circle.other.plain):
        assert (await asker.consult("q", QUESTION)).id
    with pytest.raises(Forbidden):
        await circle.secretariat.consult("q", QUESTION)
    await decide_status(circle.broker, circle.other.id, "restricted")
    with pytest.raises(Forbidden):
        await circle.other.plain.consult("q", QUESTION)
    # A restricted member takes part in nothing, its own earlier thread included (art. 8(2)).
    assert (await _raw(circle.other.plain, "/v1/consultations"))["items"] == []
    # A tier-two member's consultation is hidden from the other tier-two members too.
    listed = await _raw(circle.power.handler, "/v1/consultations")
    assert len(listed["items"]) == 1


async def test_consultations_are_sealed_at_rest_and_bound_to_who_asked(
    circle: Circle,
) -> None:
    """Neither the question nor a reply is stored in clear; rewriting who asked in the
    database breaks the seal (an integrity error), it never silently re-attributes."""
    asked = await circle.maker.plain.consult("Something feels off", QUESTION)
    await circle.vendor.handler.reply_consultation(asked.id, ANSWER)
    db = circle.broker.database()
    try:
        async with db.read() as conn:
            for table in ("consultations", "consultation_messages"):
                rows = (await conn.execute(text(f"SELECT * FROM {table}"))).all()
                dumped = b"".join(
                    v if isinstance(v, bytes) else str(v).encode() for r in rows for v in r
                )
                for clear in (QUESTION, ANSWER, "Something feels off"):
                    assert clear.encode() not in dumped, table
        async with db.write() as conn:
            await conn.execute(
                update(consultations)
                .where(consultations.c.id == asked.id)
                .values(member_id=circle.other.id)
            )
    finally:
        await db.dispose()
    with pytest.raises(ServerError) as alarm:
        await circle.coordinator.get_consultation(asked.id)
    assert alarm.value.code == "integrity_error"
    trail = (await circle.coordinator.audit(item=asked.id, action="integrity.alarm")).items
    assert trail and trail[0].outcome == "error"


async def test_consultation_list_pages_newest_first(circle: Circle) -> None:
    """`GET /v1/consultations` is cursor-paginated, newest first."""
    made = [(await circle.maker.plain.consult(f"q{i}", QUESTION)).id for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        page = await circle.vendor.handler._json(
            "GET", "/v1/consultations", params={"limit": 2, "cursor": cursor}
        )
        seen.extend(c["id"] for c in page["items"])
        assert all("body" not in c for c in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))


async def test_no_log_line_ties_an_asker_to_a_consultation(circle: Circle) -> None:
    """Charter art. 16(3): who asked is known to the coordinator alone, so the
    broker's own log never ties an asker to a consultation: no line of a
    consultation request (the access-log line included) carries the asker's
    member or user id. Elsewhere the operator's request log still names the caller."""
    from broker.logging import configure_logging

    captured = io.StringIO()
    configure_logging("info", captured)
    try:
        asked = await circle.maker.plain.consult(QUESTION, "since this morning")
        await circle.maker.plain.get_consultation(asked.id)
        await circle.vendor.handler.reply_consultation(asked.id, ANSWER)
        await circle.maker.plain.reply_consultation(asked.id, FOLLOW_UP)
        await circle.maker.plain._json("GET", "/v1/consultations")
        await circle.maker.plain.list_members()
    finally:
        configure_logging("warning", sys.stderr)
    lines = [json.loads(line) for line in captured.getvalue().splitlines() if line.strip()]
    about = {
        line["request_id"]
        for line in lines
        if str(line.get("route", "")).startswith("/v1/consultations") or "consultation_id" in line
    }
    assert about, "the consultation requests were logged"
    maker = {circle.maker.id, circle.maker.plain_user_id}
    for line in lines:
        if line.get("request_id") in about:
            assert "member_id" not in line and "user_id" not in line, line
            assert not maker & set(json.dumps(line).split('"')), line
    assert any(
        line.get("event") == "request" and line.get("member_id") == circle.maker.id
        for line in lines
    ), "the operator's request log still names callers elsewhere"
