"""MISP interop over real HTTP, read and written with pymisp: the feed a member's
MISP pulls, MISP events submitted as items, MISP sightings as answers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import stix2
from pymisp import MISPEvent, MISPSighting

from clients.cli.main import run
from clients.sdk import CouncilClient
from tests.conftest import Broker

pytestmark = pytest.mark.db

INDICATOR = stix2.Indicator(
    id="indicator--6b4d3f5e-7a8b-4c9d-8e1f-2a3b4c5d6e7f",
    name="worm C2",
    pattern="[ipv4-addr:value = '203.0.113.5']",
    pattern_type="stix",
    valid_from="2026-11-01T00:00:00Z",
)
AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"


@dataclass
class Seat:
    """A member's user as a MISP instance would hold it: an id and a token."""

    member_id: str
    user_id: str
    token: str


@dataclass
class Cast:
    """A tier-one vendor, a tier-two operator, a general member, a non-handler."""

    broker: Broker
    vendor: Seat
    operator: Seat
    general: Seat
    vendor_staff: Seat
    http: aiohttp.ClientSession

    async def get(self, seat: Seat, path: str) -> aiohttp.ClientResponse:
        response = await self.http.get(
            self.broker.url + path, headers={"Authorization": f"Bearer {seat.token}"}
        )
        await response.read()
        return response

    async def post(self, seat: Seat, path: str, body: Any) -> tuple[int, Any]:
        async with self.http.post(
            self.broker.url + path, json=body, headers={"Authorization": f"Bearer {seat.token}"}
        ) as response:
            return response.status, await response.json()

    async def get_json(self, seat: Seat, path: str) -> tuple[int, Any]:
        async with self.http.get(
            self.broker.url + path, headers={"Authorization": f"Bearer {seat.token}"}
        ) as response:
            return response.status, await response.json()

    async def feed(self, seat: Seat) -> dict[str, MISPEvent]:
        """Every event of the seat's feed, loaded by pymisp, by uuid."""
        manifest = await self.get(seat, "/misp/feed/manifest.json")
        assert manifest.status == 200
        events: dict[str, MISPEvent] = {}
        for uuid in json.loads(await manifest.read()):
            response = await self.get(seat, f"/misp/feed/{uuid}.json")
            assert response.status == 200
            event = MISPEvent()
            event.load(await response.read())
            events[uuid] = event
        return events


async def _member(broker: Broker, name: str, **fields: Any) -> tuple[Seat, Seat]:
    """A member's handler user, and a user of it that is not a handler."""
    admin = broker.admin
    fields.setdefault("category", "cyber_business")
    member = await admin.create_member(name=name, **fields)
    _, admin_token = await admin.create_user(member.id, f"{name} admin", "member_admin")
    own = broker.client(admin_token)
    user, token = await own.create_user(member.id, f"{name} analyst", "member_user")
    await own.add_handler(member.id, user.id)
    staff, staff_token = await own.create_user(member.id, f"{name} intern", "member_user")
    return Seat(member.id, user.id, token), Seat(member.id, staff.id, staff_token)


@pytest.fixture
async def cast(broker: Broker) -> Any:
    vendor, staff = await _member(broker, "Vendor", tier="tier_one", listed=True)
    operator, _ = await _member(
        broker, "Power", tier="tier_two", category="critical_infrastructure", listed=True
    )
    general, _ = await _member(broker, "Maker", category="other")
    async with aiohttp.ClientSession() as http:
        yield Cast(broker, vendor, operator, general, staff, http)


def _bundle(*objects: Any) -> dict[str, Any]:
    return json.loads(stix2.Bundle(*objects, allow_custom=True).serialize())


async def _submit(cast: Cast, **fields: Any) -> str:
    item: dict[str, Any] = {
        "kind": "countermeasure",
        "title": "block the worm's C2",
        "tlp": "AMBER",
        "secret": False,
        "confidence": "low",
        "scope": {"groups": ["task_force"]},
        "stix": _bundle(INDICATOR),
        "feedback": {"due": "PT4H"},
    }
    item.update(fields)
    status, body = await cast.post(cast.vendor, "/v1/items", item)
    assert status == 201, body
    return str(body["id"])


async def test_feed_events_load_in_pymisp_with_tags_and_distribution(cast: Cast) -> None:
    """Every event of the feed loads as a MISPEvent, tagged and kept to the receiving org."""
    item_id = await _submit(cast, victim={"name": "Hospital X", "damage": True})
    events = await cast.feed(cast.operator)
    assert len(events) == 1
    (event,) = events.values()
    tags = {tag.name for tag in event.tags}
    assert {
        "tlp:amber",
        'council:kind="countermeasure"',
        'council:confidence="low"',
        'council:secret="false"',
    } <= tags
    assert int(event.distribution) == 0
    assert event.info == "block the worm's C2"
    values = {attribute.value for attribute in event.attributes}
    assert "203.0.113.5" in values
    # The victim is masked for the operator exactly as GET /v1/items/{id} masks it.
    assert not any("Hospital X" in str(value) for value in values)
    _, native = await cast.get_json(cast.operator, "/v1/items/" + item_id)
    assert native["victim"].get("name") != "Hospital X"


