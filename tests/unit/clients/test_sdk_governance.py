"""CouncilClient's membership and violation-report calls against a fake broker: paths,
bodies and models (docs/api.md "Members", "Governance")."""

from __future__ import annotations

from typing import Any

import pytest
from client_fakes import FakeBroker, member_json, user_json

from clients.sdk import CallableTransport, CouncilClient


def _report_json(**overrides: Any) -> dict[str, Any]:
    report = {
        "id": "r-1",
        "kind": "leak",
        "status": "received",
        "text": "our analysis was quoted outside",
        "item_id": "it-1",
        "member_id": "m-2",
        "note": None,
        "reporter": {"member_id": "m-1", "user_id": "u-1"},
        "created_at": "2024-05-01T00:00:00Z",
        "updated_at": "2024-05-01T00:00:00Z",
    }
    return {**report, **overrides}


async def test_a_committee_chair_seat_is_created_with_chair_true(
    client: CouncilClient, fake_broker: FakeBroker, transport: CallableTransport
) -> None:
    """create_user(..., chair=True) sends chair only when asked; the user says it is chair."""
    fake_broker.on(
        "POST",
        "/v1/members/sec/users",
        {"user": user_json(role="committee", chair=True), "token": "t"},
        201,
    )
    user, _ = await client.create_user("sec", "Chair", "committee", chair=True)
    await client.create_user("sec", "Seat", "committee")
    assert user.chair is True
    assert [r.json for r in transport.requests] == [
        {"name": "Chair", "role": "committee", "chair": True},
        {"name": "Seat", "role": "committee"},
    ]


async def test_withdraw_member_posts_the_notice(
    client: CouncilClient, fake_broker: FakeBroker, transport: CallableTransport
) -> None:
    """withdraw_member POSTs /v1/members/{id}/withdrawal with the reason if given."""
    fake_broker.on("POST", "/v1/members/m-1/withdrawal", member_json(status="withdrawn"))
    gone = await client.withdraw_member("m-1", reason="merged")
    await client.withdraw_member("m-1")
    assert gone.status == "withdrawn"
    assert [(r.method, r.path, r.json) for r in transport.requests] == [
        ("POST", "/v1/members/m-1/withdrawal", {"reason": "merged"}),
        ("POST", "/v1/members/m-1/withdrawal", {}),
    ]


async def test_report_calls_use_the_documented_paths(
    client: CouncilClient, fake_broker: FakeBroker, transport: CallableTransport
) -> None:
    """report, reports, get_report and update_report hit POST, GET, GET and PATCH."""
    fake_broker.on("POST", "/v1/reports", _report_json(), 201)
    fake_broker.on("GET", "/v1/reports", {"items": [_report_json()], "next_cursor": "c2"})
    fake_broker.on("GET", "/v1/reports/r-1", _report_json())
    fake_broker.on("PATCH", "/v1/reports/r-1", _report_json(status="closed", note="done"))

    filed = await client.report("leak", "our analysis was quoted outside", item_id="it-1")
    page = await client.reports(limit=5)
    one = await client.get_report("r-1")
    closed = await client.update_report("r-1", "closed", note="done")

    assert (filed.id, filed.reporter["user_id"], one.member_id) == ("r-1", "u-1", "m-2")
    assert [r.id for r in page.items] == ["r-1"] and page.next_cursor == "c2"
    assert (closed.status, closed.note) == ("closed", "done")
    assert [(r.method, r.path) for r in transport.requests] == [
        ("POST", "/v1/reports"),
        ("GET", "/v1/reports"),
        ("GET", "/v1/reports/r-1"),
        ("PATCH", "/v1/reports/r-1"),
    ]
    assert transport.requests[0].json == {
        "kind": "leak",
        "text": "our analysis was quoted outside",
        "item_id": "it-1",
    }
    assert transport.requests[1].params == {"limit": "5"}
    assert transport.requests[3].json == {"status": "closed", "note": "done"}


def _resolution_json(**overrides: Any) -> dict[str, Any]:
    resolution = {
        "id": "res-1",
        "kind": "restriction",
        "body": "committee",
        "title": "Restrict Vendor B",
        "subject_member_id": "m-2",
        "status": "open",
        "tally": {"yes": 0, "no": 0, "abstain": 0, "recused": 0, "seats": 4, "entitled": 4},
        "decided_at": None,
        "effective_at": None,
    }
    return {**resolution, **overrides}


async def test_resolution_calls_use_the_documented_paths(
    client: CouncilClient, fake_broker: FakeBroker, transport: CallableTransport
) -> None:
    """create, list, get, vote, recuse, refuse, close and publish hit their paths with
    their bodies; None fields are left out."""
    fake_broker.on("POST", "/v1/resolutions", _resolution_json(), 201)
    fake_broker.on("GET", "/v1/resolutions", {"items": [_resolution_json()], "next_cursor": None})
    fake_broker.on("GET", "/v1/resolutions/res-1", _resolution_json())
    for action in ("votes", "recusal", "refusal", "close", "publish"):
        fake_broker.on("POST", f"/v1/resolutions/res-1/{action}", _resolution_json())

    created = await client.create_resolution(
        "restriction", "Restrict Vendor B", subject_member_id="m-2", text=None
    )
    page = await client.resolutions(status="open", kind="restriction")
    await client.get_resolution("res-1")
    await client.vote("res-1", "yes")
    await client.vote("res-1", proxy_to="m-3")
    await client.recuse("res-1", "Vendor B is our subsidiary")
    await client.refuse("res-1", "out of order")
    await client.close_resolution("res-1")
    await client.publish_resolution("res-1")

    assert (created.subject_member_id, created.tally["entitled"]) == ("m-2", 4)
    assert [r.id for r in page.items] == ["res-1"]
    assert [(r.method, r.path, r.json) for r in transport.requests] == [
        (
            "POST",
            "/v1/resolutions",
            {"kind": "restriction", "title": "Restrict Vendor B", "subject_member_id": "m-2"},
        ),
        ("GET", "/v1/resolutions", None),
        ("GET", "/v1/resolutions/res-1", None),
        ("POST", "/v1/resolutions/res-1/votes", {"vote": "yes"}),
        ("POST", "/v1/resolutions/res-1/votes", {"proxy_to": "m-3"}),
        ("POST", "/v1/resolutions/res-1/recusal", {"reason": "Vendor B is our subsidiary"}),
        ("POST", "/v1/resolutions/res-1/refusal", {"reason": "out of order"}),
        ("POST", "/v1/resolutions/res-1/close", {}),
        ("POST", "/v1/resolutions/res-1/publish", {}),
    ]
    assert transport.requests[1].params == {"status": "open", "kind": "restriction"}


async def test_a_vote_is_a_vote_or_a_proxy_never_both(client: CouncilClient) -> None:
    """vote() refuses, before sending, both or neither of a vote and a proxy."""
    with pytest.raises(ValueError, match="either"):
        await client.vote("res-1")
    with pytest.raises(ValueError, match="either"):
        await client.vote("res-1", "yes", proxy_to="m-3")
