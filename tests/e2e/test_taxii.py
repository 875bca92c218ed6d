"""The TAXII 2.1 edge driven by the unmodified OASIS `taxii2-client` (docs/taxii.md).

The client is synchronous (requests): each call runs in a worker thread while
the broker serves on the test's event loop. Everything the broker returns is
parsed with `stix2`, so it must be valid STIX 2.1.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
import stix2
from sqlalchemy import delete, select, update
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from broker.app import create_app
from broker.services import Services
from broker.services.keyring import Keys
from broker.settings import Settings
from broker.store import Database
from broker.store.tables import items, stix_refs, taxii_statuses
from broker.store.uow import Store
from clients.sdk import CouncilClient
from tests.conftest import Broker

T = TypeVar("T")

EXT = "extension-definition--0ab61d92-cb3d-4acf-92de-5c2233c3325f"
AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
GREEN_1_0 = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
IDS = {
    "tier-one-analysis": "5d3c6f0e-8a2b-4c1e-9f47-1b2a3c4d5e01",
    "early-countermeasures": "5d3c6f0e-8a2b-4c1e-9f47-1b2a3c4d5e02",
    "countermeasures": "5d3c6f0e-8a2b-4c1e-9f47-1b2a3c4d5e03",
    "early-warnings": "5d3c6f0e-8a2b-4c1e-9f47-1b2a3c4d5e04",
    "inbox": "5d3c6f0e-8a2b-4c1e-9f47-1b2a3c4d5e05",
    "feedback": "5d3c6f0e-8a2b-4c1e-9f47-1b2a3c4d5e06",
}


async def off_loop(call: Callable[[], T]) -> T:
    """Run a blocking taxii2-client call while the broker keeps serving."""
    return await asyncio.to_thread(call)


def http(method: str, url: str, **options: Any) -> requests.Response:
    """A plain HTTP request, for what the TAXII client never sends (bad headers)."""
    return requests.request(method, url, timeout=30, **options)


@dataclass
class Member:
    """A member with a handler and a plain user, and their credentials."""

    id: str
    handler_id: str
    handler_token: str
    plain_id: str
    plain_token: str
    native: CouncilClient


async def member(broker: Broker, name: str, **attrs: Any) -> Member:
    """Admit a member with a registered handler and a plain user."""
    admin = broker.admin
    fields = {"name": name, "category": "cyber_business", "tier": "none", **attrs}
    created = await admin.create_member(**fields)
    _, admin_token = await admin.create_user(created.id, f"{name} admin", "member_admin")
    own = broker.client(admin_token)
    handler, handler_token = await own.create_user(created.id, f"{name} handler", "member_user")
    plain, plain_token = await own.create_user(created.id, f"{name} staff", "member_user")
    await own.add_handler(created.id, handler.id)
    return Member(
        created.id, handler.id, handler_token, plain.id, plain_token, broker.client(handler_token)
    )


def root(broker: Broker, user: str, token: str) -> ApiRoot:
    """The api root as a member's platform configures it: user id and API token,
    loaded (the client loads lazily; call this in a worker thread)."""
    server = Server(f"{broker.url}/taxii2/", user=user, password=token)
    api_root: ApiRoot = server.api_roots[0]
    api_root.refresh()
    return api_root


def collection(broker: Broker, alias: str, user: str, token: str) -> Collection:
    """One collection by its fixed id, as a platform's feed setting names it."""
    return Collection(
        f"{broker.url}/taxii2/council/collections/{IDS[alias]}/", user=user, password=token
    )


def indicator(*, secret: bool | None = False, marking: str | None = AMBER, **ext: Any) -> dict:
    """A STIX 2.1 indicator as a member's platform posts it."""
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": "2026-11-01T10:00:00.000Z",
        "modified": "2026-11-01T10:00:00.000Z",
        "name": "worm C2",
        "pattern": "[ipv4-addr:value = '203.0.113.7']",
        "pattern_type": "stix",
        "valid_from": "2026-11-01T10:00:00Z",
    }
    if marking is not None:
        obj["object_marking_refs"] = [marking]
    if secret is not None:
        obj["extensions"] = {EXT: {"extension_type": "property-extension", "secret": secret, **ext}}
    return obj


def envelope(*objects: dict) -> dict:
    """A TAXII envelope."""
    return {"objects": list(objects)}


def stix_objects(response: dict) -> list[Any]:
    """Every object of a TAXII envelope, parsed (and so validated) by stix2."""
    return [stix2.parse(o, allow_custom=True) for o in response.get("objects", [])]