async def test_tier_two_feed_never_holds_tier_one_analysis(cast: Cast) -> None:
    """A tier-two member's feed lists countermeasures, never tier-one analysis."""
    await _submit(
        cast,
        kind="analysis",
        title="unconfirmed worm analysis",
        confidence="unconfirmed",
        scope={"groups": ["tier_one_group"]},
        feedback=None,
    )
    await _submit(cast)
    operator = await cast.feed(cast.operator)
    assert [event.info for event in operator.values()] == ["block the worm's C2"]
    general = await cast.feed(cast.general)
    assert general == {}
    vendor = await cast.feed(cast.vendor)
    assert len(vendor) == 2


async def test_non_handler_feed_never_holds_a_secret_item(cast: Cast) -> None:
    """A non-handler user's feed holds no secret item (art. 18(1))."""
    await _submit(cast, secret=True, title="secret countermeasure")
    await _submit(cast, title="open countermeasure")
    staff = await cast.feed(cast.vendor_staff)
    assert [event.info for event in staff.values()] == ["open countermeasure"]
    uuid = next(u for u, e in (await cast.feed(cast.vendor)).items() if e.info.startswith("secret"))
    response = await cast.get(cast.vendor_staff, f"/misp/feed/{uuid}.json")
    assert response.status == 404


async def test_round_trip_keeps_tlp_kind_confidence_and_stix(cast: Cast) -> None:
    """A council item -> feed event -> import keeps TLP, kind, confidence and the STIX objects."""
    await _submit(cast, tlp="AMBER+STRICT", confidence="high", scope={"groups": ["task_force"]})
    (event,) = (await cast.feed(cast.vendor)).values()
    status, created = await cast.post(
        cast.vendor,
        "/v1/items",
        {"misp_event": json.loads(event.to_json()), "secret": False},
    )
    assert status == 201, created
    status, item = await cast.get_json(cast.vendor, "/v1/items/" + created["id"])
    assert (item["tlp"], item["kind"], item["confidence"]) == (
        "AMBER+STRICT",
        "countermeasure",
        "high",
    )
    assert item["title"] == "block the worm's C2"
    ids = {obj["id"] for obj in item["stix"]["objects"]}
    assert INDICATOR.id in ids
    # Distribution 0 (organisation only) proposes the provider alone.
    assert item["scope"]["groups"] == [] and item["scope"]["members"] == [cast.vendor.member_id]


async def test_import_refuses_missing_or_weaker_tlp(cast: Cast) -> None:
    """No tlp: tag and no stated TLP, or a stated TLP weaker than a tag: 422, nothing made."""
    event = MISPEvent()
    event.info = "unmarked"
    event.add_attribute("ip-dst", "198.51.100.7")
    event.add_tag('council:kind="analysis"')
    status, body = await cast.post(
        cast.vendor, "/v1/items", {"misp_event": json.loads(event.to_json()), "secret": False}
    )
    assert status == 422 and "tlp" in body["error"]["message"]
    event.add_tag("tlp:red")
    status, body = await cast.post(
        cast.vendor,
        "/v1/items",
        {"misp_event": json.loads(event.to_json()), "secret": False, "tlp": "GREEN"},
    )
    assert status == 422 and "weaker" in body["error"]["message"]
    status, body = await cast.post(
        cast.vendor, "/v1/items", {"misp_event": json.loads(event.to_json()), "tlp": "RED"}
    )
    assert status == 422  # secret must still be stated (art. 18(1))
    _, inbox = await cast.get_json(cast.vendor, "/v1/inbox")
    assert inbox["items"] == []


async def test_import_maps_distribution_to_a_scope_never_wider(cast: Cast) -> None:
    """Community -> all_members; a sharing group -> its listed members; wider stated: 422."""
    event = MISPEvent()
    event.info = "shared with a group"
    event.add_tag("tlp:green")
    event.add_tag('council:kind="countermeasure"')
    event.add_attribute("domain", "worm.example")
    event.distribution = 4
    event.SharingGroup = {"name": "pair", "SharingGroupOrg": [{"Organisation": {"name": "Power"}}]}
    status, created = await cast.post(
        cast.vendor, "/v1/items", {"misp_event": json.loads(event.to_json()), "secret": False}
    )
    assert status == 201, created
    _, item = await cast.get_json(cast.vendor, "/v1/items/" + created["id"])
    assert sorted(item["scope"]["members"]) == sorted(
        [cast.vendor.member_id, cast.operator.member_id]
    )
    status, body = await cast.post(
        cast.vendor,
        "/v1/items",
        {
            "misp_event": json.loads(event.to_json()),
            "secret": False,
            "scope": {"groups": ["all_members"]},
        },
    )
    assert status == 422 and "wider" in body["error"]["message"]
    event.SharingGroup = {"SharingGroupOrg": [{"Organisation": {"name": "Nobody Ltd"}}]}
    status, body = await cast.post(
        cast.vendor, "/v1/items", {"misp_event": json.loads(event.to_json()), "secret": False}
    )
    assert status == 422 and "Nobody Ltd" in body["error"]["message"]
    event.distribution = 1
    status, created = await cast.post(
        cast.vendor, "/v1/items", {"misp_event": json.loads(event.to_json()), "secret": False}
    )
    assert status == 201
    _, item = await cast.get_json(cast.vendor, "/v1/items/" + created["id"])
    assert item["scope"]["groups"] == ["all_members"]


