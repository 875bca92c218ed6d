"""Governance through the HTTP API (SPEC §6): a test per charter article, on SQLite
and PostgreSQL (marker `db`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select, update

from broker.services.auditor import Auditor
from broker.services.directory import Directory
from broker.services.keyring import Keys
from broker.services.resolutions import ResolutionService
from broker.store.tables import resolution_ballots, resolutions
from broker.store.uow import Store
from clients.sdk import CouncilClient, CouncilError
from tests.conftest import Broker
from tests.council import Org, draft, make_org


@dataclass
class Gov:
    """A committee of four seats (the first the chair), a secretariat clerk, members."""

    broker: Broker
    secretariat_id: str
    seats: list[CouncilClient]
    seat_ids: list[str]
    clerk: CouncilClient
    vendor: Org
    suspect: Org
    bystander: Org


async def _call(client: CouncilClient, method: str, path: str, body: Any = None) -> Any:
    return await client._json(method, path, json=body)


async def _refused(client: CouncilClient, method: str, path: str, body: Any = None) -> CouncilError:
    with pytest.raises(CouncilError) as refused:
        await client._json(method, path, json=body)
    return refused.value


@pytest.fixture
async def gov(broker: Broker) -> Gov:
    """The cast: a committee, a clerk, a tier-one vendor, a suspect and a bystander."""
    admin = broker.admin
    bodies = await admin.list_members()
    secretariat_id = next(m.id for m in bodies.items if m.kind == "secretariat")
    seats, seat_ids = [], []
    for index in range(4):
        created = await _call(
            admin,
            "POST",
            f"/v1/members/{secretariat_id}/users",
            {"name": f"Seat {index}", "role": "committee", "chair": index == 0},
        )
        seats.append(broker.client(created["token"]))
        seat_ids.append(created["user"]["id"])
    _, clerk_token = await admin.create_user(secretariat_id, "Clerk", "member_user")
    vendor = await make_org(broker, "Vendor A", tier="tier_one")
    suspect = await make_org(broker, "Vendor B", tier="tier_one")
    bystander = await make_org(broker, "Maker Co", category="other")
    return Gov(
        broker,
        secretariat_id,
        seats,
        seat_ids,
        broker.client(clerk_token),
        vendor,
        suspect,
        bystander,
    )


async def _open(gov: Gov, kind: str, subject: str | None = None, **fields: Any) -> dict[str, Any]:
    body = {"kind": kind, "title": f"{kind} motion", "text": "the committee's reasons", **fields}
    if subject is not None:
        body["subject_member_id"] = subject
    created: dict[str, Any] = await _call(gov.clerk, "POST", "/v1/resolutions", body)
    assert created["status"] == "open"
    return created


async def _votes(gov: Gov, resolution_id: str, *votes: str) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    for seat, vote in zip(gov.seats, votes, strict=False):
        if vote == "recuse":
            answer = await _call(
                seat, "POST", f"/v1/resolutions/{resolution_id}/recusal", {"reason": "my firm"}
            )
        elif vote != "-":
            answer = await _call(
                seat, "POST", f"/v1/resolutions/{resolution_id}/votes", {"vote": vote}
            )
    return answer


async def _close(gov: Gov, resolution_id: str) -> dict[str, Any]:
    closed: dict[str, Any] = await _call(
        gov.clerk, "POST", f"/v1/resolutions/{resolution_id}/close"
    )
    return closed


class Stream:
    """A WebSocket subscriber that keeps every frame it receives."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []

    async def drain(self, quiet: float = 0.3) -> list[dict[str, Any]]:
        """Everything that arrives until the connection is quiet for `quiet` seconds."""
        while not self.ws.closed:
            try:
                message = await asyncio.wait_for(self.ws.receive(), quiet)
            except TimeoutError:
                break
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            self.events.append(json.loads(message.data))
        return self.events

    async def next_of(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next event of `kind`."""
        while True:
            message = await asyncio.wait_for(self.ws.receive(), timeout)
            assert message.type == aiohttp.WSMsgType.TEXT, message
            event: dict[str, Any] = json.loads(message.data)
            self.events.append(event)
            if event["event"] == kind:
                return event


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """One HTTP session for the test's connections."""
    async with aiohttp.ClientSession() as client:
        yield client


async def _stream(session: aiohttp.ClientSession, broker: Broker, client: CouncilClient) -> Stream:
    ws = await session.ws_connect(
        broker.url + "/v1/stream", headers={"Authorization": f"Bearer {client._token}"}
    )
    return Stream(ws)


async def test_art_6_1_admission_activates_an_applicant_that_received_nothing(
    broker: Broker, gov: Gov
) -> None:
    """An applicant receives nothing; the committee admits it by the ordinary rule and
    from then on it receives what its scope gives it."""
    applicant = await make_org(broker, "Newcomer", category="other", status="applicant")
    assert (await broker.admin.get_member(applicant.id)).status == "applicant"
    before = await gov.vendor.handler.submit(
        draft(kind="notice", scope={"groups": ["all_members"]})
    )
    assert (await applicant.handler.inbox()).items == []
    admission = await _open(gov, "admission", applicant.id)
    await _votes(gov, admission["id"], "yes", "yes", "no")
    decided = await _close(gov, admission["id"])
    assert decided["status"] == "passed" and decided["effective_at"] is not None
    assert decided["tally"] | {} == {
        "yes": 2,
        "no": 1,
        "abstain": 0,
        "recused": 0,
        "seats": 4,
        "entitled": 4,
    }
    assert (await broker.admin.get_member(applicant.id)).status == "active"
    after = await gov.vendor.handler.submit(draft(kind="notice", scope={"groups": ["all_members"]}))
    inbox = [i.id for i in (await applicant.handler.inbox()).items]
    assert after.id in inbox and before.id not in inbox


async def test_an_admitted_applicant_is_told_its_new_status_on_its_stream(
    broker: Broker, gov: Gov, session: aiohttp.ClientSession
) -> None:
    """The admission closes the applicant's open stream (its rights changed); resuming
    from its cursor it receives `member_status` active."""
    applicant = await make_org(broker, "Newcomer", category="other", status="applicant")
    stream = await _stream(session, broker, applicant.handler)
    admission = await _open(gov, "admission", applicant.id)
    await _votes(gov, admission["id"], "yes", "yes", "yes")
    await _close(gov, admission["id"])
    await stream.drain(quiet=2.0)
    assert stream.ws.closed and stream.ws.close_code == 4403
    resumed = await session.ws_connect(
        broker.url + "/v1/stream?cursor=0",
        headers={"Authorization": f"Bearer {applicant.handler._token}"},
    )
    events = await Stream(resumed).drain()
    statuses = [e["data"] for e in events if e["event"] == "member_status"]
    assert statuses == [{"member_id": applicant.id, "status": "active"}]
    decided = [e["data"]["status"] for e in events if e["event"] == "resolution"]
    assert decided == ["passed"]  # the outcome, once decided; nothing while it was open


async def test_art_6_4_a_foreign_member_gets_a_tier_only_after_a_task_force_exception(
    broker: Broker, gov: Gov
) -> None:
    """Without a passed task_force_exception the coordinator's tier change is refused
    (409 needs_task_force_exception); with one it is made."""
    foreign = await broker.admin.create_member(name="Overseas Ltd", category="other", foreign=True)
    refused = await _refused(
        broker.admin, "PATCH", f"/v1/members/{foreign.id}", {"tier": "tier_one"}
    )
    assert (refused.status, refused.code) == (409, "needs_task_force_exception")
    exception = await _open(gov, "task_force_exception", foreign.id)
    await _votes(gov, exception["id"], "yes", "yes", "yes")
    assert (await _close(gov, exception["id"]))["status"] == "passed"
    changed = await broker.admin.update_member(foreign.id, tier="tier_one")
    assert changed.tier == "tier_one"


async def test_art_8_2_restriction_applies_the_moment_three_quarters_is_reached(
    broker: Broker, gov: Gov, session: aiohttp.ClientSession
) -> None:
    """Two yes of four change nothing; the third restricts the suspect at once, before
    any close: its stream closes, its reads stop; the fourth seat finds it closed."""
    stream = await _stream(session, broker, gov.suspect.handler)
    item = await gov.vendor.handler.submit(draft())
    restriction = await _open(gov, "restriction", gov.suspect.id)
    await _votes(gov, restriction["id"], "yes", "yes")
    assert (await broker.admin.get_member(gov.suspect.id)).status == "active"
    assert (await gov.suspect.handler.get_item(item.id)).id == item.id
    third = await _call(
        gov.seats[2], "POST", f"/v1/resolutions/{restriction['id']}/votes", {"vote": "yes"}
    )
    assert third["status"] == "passed" and third["effective_at"] is not None
    assert third["tally"]["yes"] == 3 and third["tally"]["entitled"] == 4
    assert (await broker.admin.get_member(gov.suspect.id)).status == "restricted"
    await stream.drain(quiet=2.0)
    assert stream.ws.closed and stream.ws.close_code == 4403
    refused = await _refused(gov.suspect.handler, "GET", f"/v1/items/{item.id}")
    assert refused.status in (403, 404)
    late = await _refused(
        gov.seats[3], "POST", f"/v1/resolutions/{restriction['id']}/votes", {"vote": "no"}
    )
    assert (late.status, late.code) == (409, "closed")
    # A lift restores access, by the ordinary rule.
    lift = await _open(gov, "lift_restriction", gov.suspect.id)
    await _votes(gov, lift["id"], "yes", "yes", "yes")
    assert (await _close(gov, lift["id"]))["status"] == "passed"
    assert (await gov.suspect.handler.get_item(item.id)).id == item.id


async def test_art_8_1_expulsion_needs_every_entitled_seat(broker: Broker, gov: Gov) -> None:
    """Three yes and one no fail; three yes and one recusal pass: the member is expelled
    and its tokens stop working."""
    first = await _open(gov, "expulsion", gov.suspect.id)
    await _votes(gov, first["id"], "yes", "yes", "yes", "no")
    assert (await _close(gov, first["id"]))["status"] == "failed"
    assert (await broker.admin.get_member(gov.suspect.id)).status == "active"
    second = await _open(gov, "expulsion", gov.suspect.id)
    await _votes(gov, second["id"], "yes", "yes", "yes", "recuse")
    decided = await _close(gov, second["id"])
    assert decided["status"] == "passed" and decided["tally"]["entitled"] == 3
    assert (await broker.admin.get_member(gov.suspect.id)).status == "expelled"
    gone = await _refused(gov.suspect.admin, "GET", "/v1/inbox")
    assert gone.status == 401


async def test_art_11_6_quorum_recusal_and_majority_of_entitled_votes(
    broker: Broker, gov: Gov
) -> None:
    """Two of four seats is no quorum; a recused seat takes part but has no vote
    (409 recused), and its declaration is recorded."""
    applicant = await broker.admin.create_member(
        name="Applicant", category="other", status="applicant"
    )
    thin = await _open(gov, "admission", applicant.id)
    await _votes(gov, thin["id"], "yes", "yes")
    assert (await _close(gov, thin["id"]))["status"] == "no_quorum"
    second = await _open(gov, "admission", applicant.id)
    await _votes(gov, second["id"], "recuse", "yes", "no")
    recused = await _refused(
        gov.seats[0], "POST", f"/v1/resolutions/{second['id']}/votes", {"vote": "yes"}
    )
    assert (recused.status, recused.code) == (409, "recused")
    twice = await _refused(
        gov.seats[1], "POST", f"/v1/resolutions/{second['id']}/votes", {"vote": "no"}
    )
    assert (twice.status, twice.code) == (409, "already_voted")
    decided = await _close(gov, second["id"])
    # Quorum 3 of 4 (the recusal counts); yes 1 of 2 entitled votes is no majority.
    assert decided["status"] == "failed"
    assert decided["recusals"] == [{"user_id": gov.seat_ids[0], "reason": "my firm"}]
    assert (await broker.admin.get_member(applicant.id)).status == "applicant"
    third = await _open(gov, "admission", applicant.id)
    no_seat = await _refused(
        gov.clerk, "POST", f"/v1/resolutions/{third['id']}/votes", {"vote": "yes"}
    )
    assert no_seat.status == 403


async def test_art_11_9_the_chair_refuses_an_ordinary_resolution(broker: Broker, gov: Gov) -> None:
    """Only the chair refuses, only ordinary resolutions; a refused one has no effect
    even with a majority for it."""
    applicant = await broker.admin.create_member(
        name="Hopeful", category="other", status="applicant"
    )
    admission = await _open(gov, "admission", applicant.id)
    await _votes(gov, admission["id"], "yes", "yes", "yes")
    path = f"/v1/resolutions/{admission['id']}/refusal"
    not_chair = await _refused(gov.seats[1], "POST", path, {"reason": "no"})
    assert not_chair.status == 403
    refused = await _call(gov.seats[0], "POST", path, {"reason": "not in the council's interest"})
    assert refused["status"] == "refused" and refused["effective_at"] is None
    assert refused["refusal_reason"] == "not in the council's interest"
    assert (await broker.admin.get_member(applicant.id)).status == "applicant"
    restriction = await _open(gov, "restriction", gov.suspect.id)
    art8 = await _refused(
        gov.seats[0], "POST", f"/v1/resolutions/{restriction['id']}/refusal", {"reason": "no"}
    )
    assert art8.status == 403


async def test_art_10_5_assembly_quorum_counts_proxies(broker: Broker, gov: Gov) -> None:
    """Members voting or represented by proxy must be more than half of the active
    members; a proxy follows its holder's vote."""
    fourth = await make_org(broker, "Rail Co", category="critical_infrastructure")
    members = [gov.vendor, gov.suspect, gov.bystander, fourth]
    thin = await _open(gov, "amendment")
    assert thin["body"] == "assembly"
    for org in members[:2]:
        await _call(org.admin, "POST", f"/v1/resolutions/{thin['id']}/votes", {"vote": "yes"})
    assert (await _close(gov, thin["id"]))["status"] == "no_quorum"
    amendment = await _open(gov, "amendment")
    path = f"/v1/resolutions/{amendment['id']}/votes"
    await _call(members[0].admin, "POST", path, {"vote": "yes"})
    await _call(members[1].admin, "POST", path, {"vote": "no"})
    await _call(members[2].admin, "POST", path, {"proxy_to": members[0].id})
    chain = await _refused(members[3].admin, "POST", path, {"proxy_to": members[2].id})
    assert (chain.status, chain.code) == (409, "proxy_chain")
    plain = await _refused(members[3].plain, "POST", path, {"vote": "yes"})
    assert plain.status == 403  # the member's admin casts its vote
    decided = await _close(gov, amendment["id"])
    assert decided["status"] == "passed"
    assert (decided["tally"]["present"], decided["tally"]["proxies"]) == (3, 1)
    assert (decided["tally"]["yes"], decided["tally"]["no"]) == (2, 1)


async def test_art_10_6_majority_of_present_unless_every_committee_seat_objects(
    broker: Broker, gov: Gov
) -> None:
    """Yes must be more than half of those present; a passing majority is overturned
    only when every committee seat objects."""
    members = [gov.vendor, gov.suspect, gov.bystander]
    tie = await _open(gov, "assembly_matter")
    for org, vote in zip(members, ("yes", "no", "abstain"), strict=True):
        await _call(org.admin, "POST", f"/v1/resolutions/{tie['id']}/votes", {"vote": vote})
    assert (await _close(gov, tie["id"]))["status"] == "failed"
    objected = await _open(gov, "amendment")
    for org in members:
        await _call(org.admin, "POST", f"/v1/resolutions/{objected['id']}/votes", {"vote": "yes"})
    for seat in gov.seats:
        await _call(seat, "POST", f"/v1/resolutions/{objected['id']}/votes", {"vote": "no"})
    decided = await _close(gov, objected["id"])
    assert decided["status"] == "failed" and decided["tally"]["objections"] == 4
    three = await _open(gov, "amendment")
    for org in members:
        await _call(org.admin, "POST", f"/v1/resolutions/{three['id']}/votes", {"vote": "yes"})
    for seat in gov.seats[:3]:
        await _call(seat, "POST", f"/v1/resolutions/{three['id']}/votes", {"vote": "no"})
    assert (await _close(gov, three["id"]))["status"] == "passed"


async def test_art_23_an_information_request_reaches_its_targets_and_is_answered(
    broker: Broker, gov: Gov, session: aiohttp.ClientSession
) -> None:
    """A passed request states purpose and scope; the targets get it as an event and in
    their requests; an answer carries the request's scope, and another scope is refused."""
    stream = await _stream(session, broker, gov.vendor.handler)
    scope = {
        "groups": ["coordinator"],
        "members": [],
        "exclude_members": [],
        "exclude_attributes": [],
    }
    request = await _open(
        gov,
        "information_request",
        purpose="the scale of the intrusion at the rail operator",
        scope=scope,
        target_member_ids=[gov.vendor.id],
    )
    assert await _call(gov.vendor.admin, "GET", "/v1/information-requests") == {
        "items": [],
        "next_cursor": None,
    }
    await _votes(gov, request["id"], "yes", "yes", "yes")
    assert (await _close(gov, request["id"]))["status"] == "passed"
    event = await stream.next_of("information_request")
    assert event["data"]["information_request_id"] == request["id"]
    [listed] = (await _call(gov.vendor.handler, "GET", "/v1/information-requests"))["items"]
    assert (listed["purpose"], listed["scope"], listed["status"]) == (
        "the scale of the intrusion at the rail operator",
        scope,
        "open",
    )
    assert (await _call(gov.bystander.admin, "GET", "/v1/information-requests"))["items"] == []
    wrong = await _refused(
        gov.vendor.handler,
        "POST",
        "/v1/items",
        draft(information_request_id=request["id"], scope={"groups": ["tier_one_group"]}),
    )
    assert (wrong.status, wrong.code) == (409, "scope_mismatch")
    stranger = await _refused(
        gov.bystander.handler,
        "POST",
        "/v1/items",
        draft(kind="notice", information_request_id=request["id"], scope=scope),
    )
    assert stranger.status == 404
    answer = await _call(
        gov.vendor.handler,
        "POST",
        "/v1/items",
        draft(information_request_id=request["id"], scope=scope),
    )
    [listed] = (await _call(gov.vendor.handler, "GET", "/v1/information-requests"))["items"]
    assert listed["status"] == "answered" and listed["answer_item_ids"] == [answer["id"]]
    offices = (await _call(broker.admin, "GET", "/v1/information-requests"))["items"]
    assert [r["member_id"] for r in offices] == [gov.vendor.id]


async def test_art_27_a_resolution_is_invisible_to_its_subject_until_decided(
    broker: Broker, gov: Gov, session: aiohttp.ClientSession
) -> None:
    """While open, the subject gets the same 404 as for an id that does not exist, its
    listing omits it and its stream says nothing; the offices see it all. Once decided
    the subject sees the outcome, never the text or the votes; once published every
    active member sees title, outcome, tally and recused seats."""
    foreign = await make_org(broker, "Overseas Ltd", category="other", foreign=True)
    subject_stream = await _stream(session, broker, foreign.handler)
    clerk_stream = await _stream(session, broker, gov.clerk)
    motion = await _open(gov, "task_force_exception", foreign.id)
    await clerk_stream.next_of("resolution")
    await _votes(gov, motion["id"], "yes", "recuse", "yes")
    path = f"/v1/resolutions/{motion['id']}"
    hidden = await _refused(foreign.admin, "GET", path)
    absent = await _refused(foreign.admin, "GET", "/v1/resolutions/01HZZZZZZZZZZZZZZZZZZZZZZZ")
    assert (hidden.status, hidden.code, hidden.message) == (
        absent.status,
        absent.code,
        absent.message,
    )
    assert (await _call(foreign.admin, "GET", "/v1/resolutions"))["items"] == []
    assert (await _call(gov.bystander.admin, "GET", "/v1/resolutions"))["items"] == []
    office = await _call(broker.admin, "GET", path)
    assert [v["vote"] for v in office["votes"]] == ["yes", "yes"] and office["text"]
    assert [r["id"] for r in (await _call(gov.clerk, "GET", "/v1/resolutions"))["items"]] == [
        motion["id"]
    ]
    assert [e for e in await subject_stream.drain() if e["event"] == "resolution"] == []
    await _close(gov, motion["id"])
    decided = await subject_stream.next_of("resolution")
    assert decided["data"]["resolution_id"] == motion["id"]
    assert decided["data"]["status"] == "passed"
    seen = await _call(foreign.admin, "GET", path)
    assert seen["status"] == "passed" and seen["tally"]["yes"] == 2
    assert not {"votes", "text", "recusals"} & set(seen)
    assert await _refused(gov.bystander.admin, "GET", path)
    not_clerk = await _refused(gov.bystander.admin, "POST", f"{path}/publish")
    assert not_clerk.status == 404
    await _call(gov.clerk, "POST", f"{path}/publish")
    published = await _call(gov.bystander.admin, "GET", path)
    assert published["recusals"] == [{"user_id": gov.seat_ids[1]}]
    assert published["title"] == motion["title"] and "votes" not in published
    assert "text" not in published


def _service(broker: Broker, store: Store) -> ResolutionService:
    """The broker's resolution service over a second connection to its database."""
    return ResolutionService(
        store=store,
        clock=broker.clock,
        keys=Keys(broker.ring),
        auditor=Auditor(store, broker.clock),
        directory=Directory(store, broker.clock, timedelta(seconds=1)),
    )


async def test_texts_stored_before_the_seal_are_sealed_when_the_broker_starts(
    broker: Broker, gov: Gov
) -> None:
    """A resolution whose title, text and recusal reason sit in the clear columns (as
    before texts were sealed) reads the same, and the start-up step seals them and
    clears the columns; afterwards there is nothing left to seal."""
    request = await _open(
        gov,
        "information_request",
        purpose="to trace the intrusion",
        scope={"groups": ["tier_two"]},
        target_member_ids=[gov.vendor.id],
    )
    await _votes(gov, request["id"], "-", "recuse")
    before = await _call(gov.clerk, "GET", f"/v1/resolutions/{request['id']}")
    db = broker.database()
    try:
        async with db.write() as conn:  # the row as an older broker stored it
            await conn.execute(
                update(resolutions)
                .where(resolutions.c.id == request["id"])
                .values(
                    title=before["title"],
                    text=before["text"],
                    purpose=before["purpose"],
                    nonce=None,
                    ciphertext=None,
                    wrapped_key=None,
                    kek_version=None,
                )
            )
            await conn.execute(
                update(resolution_ballots)
                .where(resolution_ballots.c.resolution_id == request["id"])
                .values(reason="my firm")
            )
        assert await _call(gov.clerk, "GET", f"/v1/resolutions/{request['id']}") == before
        service = _service(broker, Store(db))
        assert await service.seal_clear_texts() == 1
        assert await service.seal_clear_texts() == 0
        async with db.read() as conn:
            row = (
                await conn.execute(select(resolutions).where(resolutions.c.id == request["id"]))
            ).one()
            reasons = (await conn.execute(select(resolution_ballots.c.reason))).scalars().all()
    finally:
        await db.dispose()
    assert (row.title, row.text, row.purpose) == ("", None, None) and row.wrapped_key
    assert before["title"].encode() not in bytes(row.ciphertext)
    assert set(reasons) == {None}
    after = await _call(gov.clerk, "GET", f"/v1/resolutions/{request['id']}")
    assert after == before and after["recusals"][0]["reason"] == "my firm"


async def test_a_resolution_closes_at_its_deadline_on_the_sweep(broker: Broker, gov: Gov) -> None:
    """An admission with a majority closes at `closes_at` when a sweep runs (the leader's,
    or any replica's), and its effect applies then."""
    applicant = await broker.admin.create_member(
        name="Punctual", category="other", status="applicant"
    )
    closes_at = (broker.clock.now + timedelta(hours=1)).isoformat()
    admission = await _open(gov, "admission", applicant.id, closes_at=closes_at)
    await _votes(gov, admission["id"], "yes", "yes", "abstain")
    db = broker.database()
    try:
        service = _service(broker, Store(db))
        assert await service.close_due() == 0  # not yet
        broker.clock.advance(hours=2)
        assert await service.close_due() == 1
        assert await service.close_due() == 0  # once only
    finally:
        await db.dispose()
    decided = await _call(gov.clerk, "GET", f"/v1/resolutions/{admission['id']}")
    assert decided["status"] == "passed"
    assert (await broker.admin.get_member(applicant.id)).status == "active"
    audit = await broker.admin.audit(action="resolution.decide")
    assert [e.actor_user_id for e in audit.items] == [None]


async def test_a_status_a_resolution_decides_is_never_set_by_hand(broker: Broker, gov: Gov) -> None:
    """The coordinator's PATCH of status to active, restricted or expelled is refused."""
    for status in ("restricted", "expelled"):
        refused = await _refused(
            broker.admin, "PATCH", f"/v1/members/{gov.suspect.id}", {"status": status}
        )
        assert (refused.status, refused.code) == (409, "decided_by_resolution")
    applicant = await broker.admin.create_member(name="Eager", category="other", status="applicant")
    refused = await _refused(
        broker.admin, "PATCH", f"/v1/members/{applicant.id}", {"status": "active"}
    )
    assert (refused.status, refused.code) == (409, "decided_by_resolution")
    member = await _refused(
        gov.vendor.admin, "POST", "/v1/resolutions", {"kind": "amendment", "title": "x"}
    )
    assert member.status == 403