@dataclass
class Cast:
    """The cast: two tier-one vendors, a tier-two operator, a general member."""

    broker: Broker
    vendor: Member
    peer: Member
    operator: Member
    general: Member


@pytest.fixture
async def cast(broker: Broker) -> Cast:
    """A small council on a fresh broker."""
    return Cast(
        broker,
        await member(broker, "Vendor", tier="tier_one"),
        await member(broker, "Peer", tier="tier_one"),
        await member(broker, "Power", tier="tier_two", category="critical_infrastructure"),
        await member(broker, "Maker", category="other"),
    )


async def test_discovery_and_api_root(cast: Cast) -> None:
    """Discovery needs no credentials; the api root answers a member's platform."""
    broker = cast.broker
    response = await off_loop(
        lambda: http(
            "GET", f"{broker.url}/taxii2/", headers={"Accept": "application/taxii+json;version=2.1"}
        )
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/taxii+json;version=2.1"
    assert response.json()["api_roots"] == ["/taxii2/council/"]
    api_root = await off_loop(
        lambda: root(broker, cast.vendor.handler_id, cast.vendor.handler_token)
    )
    assert "application/taxii+json;version=2.1" in api_root.versions
    assert api_root.max_content_length > 0


async def test_collections_per_role(cast: Cast) -> None:
    """Each role sees its collections, whether or not they hold anything yet."""
    broker = cast.broker

    async def aliases(m: Member) -> dict[str, bool]:
        api_root = await off_loop(lambda: root(broker, m.plain_id, m.plain_token))
        return {c.alias: c.can_write for c in api_root.collections}

    assert await aliases(cast.vendor) == {
        "tier-one-analysis": True,
        "early-countermeasures": True,
        "countermeasures": True,
        "early-warnings": False,
        "inbox": False,
        "feedback": True,
    }
    assert await aliases(cast.operator) == {
        "early-countermeasures": False,
        "countermeasures": False,
        "early-warnings": False,
        "inbox": False,
        "feedback": True,
    }
    assert await aliases(cast.general) == {
        "countermeasures": False,
        "early-warnings": False,
        "inbox": False,
    }


async def test_bad_credentials_are_401_with_basic_realm(cast: Cast) -> None:
    """A wrong token, or a user id that does not hold it, is a 401 TAXII error."""
    broker = cast.broker
    url = f"{broker.url}/taxii2/council/collections/"
    accept = {"Accept": "application/taxii+json;version=2.1"}
    for auth in [
        (cast.vendor.handler_id, "cbt_wrong"),
        (cast.peer.handler_id, cast.vendor.handler_token),
        None,
    ]:
        response = await off_loop(lambda auth=auth: http("GET", url, headers=accept, auth=auth))
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Basic realm="council"'
        assert response.json()["http_status"] == "401"
    bearer = await off_loop(
        lambda: http(
            "GET", url, headers={**accept, "Authorization": f"Bearer {cast.vendor.plain_token}"}
        )
    )
    assert bearer.status_code == 200


async def test_media_types_406_415_and_delete_403(cast: Cast) -> None:
    """An Accept or Content-Type the server cannot serve, and DELETE, are TAXII errors."""
    broker = cast.broker
    base = f"{broker.url}/taxii2/council/collections/{IDS['tier-one-analysis']}/objects/"
    auth = (cast.vendor.handler_id, cast.vendor.handler_token)
    not_acceptable = await off_loop(
        lambda: http("GET", base, headers={"Accept": "text/html"}, auth=auth)
    )
    assert not_acceptable.status_code == 406
    assert not_acceptable.json()["http_status"] == "406"
    unsupported = await off_loop(
        lambda: http(
            "POST",
            base,
            data="{}",
            headers={"Accept": "application/taxii+json;version=2.1", "Content-Type": "text/plain"},
            auth=auth,
        )
    )
    assert unsupported.status_code == 415
    deleted = await off_loop(
        lambda: http(
            "DELETE",
            base + "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f/",
            headers={"Accept": "application/taxii+json;version=2.1"},
            auth=auth,
        )
    )
    assert deleted.status_code == 403
    assert deleted.json()["http_status"] == "403"


async def test_malformed_filters_are_400_and_unknown_collections_404(cast: Cast) -> None:
    """Each malformed filter is a 400 TAXII error; an unknown collection a 404 one."""
    broker = cast.broker
    base = f"{broker.url}/taxii2/council/collections/{IDS['inbox']}/objects/"
    auth = (cast.general.plain_id, cast.general.plain_token)
    accept = {"Accept": "application/taxii+json;version=2.1"}
    for query in (
        {"added_after": "yesterday"},
        {"limit": "0"},
        {"limit": "²"},
        {"match[version]": "newest"},
        {"match[type]": "indicator,,note"},
        {"next": "not-a-next"},
    ):
        answer = await off_loop(
            lambda query=query: http("GET", base, params=query, headers=accept, auth=auth)
        )
        assert answer.status_code == 400, query
        assert answer.headers["Content-Type"] == "application/taxii+json;version=2.1"
        assert answer.json()["http_status"] == "400"
    unknown = await off_loop(
        lambda: http(
            "GET",
            f"{broker.url}/taxii2/council/collections/{uuid.uuid4()}/objects/",
            headers=accept,
            auth=auth,
        )
    )
    assert unknown.status_code == 404 and unknown.json()["http_status"] == "404"
    fine = await off_loop(
        lambda: http(
            "GET", base, params={"match[type]": "note", "limit": "5"}, headers=accept, auth=auth
        )
    )
    assert fine.status_code == 200


async def test_add_get_manifest_versions_status(cast: Cast) -> None:
    """An envelope becomes one item; its objects come back by listing, id,
    manifest and versions; a re-post creates nothing new; the status is kept."""
    broker = cast.broker
    vendor, peer = cast.vendor, cast.peer
    posting = collection(broker, "tier-one-analysis", vendor.handler_id, vendor.handler_token)
    first, second = indicator(), indicator(marking=GREEN_1_0)
    status = await off_loop(lambda: posting.add_objects(envelope(first, second)))
    assert status.status == "complete"
    assert (status.success_count, status.failure_count) == (2, 0)
    again = await off_loop(lambda: posting.add_objects(envelope(first, second)))
    assert (again.success_count, again.failure_count) == (2, 0)
    fetched = await off_loop(
        lambda: root(broker, vendor.handler_id, vendor.handler_token).get_status(status.id)
    )
    assert (fetched.id, fetched.status, fetched.success_count) == (status.id, "complete", 2)

    reading = collection(broker, "tier-one-analysis", peer.plain_id, peer.plain_token)
    listed = await off_loop(reading.get_objects)
    objects = stix_objects(listed)
    assert objects[0].type == "extension-definition" and objects[0].id == EXT
    indicators = [o for o in objects if o.type == "indicator"]
    assert sorted(o.id for o in indicators) == sorted([first["id"], second["id"]])
    # One item: the strictest marking (AMBER) on every object, TLP 1.0 GREEN mapped away.
    item_ids = {o.extensions[EXT]["item_id"] for o in indicators}
    assert len(item_ids) == 1
    assert all(o.object_marking_refs == [AMBER] for o in indicators)
    assert all("scope" not in o.extensions[EXT] for o in indicators)  # not the provider's
    inbox = await peer.native.get_item(item_ids.pop())
    assert inbox.tlp == "AMBER"

    one = await off_loop(lambda: reading.get_object(first["id"]))
    assert [o.id for o in stix_objects(one)] == [first["id"]]
    manifest = await off_loop(reading.get_manifest)
    assert first["id"] in {m["id"] for m in manifest["objects"]}
    versions = await off_loop(lambda: reading.object_versions(first["id"]))
    assert versions["versions"] == ["2026-11-01T10:00:00.000Z"]

    # Another caller does not see the poster's status.
    with pytest.raises(requests.HTTPError) as hidden:
        await off_loop(
            lambda: root(broker, peer.handler_id, peer.handler_token).get_status(status.id)
        )
    assert hidden.value.response.status_code == 404


async def test_status_is_kept_a_day_then_pruned(cast: Cast) -> None:
    """A status answers for 24 hours, then 404; the next post prunes it from the store."""
    broker = cast.broker
    vendor = cast.vendor
    posting = collection(broker, "tier-one-analysis", vendor.handler_id, vendor.handler_token)
    status = await off_loop(lambda: posting.add_objects(envelope(indicator())))
    api_root = await off_loop(lambda: root(broker, vendor.handler_id, vendor.handler_token))
    broker.clock.advance(hours=23, minutes=59)
    assert (await off_loop(lambda: api_root.get_status(status.id))).status == "complete"
    broker.clock.advance(minutes=2)
    with pytest.raises(requests.HTTPError) as expired:
        await off_loop(lambda: api_root.get_status(status.id))
    assert expired.value.response.status_code == 404
    await off_loop(lambda: posting.add_objects(envelope(indicator())))
    db = broker.database()
    try:
        async with db.read() as conn:
            ids = set((await conn.execute(select(taxii_statuses.c.id))).scalars())
    finally:
        await db.dispose()
    assert status.id not in ids and len(ids) == 1


async def test_all_or_nothing(cast: Cast) -> None:
    """One object without `secret` fails the envelope: no item, every object reported."""
    broker = cast.broker
    vendor = cast.vendor
    posting = collection(broker, "tier-one-analysis", vendor.handler_id, vendor.handler_token)
    status = await off_loop(
        lambda: posting.add_objects(envelope(indicator(), indicator(secret=None)))
    )
    assert (status.success_count, status.failure_count) == (0, 2)
    assert any("secret" in f["message"] for f in status.failures)
    bad_pattern = dict(indicator(), pattern="[ipv4-addr:value = ")
    invalid = await off_loop(lambda: posting.add_objects(envelope(indicator(), bad_pattern)))
    assert (invalid.success_count, invalid.failure_count) == (0, 2)
    assert any("not valid STIX 2.1" in f["message"] for f in invalid.failures)
    unmarked = await off_loop(lambda: posting.add_objects(envelope(indicator(marking=None))))
    assert unmarked.failure_count == 1 and "TLP" in unmarked.failures[0]["message"]
    listed = await off_loop(posting.get_objects)
    assert not [o for o in stix_objects(listed) if o.type == "indicator"]


async def test_secret_only_from_handlers_and_only_to_handlers(cast: Cast) -> None:
    """A plain user cannot post a secret; a secret or RED object reaches handlers only."""
    broker = cast.broker
    vendor, peer = cast.vendor, cast.peer
    plain = collection(broker, "tier-one-analysis", vendor.plain_id, vendor.plain_token)
    refused = await off_loop(lambda: plain.add_objects(envelope(indicator(secret=True))))
    assert refused.failure_count == 1
    handler = collection(broker, "tier-one-analysis", vendor.handler_id, vendor.handler_token)
    secret, red = indicator(secret=True), indicator(marking=RED)
    for obj in (secret, red):
        ok = await off_loop(lambda obj=obj: handler.add_objects(envelope(obj)))
        assert ok.success_count == 1
    peer_plain = collection(broker, "tier-one-analysis", peer.plain_id, peer.plain_token)
    seen = {o.id for o in stix_objects(await off_loop(peer_plain.get_objects))}
    assert secret["id"] not in seen and red["id"] not in seen
    peer_handler = collection(broker, "tier-one-analysis", peer.handler_id, peer.handler_token)
    seen = {o.id for o in stix_objects(await off_loop(peer_handler.get_objects))}
    assert {secret["id"], red["id"]} <= seen


async def test_taxii_denials_are_audited(cast: Cast) -> None:
    """A collection the role may not use, a read-only one posted to, and a DELETE
    each leave a denied audit event naming the collection (SPEC §3 rule 10)."""
    broker = cast.broker
    general, operator = cast.general, cast.operator
    with pytest.raises(requests.HTTPError):
        await off_loop(
            lambda: collection(
                broker, "tier-one-analysis", general.plain_id, general.plain_token
            ).get_objects()
        )
    refused = await off_loop(
        lambda: http(
            "POST",
            f"{broker.url}/taxii2/council/collections/{IDS['countermeasures']}/objects/",
            json=envelope(indicator()),
            headers={
                "Accept": "application/taxii+json;version=2.1",
                "Content-Type": "application/taxii+json;version=2.1",
            },
            auth=(operator.plain_id, operator.plain_token),
        )
    )
    assert refused.status_code == 403
    events = await broker.admin.audit(outcome="denied")
    denied = {
        (e.actor_user_id, e.action, e.reason, e.details.get("collection"))
        for e in events.items
        if e.details.get("via") == "taxii"
    }
    assert (
        general.plain_id,
        "item.list",
        "collection_not_for_role",
        IDS["tier-one-analysis"],
    ) in denied
    assert (
        operator.plain_id,
        "item.submit",
        "collection_read_only",
        IDS["countermeasures"],
    ) in denied


async def test_tier_one_analysis_never_reaches_others(cast: Cast) -> None:
    """Tier-two and general members get no tier-one analysis, in any collection."""
    broker = cast.broker
    vendor = cast.vendor
    handler = collection(broker, "tier-one-analysis", vendor.handler_id, vendor.handler_token)
    analysis = indicator()
    await off_loop(lambda: handler.add_objects(envelope(analysis)))
    for m in (cast.operator, cast.general):
        inbox = collection(broker, "inbox", m.handler_id, m.handler_token)
        seen = {o.id for o in stix_objects(await off_loop(inbox.get_objects))}
        assert analysis["id"] not in seen
        with pytest.raises(requests.HTTPError) as denied:
            await off_loop(
                lambda m=m: collection(
                    broker, "tier-one-analysis", m.handler_id, m.handler_token
                ).get_objects()
            )
        assert denied.value.response.status_code == 404


async def test_pages_and_next_bound_to_caller(cast: Cast) -> None:
    """as_pages walks every object; a `next` is refused for another caller or filters."""
    broker = cast.broker
    vendor, peer = cast.vendor, cast.peer
    handler = collection(broker, "tier-one-analysis", vendor.handler_id, vendor.handler_token)
    posted = [indicator() for _ in range(5)]
    for obj in posted:
        await off_loop(lambda obj=obj: handler.add_objects(envelope(obj)))
    reader = collection(broker, "tier-one-analysis", peer.plain_id, peer.plain_token)
    pages = await off_loop(lambda: list(as_pages(reader.get_objects, per_request=3)))
    walked = [o["id"] for page in pages for o in page.get("objects", [])]
    assert len(walked) == len(set(walked))
    assert {o["id"] for o in posted} <= set(walked)
    first = await off_loop(lambda: reader.get_objects(limit=3))
    assert first["more"] is True and "next" in first
    other = collection(broker, "tier-one-analysis", vendor.plain_id, vendor.plain_token)
    with pytest.raises(requests.HTTPError) as refused:
        await off_loop(lambda: other.get_objects(limit=3, next=first["next"]))
    assert refused.value.response.status_code == 400
    with pytest.raises(requests.HTTPError) as refused:
        await off_loop(lambda: reader.get_objects(limit=3, next=first["next"], type="note"))
    assert refused.value.response.status_code == 400


async def test_native_text_item_is_a_note(cast: Cast) -> None:
    """A native text-only item appears as a note with a derived id and the identity."""
    vendor, peer = cast.vendor, cast.peer
    submitted = await vendor.native.submit(
        {
            "kind": "analysis",
            "title": "worm-like spread",
            "body": "unpatched PCs infected on boot",
            "tlp": "AMBER",
            "secret": False,
            "confidence": "unconfirmed",
            "scope": {"groups": ["tier_one_group"]},
        }
    )
    reader = collection(cast.broker, "tier-one-analysis", peer.plain_id, peer.plain_token)
    objects = stix_objects(await off_loop(reader.get_objects))
    identity = next(o for o in objects if o.type == "identity")
    notes = [o for o in objects if o.type == "note"]
    assert len(notes) == 1
    note = notes[0]
    assert note.id == f"note--{uuid.uuid5(uuid.UUID(EXT.split('--')[1]), submitted.id)}"
    assert note.object_refs == [identity.id]
    assert note.extensions[EXT]["item_id"] == submitted.id
    assert note.extensions[EXT]["handling"]["tlp"]


async def test_victim_masked_for_other_readers(cast: Cast) -> None:
    """The victim's name reaches the provider, never another reader (charter annex)."""
    vendor, peer = cast.vendor, cast.peer
    submitted = await vendor.native.submit(
        _native("analysis", "AMBER", ["tier_one_group"], victim={"name": "Acme", "damage": True})
    )

    async def victim(m: Member) -> dict[str, Any]:
        reader = collection(cast.broker, "tier-one-analysis", m.plain_id, m.plain_token)
        objects = stix_objects(await off_loop(reader.get_objects))
        note = next(o for o in objects if o.type == "note")
        assert note.extensions[EXT]["item_id"] == submitted.id
        found: dict[str, Any] = note.extensions[EXT]["victim"]
        return found

    assert await victim(vendor) == {"name": "Acme", "damage": True}
    assert await victim(peer) == {"damage": True}


async def test_sighting_is_a_came_answer(cast: Cast) -> None:
    """A tier-two member's sighting closes its obligation as `came`; the provider sees it."""
    broker = cast.broker
    vendor, operator = cast.vendor, cast.operator
    posting = collection(broker, "early-countermeasures", vendor.handler_id, vendor.handler_token)
    measure = indicator(feedback_due="PT4H")
    status = await off_loop(lambda: posting.add_objects(envelope(measure)))
    assert status.success_count == 1
    sighting = {
        "type": "sighting",
        "spec_version": "2.1",
        "id": f"sighting--{uuid.uuid4()}",
        "created": "2026-11-01T11:00:00.000Z",
        "modified": "2026-11-01T11:00:00.000Z",
        "sighting_of_ref": measure["id"],
    }
    answers = collection(broker, "feedback", operator.plain_id, operator.plain_token)
    answered = await off_loop(lambda: answers.add_objects(envelope(sighting)))
    assert (answered.success_count, answered.failure_count) == (1, 0)
    owed = await operator.native.obligations()
    assert [o.verdict for o in owed if o.verdict is not None] in ([], ["came"])
    provider = collection(broker, "feedback", vendor.plain_id, vendor.plain_token)
    seen = stix_objects(await off_loop(provider.get_objects))
    sightings = [o for o in seen if o.type == "sighting"]
    assert len(sightings) == 1
    assert sightings[0].sighting_of_ref == measure["id"]
    assert sightings[0].extensions[EXT]["verdict"] == "came"
    stray = dict(sighting, id=f"sighting--{uuid.uuid4()}", sighting_of_ref=indicator()["id"])
    failed = await off_loop(lambda: answers.add_objects(envelope(stray)))
    assert failed.failure_count == 1


def _native(kind: str, tlp: str, groups: list[str], **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "kind": kind,
        "title": f"{kind} {tlp}",
        "body": "details",
        "tlp": tlp,
        "secret": False,
        "confidence": "high" if kind == "countermeasure" else "unconfirmed",
        "scope": {"groups": groups},
    }
    item.update(overrides)
    return item


async def _native_inbox(client: CouncilClient) -> set[str]:
    seen: set[str] = set()
    cursor = None
    while True:
        page = await client.inbox(limit=50, cursor=cursor)
        seen.update(entry.id for entry in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return seen


async def test_taxii_inbox_is_the_native_inbox_for_every_user(cast: Cast) -> None:
    """The wiring: each user's TAXII inbox names exactly the items its native inbox lists."""
    broker = cast.broker
    vendor, peer = cast.vendor, cast.peer
    coordinator = broker.admin
    await vendor.native.submit(_native("analysis", "AMBER", ["tier_one_group"]))
    await vendor.native.submit(_native("analysis", "AMBER", ["tier_one_group"], secret=True))
    await vendor.native.submit(_native("countermeasure", "GREEN", ["task_force"], confidence="low"))
    await peer.native.submit(_native("countermeasure", "GREEN", ["all_members"]))
    await peer.native.submit(_native("countermeasure", "RED", ["all_members"]))
    await peer.native.submit(
        _native(
            "countermeasure",
            "AMBER",
            ["all_members"],
            scope={"groups": ["all_members"], "exclude_members": [cast.general.id]},
        )
    )
    await coordinator.submit(_native("early_warning", "AMBER", ["all_members"]))
    users = [
        (m.handler_id, m.handler_token) for m in (vendor, peer, cast.operator, cast.general)
    ] + [(m.plain_id, m.plain_token) for m in (vendor, peer, cast.operator, cast.general)]
    users.append((broker.admin_user_id, broker.admin_token))
    for user_id, token in users:
        inbox = collection(broker, "inbox", user_id, token)
        pages = await off_loop(lambda inbox=inbox: list(as_pages(inbox.get_objects, per_request=4)))
        over_taxii = {
            o["extensions"][EXT]["item_id"]
            for page in pages
            for o in page.get("objects", [])
            if "item_id" in o.get("extensions", {}).get(EXT, {})
        }
        for page in pages:
            stix_objects(page)
        assert over_taxii == await _native_inbox(broker.client(token)), user_id


async def test_listing_and_reading_are_audited_like_native(cast: Cast) -> None:
    """The provider's access log names the TAXII listing and the object read."""
    broker = cast.broker
    vendor, peer = cast.vendor, cast.peer
    posting = collection(broker, "tier-one-analysis", vendor.handler_id, vendor.handler_token)
    obj = indicator()
    await off_loop(lambda: posting.add_objects(envelope(obj)))
    reader = collection(broker, "tier-one-analysis", peer.plain_id, peer.plain_token)
    listed = await off_loop(reader.get_objects)
    item_id = next(
        o["extensions"][EXT]["item_id"] for o in listed["objects"] if o["id"] == obj["id"]
    )
    await off_loop(lambda: reader.get_object(obj["id"]))
    log = await vendor.native.access_log(item_id)
    by_peer = {
        (e.action, e.details.get("via")) for e in log.items if e.actor_user_id == peer.plain_id
    }
    assert ("item.list", "taxii") in by_peer
    assert ("item.read", "taxii") in by_peer
    submitted = [e for e in log.items if e.action == "item.submit"]
    assert len(submitted) == 1 and submitted[0].actor_user_id == vendor.handler_id


async def test_repost_creates_nothing_and_envelopes_must_agree(cast: Cast) -> None:
    """A re-post makes no second item; objects disagreeing on confidence or widening
    the collection's scope fail together; the provider sees its scope."""
    broker = cast.broker
    vendor = cast.vendor
    posting = collection(broker, "early-countermeasures", vendor.handler_id, vendor.handler_token)
    obj = indicator()
    for _ in range(3):
        status = await off_loop(lambda: posting.add_objects(envelope(obj)))
        assert status.success_count == 1
    mine = [o for o in stix_objects(await off_loop(posting.get_objects)) if o.id == obj["id"]]
    assert len(mine) == 1
    assert mine[0].extensions[EXT]["scope"]["groups"] == ["task_force"]  # the provider's view
    disagree = await off_loop(
        lambda: posting.add_objects(
            envelope(indicator(confidence="low"), indicator(confidence="unconfirmed"))
        )
    )
    assert disagree.failure_count == 2 and "disagree" in disagree.failures[0]["message"]
    # High confidence would reach general members; this collection's default does not.
    wide = indicator(confidence="high", scope={"groups": ["all_members"]})
    wider = await off_loop(lambda: posting.add_objects(envelope(wide)))
    assert wider.failure_count == 1 and "widen" in wider.failures[0]["message"]
    narrower = await off_loop(
        lambda: posting.add_objects(envelope(indicator(scope={"groups": ["tier_one_group"]})))
    )
    assert narrower.success_count == 1


async def test_a_repost_by_another_user_of_the_member_creates_nothing(cast: Cast) -> None:
    """A re-post is recognised per member (docs/taxii.md): the member's other user
    re-sending the same objects gets the first item; another member's adds its own."""
    broker = cast.broker
    vendor, peer = cast.vendor, cast.peer
    obj = indicator()
    first = await off_loop(
        lambda: collection(
            broker, "tier-one-analysis", vendor.handler_id, vendor.handler_token
        ).add_objects(envelope(obj))
    )
    again = await off_loop(
        lambda: collection(
            broker, "tier-one-analysis", vendor.plain_id, vendor.plain_token
        ).add_objects(envelope(obj))
    )
    assert first.successes[0]["message"] == again.successes[0]["message"]  # "item <id>"
    other = await off_loop(
        lambda: collection(
            broker, "tier-one-analysis", peer.handler_id, peer.handler_token
        ).add_objects(envelope(obj))
    )
    assert other.success_count == 1
    assert other.successes[0]["message"] != first.successes[0]["message"]
    reading = collection(broker, "tier-one-analysis", vendor.plain_id, vendor.plain_token)
    copies = [o for o in stix_objects(await off_loop(reading.get_objects)) if o.id == obj["id"]]
    assert len(copies) == 2  # the vendor's item and the peer's, no second of the vendor's


def _item_of(status: Any) -> str:
    """The item id a successful status names ("item <id>")."""
    return str(status.successes[0]["message"]).removeprefix("item ")


async def test_derived_from_names_a_stix_id_of_an_item_the_poster_may_read(cast: Cast) -> None:
    """`derived_from` takes STIX ids (docs/taxii.md): the items holding that object
    which the poster may read become the sources; one it may not read is refused
    like an unknown item, and audited."""
    broker = cast.broker
    vendor, peer = cast.vendor, cast.peer
    source = indicator()
    posted = await off_loop(
        lambda: collection(
            broker, "tier-one-analysis", vendor.handler_id, vendor.handler_token
        ).add_objects(envelope(source))
    )
    peer_posting = collection(broker, "tier-one-analysis", peer.handler_id, peer.handler_token)
    derived = await off_loop(
        lambda: peer_posting.add_objects(envelope(indicator(derived_from=[source["id"]])))
    )
    assert derived.success_count == 1, derived.failures
    opened = await peer.native.get_item(_item_of(derived))
    assert [p.id for p in opened.provenance] == [_item_of(posted)]
    # A secret item reaches handlers only: the peer's plain user may not derive from it.
    hidden = indicator(secret=True)
    await off_loop(
        lambda: collection(
            broker, "tier-one-analysis", vendor.handler_id, vendor.handler_token
        ).add_objects(envelope(hidden))
    )
    plain = collection(broker, "tier-one-analysis", peer.plain_id, peer.plain_token)
    refused = await off_loop(
        lambda: plain.add_objects(envelope(indicator(derived_from=[hidden["id"]])))
    )
    assert (refused.success_count, refused.failure_count) == (0, 1)
    unknown = await off_loop(
        lambda: plain.add_objects(envelope(indicator(derived_from=[f"indicator--{uuid.uuid4()}"])))
    )
    assert unknown.failures[0]["message"] == refused.failures[0]["message"]
    log = await broker.admin.audit(action="item.derive", outcome="denied")
    assert len(log.items) == 2


async def test_an_object_is_found_by_id_and_older_items_are_indexed_by_the_start_up_step(
    cast: Cast,
) -> None:
    """Reading an object by id goes through the STIX object index, which names no
    STIX id in the clear; items stored before the index are indexed by the step a
    broker runs when it starts."""
    broker = cast.broker
    vendor = cast.vendor
    obj = indicator()
    # Platforms often send the TLP marking-definition along: the council serves it
    # itself, so it is not indexed with the item.
    amber = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": AMBER,
        "created": "2022-10-01T00:00:00.000Z",
        "name": "TLP:AMBER",
        "extensions": {
            "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {
                "extension_type": "property-extension",
                "tlp_2_0": "amber",
            }
        },
    }
    status = await off_loop(
        lambda: collection(
            broker, "tier-one-analysis", vendor.handler_id, vendor.handler_token
        ).add_objects(envelope(obj, amber))
    )
    assert status.success_count == 2, status.failures
    db = broker.database()
    try:
        async with db.read() as conn:
            refs = list((await conn.execute(select(stix_refs.c.ref))).scalars())
        # One entry, the indicator's, and a keyed digest: no STIX id in the clear.
        assert len(refs) == 1 and not [r for r in refs if "--" in r or obj["id"][-36:] in r]
        # As a database from before the index: no entries, items unindexed.
        async with db.write() as conn:
            await conn.execute(delete(stix_refs))
            await conn.execute(update(items).values(stix_indexed=False))
    finally:
        await db.dispose()
    # What a broker does when it starts on such a database, before it serves
    # (`broker.app`): a second store over the same database, no background work.
    store = Store(Database(broker.settings.resolved_database_url))
    try:
        services = Services(broker.settings, store, Keys(broker.ring), broker.clock)
        assert await services.stix_refs.backfill() == 1
    finally:
        await store.dispose()
    reading = collection(broker, "tier-one-analysis", vendor.plain_id, vendor.plain_token)
    found = await off_loop(lambda: reading.get_object(obj["id"]))
    assert [o.id for o in stix_objects(found)] == [obj["id"]]
    versions = await off_loop(lambda: reading.object_versions(obj["id"]))
    assert versions["versions"] == ["2026-11-01T10:00:00.000Z"]
    await vendor.native.withdraw(_item_of(status))
    with pytest.raises(requests.HTTPError) as gone:
        await off_loop(lambda: reading.get_object(obj["id"]))
    assert gone.value.response.status_code == 404