async def test_a_sighting_closes_the_matching_obligation_as_came(cast: Cast) -> None:
    """A tier-two member's MISP sighting is the quick answer `came`; the provider sees it."""
    item_id = await _submit(cast)
    (event,) = (await cast.feed(cast.operator)).values()
    attribute = next(a for a in event.attributes if a.value == "203.0.113.5")
    sighting = MISPSighting()
    sighting.from_dict(value="203.0.113.5", type="0", source="power-soc")
    status, body = await cast.post(cast.operator, "/misp/sightings", json.loads(sighting.to_json()))
    assert status == 200, body
    assert body["answers"] == [{"item_id": item_id, "answer": "came", "change": "first"}]
    _, feedback = await cast.get_json(cast.vendor, f"/v1/items/{item_id}/feedback")
    answers = json.dumps(feedback)
    assert "came" in answers and cast.operator.member_id in answers
    # A false positive, by the attribute's uuid, changes the answer before the due time.
    false_positive = MISPSighting()
    false_positive.from_dict(uuid=attribute.uuid, type="1")
    status, body = await cast.post(
        cast.operator, "/misp/sightings", json.loads(false_positive.to_json())
    )
    assert status == 200, body
    assert body["answers"][0]["answer"] == "not_came"


async def test_a_sighting_of_nothing_owed_is_refused(cast: Cast) -> None:
    """A sighting that matches no obligation of the caller fails with its reason."""
    await _submit(cast)
    sighting = MISPSighting()
    sighting.from_dict(value="192.0.2.200", type="0")
    status, body = await cast.post(cast.operator, "/misp/sightings", json.loads(sighting.to_json()))
    assert status == 422 and "matches no" in body["error"]["message"]


async def test_feed_needs_a_token(cast: Cast) -> None:
    """No token, no feed: 401 as on the native API."""
    async with cast.http.get(cast.broker.url + "/misp/feed/manifest.json") as response:
        assert response.status == 401


async def test_a_proposal_shows_the_scope_before_sending_and_creates_nothing(cast: Cast) -> None:
    """POST /misp/proposals answers what the event would become, and submits nothing."""
    event = MISPEvent()
    event.info = "community event"
    event.distribution = 1
    event.add_tag("tlp:amber")
    event.add_attribute("domain", "worm.example")
    status, body = await cast.post(
        cast.vendor, "/misp/proposals", {"misp_event": json.loads(event.to_json())}
    )
    assert status == 200, body
    assert body["tlp"] == "AMBER" and body["kind"] is None
    assert body["scope"]["groups"] == ["all_members"]
    assert body["stix_objects"] > 0
    _, inbox = await cast.get_json(cast.vendor, "/v1/inbox")
    assert inbox["items"] == []


async def test_council_submit_misp_event_shows_the_proposal_and_submits(
    cast: Cast, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """`council submit --misp-event FILE` shows what the event proposes, then submits it."""
    event = MISPEvent()
    event.info = "worm C2 seen at the border"
    event.distribution = 0
    event.add_tag("tlp:amber")
    event.add_tag('council:kind="countermeasure"')
    event.add_attribute("ip-dst", "203.0.113.9")
    path = tmp_path / "event.json"
    path.write_text(event.to_json())
    env = {"COUNCIL_URL": cast.broker.url, "COUNCIL_TOKEN": cast.vendor.token}

    def client(url: str, token: str | None) -> CouncilClient:
        return CouncilClient(url, token)

    code = await run(
        ["submit", "--misp-event", str(path), "--no-secret", "--yes"],
        client_factory=client,
        env=env,
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "TLP: AMBER" in captured.err and cast.vendor.member_id in captured.err
    item_id = next(
        line.split(": ", 1)[1] for line in captured.out.splitlines() if line.startswith("id: ")
    )
    _, item = await cast.get_json(cast.vendor, "/v1/items/" + item_id)
    assert (item["title"], item["tlp"], item["kind"]) == (
        "worm C2 seen at the border",
        "AMBER",
        "countermeasure",
    )
    # Without a TLP tag and without --tlp the broker refuses, and says why.
    bare = MISPEvent()
    bare.info = "unmarked"
    bare.add_attribute("domain", "worm.example")
    path.write_text(bare.to_json())
    code = await run(
        ["submit", "--misp-event", str(path), "--no-secret", "--kind", "analysis", "--yes"],
        client_factory=client,
        env=env,
    )
    assert code == 1 and "tlp" in capsys.readouterr().err
