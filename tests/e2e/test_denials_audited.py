"""Every denial is an audit event (SPEC §3 rule 10), on every route that can deny.

The table below names, for each operation of the OpenAPI document, one call
the broker must refuse; the test makes it and asserts the refusal left an
audit event with outcome "denied" and a reason. An operation that cannot deny
(a listing filtered to what the caller may see, a public page) is named in
`CANNOT_DENY` with why, so a new route has to be placed in one or the other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from broker.api.common import OPERATIONS
from broker.misp.events import event_uuid
from clients.sdk import CouncilClient, CouncilError
from tests.conftest import Broker
from tests.council import Org, decide_status, draft, make_org

CANNOT_DENY = {
    ("get", "/v1/obligations"): "lists what the caller's own member owes",
    ("get", "/v1/consultations"): "lists what the caller may see",
    ("get", "/v1/inbox"): "lists what the caller may open",
    ("get", "/v1/consents"): "lists the caller's own member's requests",
    ("get", "/v1/ledger"): "one's own rows; all rows for the coordinator",
    ("get", "/v1/members"): "every body, or the caller's own",
    ("get", "/v1/reports"): "the caller's own reports; every report for the secretariat",
    ("get", "/v1/stream"): "the caller's own live inbox (a WebSocket, filtered per event)",
    ("get", "/v1/roster"): "public",
    ("get", "/v1/me"): "the caller itself",
    ("get", "/healthz"): "public",
    ("get", "/readyz"): "public",
    ("get", "/metrics"): "the operator's metrics token, not a member's access",
    ("get", "/v1/audit/keys"): "the checkpoints' public keys: nothing to withhold",
    ("get", "/v1/resolutions"): "lists what the caller may see (art. 27)",
    ("get", "/v1/information-requests"): "lists the requests to the caller's own member",
    ("get", "/openapi.json"): "public",
    ("get", "/docs"): "public: the API page",
    ("get", "/docs/{name}"): "public: the API page's own files",
    ("get", "/misp/feed/manifest.json"): "lists what the caller may open (as the inbox)",
    ("get", "/misp/feed/hashes.csv"): "hashes of what the caller may open (as the inbox)",
    ("post", "/misp/proposals"): "a preview of the caller's own event: nothing stored or shown",
    ("post", "/misp/sightings"): "answers only what the caller's own member owes",
}


@dataclass
class Cast:
    """A provider with an item and a consultation, an outsider, and a restricted member."""

    broker: Broker
    vendor: Org  # tier one: provides the item, answers the consultation
    maker: Org  # a general member that consulted
    outsider: Org  # tier two: not in the item's scope, not an addressee
    restricted: Org
    item_id: str
    consultation_id: str
    resolution_id: str  # the restriction of `restricted`


def _on_resolution(verb: str, method: str, body: dict[str, Any] | None = None) -> Call:
    """An outsider (no party to it, art. 27) acting on the restriction resolution."""
    return lambda c: (
        c.outsider.admin,
        method,
        f"/v1/resolutions/{c.resolution_id}{verb}",
        body,
    )


Call = Callable[[Cast], tuple[CouncilClient, str, str, dict[str, Any] | None]]
"""Who makes the denied call, and its method, path and body."""

DENIED: dict[tuple[str, str], Call] = {
    ("post", "/v1/resolutions"): lambda c: (
        c.outsider.admin,
        "POST",
        "/v1/resolutions",
        {"kind": "expulsion", "title": "t", "subject_member_id": c.vendor.id},
    ),
    ("get", "/v1/resolutions/{id}"): lambda c: _on_resolution("", "GET")(c),
    ("post", "/v1/resolutions/{id}/votes"): lambda c: _on_resolution(
        "/votes", "POST", {"vote": "yes"}
    )(c),
    ("post", "/v1/resolutions/{id}/recusal"): lambda c: _on_resolution(
        "/recusal", "POST", {"reason": "interested"}
    )(c),
    ("post", "/v1/resolutions/{id}/refusal"): lambda c: _on_resolution(
        "/refusal", "POST", {"reason": "refused"}
    )(c),
    ("post", "/v1/resolutions/{id}/close"): lambda c: _on_resolution("/close", "POST", {})(c),
    ("post", "/v1/resolutions/{id}/publish"): lambda c: _on_resolution("/publish", "POST", {})(c),
    ("get", "/v1/audit"): lambda c: (c.outsider.plain, "GET", "/v1/audit", None),
    ("get", "/v1/audit/export"): lambda c: (c.outsider.plain, "GET", "/v1/audit/export", None),
    ("get", "/v1/audit/checkpoints/latest"): lambda c: (
        c.outsider.admin,
        "GET",
        "/v1/audit/checkpoints/latest",
        None,
    ),
    ("post", "/v1/items/{id}/feedback"): lambda c: (
        c.outsider.handler,
        "POST",
        f"/v1/items/{c.item_id}/feedback",
        {"verdict": "confirm"},
    ),
    ("get", "/v1/items/{id}/feedback"): lambda c: (
        c.outsider.handler,
        "GET",
        f"/v1/items/{c.item_id}/feedback",
        None,
    ),
    ("post", "/v1/consultations"): lambda c: (
        c.restricted.plain,
        "POST",
        "/v1/consultations",
        {"title": "t", "body": "b"},
    ),
    ("get", "/v1/consultations/{id}"): lambda c: (
        c.outsider.plain,
        "GET",
        f"/v1/consultations/{c.consultation_id}",
        None,
    ),
    ("post", "/v1/consultations/{id}/replies"): lambda c: (
        c.outsider.plain,
        "POST",
        f"/v1/consultations/{c.consultation_id}/replies",
        {"body": "b"},
    ),
    ("post", "/v1/consultations/{id}/reveal"): lambda c: (
        c.vendor.plain,
        "POST",
        f"/v1/consultations/{c.consultation_id}/reveal",
        {},
    ),
    ("post", "/v1/items"): lambda c: (c.vendor.plain, "POST", "/v1/items", draft(secret=True)),
    ("get", "/v1/items/{id}"): lambda c: (
        c.outsider.handler,
        "GET",
        f"/v1/items/{c.item_id}",
        None,
    ),
    ("post", "/v1/items/{id}/scope"): lambda c: (
        c.outsider.handler,
        "POST",
        f"/v1/items/{c.item_id}/scope",
        {"scope": {"groups": ["all_members"]}},
    ),
    ("post", "/v1/items/{id}/consents"): lambda c: (
        c.outsider.handler,
        "POST",
        f"/v1/items/{c.item_id}/consents",
        {"derived_item_id": c.item_id},
    ),
    ("post", "/v1/items/{id}/withdraw"): lambda c: (
        c.outsider.handler,
        "POST",
        f"/v1/items/{c.item_id}/withdraw",
        {},
    ),
    ("get", "/v1/items/{id}/access-log"): lambda c: (
        c.outsider.handler,
        "GET",
        f"/v1/items/{c.item_id}/access-log",
        None,
    ),
    ("post", "/v1/items/{id}/break-glass"): lambda c: (
        c.outsider.handler,
        "POST",
        f"/v1/items/{c.item_id}/break-glass",
        {"reason": "just curious about this one"},
    ),
    ("post", "/v1/members"): lambda c: (
        c.outsider.admin,
        "POST",
        "/v1/members",
        {"name": "Sneaky", "category": "other"},
    ),
    ("get", "/v1/members/{id}"): lambda c: (
        c.outsider.plain,
        "GET",
        f"/v1/members/{c.vendor.id}",
        None,
    ),
    ("patch", "/v1/members/{id}"): lambda c: (
        c.outsider.plain,
        "PATCH",
        f"/v1/members/{c.outsider.id}",
        {"listed": True},
    ),
    ("post", "/v1/members/{id}/users"): lambda c: (
        c.outsider.plain,
        "POST",
        f"/v1/members/{c.outsider.id}/users",
        {"name": "n", "role": "member_user"},
    ),
    ("get", "/v1/members/{id}/users"): lambda c: (
        c.outsider.plain,
        "GET",
        f"/v1/members/{c.outsider.id}/users",
        None,
    ),
    ("post", "/v1/members/{id}/users/{user_id}/token"): lambda c: (
        c.outsider.plain,
        "POST",
        f"/v1/members/{c.outsider.id}/users/{c.outsider.handler_user_id}/token",
        {},
    ),
    ("get", "/misp/feed/{uuid}.json"): lambda c: (
        c.outsider.handler,
        "GET",
        f"/misp/feed/{event_uuid(c.item_id)}.json",
        None,
    ),
    ("post", "/v1/members/{id}/users/{user_id}/revoke"): lambda c: (
        c.outsider.plain,
        "POST",
        f"/v1/members/{c.outsider.id}/users/{c.outsider.handler_user_id}/revoke",
        {},
    ),
    ("post", "/v1/members/{id}/handlers"): lambda c: (
        c.outsider.plain,
        "POST",
        f"/v1/members/{c.outsider.id}/handlers",
        {"user_id": c.outsider.plain_user_id},
    ),
    ("delete", "/v1/members/{id}/handlers/{user_id}"): lambda c: (
        c.outsider.plain,
        "DELETE",
        f"/v1/members/{c.outsider.id}/handlers/{c.outsider.handler_user_id}",
        None,
    ),
    ("get", "/v1/members/{id}/handlers"): lambda c: (
        c.outsider.plain,
        "GET",
        f"/v1/members/{c.vendor.id}/handlers",
        None,
    ),
    ("post", "/v1/members/{id}/webhooks"): lambda c: (
        c.restricted.admin,
        "POST",
        f"/v1/members/{c.restricted.id}/webhooks",
        {"url": "https://hooks.example/in"},
    ),
    ("get", "/v1/members/{id}/webhooks"): lambda c: (
        c.outsider.plain,
        "GET",
        f"/v1/members/{c.outsider.id}/webhooks",
        None,
    ),
    ("post", "/v1/members/{id}/withdrawal"): lambda c: (
        c.outsider.plain,
        "POST",
        f"/v1/members/{c.outsider.id}/withdrawal",
        {},
    ),
    ("post", "/v1/reports"): lambda c: (
        c.restricted.plain,
        "POST",
        "/v1/reports",
        {"kind": "leak", "text": "t"},
    ),
    ("get", "/v1/reports/{id}"): lambda c: (
        c.outsider.plain,
        "GET",
        "/v1/reports/01HZZZZZZZZZZZZZZZZZZZZZZZ",
        None,
    ),
    ("patch", "/v1/reports/{id}"): lambda c: (
        c.outsider.plain,
        "PATCH",
        "/v1/reports/01HZZZZZZZZZZZZZZZZZZZZZZZ",
        {"status": "closed"},
    ),
    ("delete", "/v1/members/{id}/webhooks/{webhook_id}"): lambda c: (
        c.restricted.admin,
        "DELETE",
        f"/v1/members/{c.restricted.id}/webhooks/01HZZZZZZZZZZZZZZZZZZZZZZZ",
        None,
    ),
}


def test_every_operation_is_either_denied_below_or_cannot_deny() -> None:
    """SPEC §3 rule 10: no route is left out of the denial check."""
    documented = {(op.method, op.path) for op in OPERATIONS}
    assert documented == set(DENIED) | set(CANNOT_DENY)
    assert not set(DENIED) & set(CANNOT_DENY)


@pytest.fixture
async def cast(broker: Broker) -> Cast:
    """The cast, the item and the consultation; `restricted` restricted by the coordinator."""
    vendor = await make_org(broker, "Vendor A", tier="tier_one")
    maker = await make_org(broker, "Maker D", category="other")
    outsider = await make_org(
        broker, "Power Co", tier="tier_two", category="critical_infrastructure"
    )
    restricted = await make_org(broker, "Restricted Co", category="other")
    item = await vendor.handler.submit(draft())
    asked = await maker.plain.consult("something is off", "since this morning")
    restriction = await decide_status(broker, restricted.id, "restricted")
    return Cast(broker, vendor, maker, outsider, restricted, item.id, asked.id, restriction["id"])


Check = Callable[[Cast], Awaitable[None]]


@pytest.mark.parametrize("operation", sorted(DENIED), ids=lambda op: f"{op[0]} {op[1]}")
async def test_a_denied_call_leaves_an_audit_event(cast: Cast, operation: tuple[str, str]) -> None:
    """SPEC §3 rule 10: every denial, on every route, is an audit event with outcome
    "denied" and its reason; the answer is a 403 or 404 (409 for a state refusal)."""
    client, method, path, body = DENIED[operation](cast)
    whoami = await client._json("GET", "/v1/members")
    member_id = whoami["items"][0]["id"]
    before = await _denials(cast.broker, member_id)
    with pytest.raises(CouncilError) as refused:
        await client._json(method, path, json=body)
    assert refused.value.status in (403, 404, 409), refused.value
    after = await _denials(cast.broker, member_id)
    new = [e for e in after if e["id"] not in {b["id"] for b in before}]
    assert new, f"{method} {path} was refused ({refused.value.status}) but not audited"
    assert all(e["reason"] for e in new)


async def _denials(broker: Broker, member_id: str) -> list[dict[str, Any]]:
    page = await broker.admin.audit(outcome="denied", limit=200)
    return [
        e.model_dump()
        for e in page.items
        if e.actor_member_id == member_id or e.actor_member_id is None
    ]
