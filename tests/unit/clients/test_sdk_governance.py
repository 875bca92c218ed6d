"""CouncilClient's membership and violation-report calls against a fake broker: paths,
bodies and models (docs/api.md "Members", "Governance")."""

from __future__ import annotations

from typing import Any

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