async def test_opinion_is_expert_feedback(cast: Cast) -> None:
    """A tier-one member's opinion is its expert feedback: agree confirms."""
    broker = cast.broker
    vendor, peer = cast.vendor, cast.peer
    posting = collection(broker, "tier-one-analysis", vendor.handler_id, vendor.handler_token)
    analysis = indicator(feedback_due="PT4H")
    await off_loop(lambda: posting.add_objects(envelope(analysis)))
    opinion = {
        "type": "opinion",
        "spec_version": "2.1",
        "id": f"opinion--{uuid.uuid4()}",
        "created": "2026-11-01T11:00:00.000Z",
        "modified": "2026-11-01T11:00:00.000Z",
        "opinion": "agree",
        "explanation": "seen the same C2 here",
        "object_refs": [analysis["id"]],
    }
    answers = collection(broker, "feedback", peer.plain_id, peer.plain_token)
    status = await off_loop(lambda: answers.add_objects(envelope(opinion)))
    assert (status.success_count, status.failure_count) == (1, 0), status.failures
    provider = collection(broker, "feedback", vendor.plain_id, vendor.plain_token)
    seen = [o for o in stix_objects(await off_loop(provider.get_objects)) if o.type == "opinion"]
    assert len(seen) == 1
    assert seen[0].opinion == "agree" and seen[0].explanation == "seen the same C2 here"
    assert seen[0].object_refs == [analysis["id"]]


def test_every_taxii_route_is_listed_in_the_taxii_page() -> None:
    """docs/taxii.md, the page members' platform owners read, lists every TAXII route."""
    page = (Path(__file__).parents[2] / "docs" / "taxii.md").read_text()
    served = {
        f"`{route.method} {route.resource.canonical}`"
        for route in create_app(Settings()).router.routes()
        if route.resource is not None
        and route.method != "HEAD"
        and route.resource.canonical.startswith("/taxii2/")
    }
    assert len(served) == 11
    assert not {entry for entry in served if entry not in page}
