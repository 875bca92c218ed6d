"""Bad input gets the documented 4xx JSON error and changes nothing (docs/api.md)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.conftest import Broker
from tests.council import Council, draft, make_council


@pytest.fixture
async def council(broker: Broker) -> Council:
    """The cast of SPEC §1."""
    return await make_council(broker)


async def _raw(
    broker: Broker,
    token: str | None,
    method: str,
    path: str,
    *,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    import io

    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, broker.url + path, data=io.BytesIO(data) if data else None, headers=all_headers
        ) as response,
    ):
        return response.status, await response.json(content_type=None)


async def _audit_size(broker: Broker) -> int:
    from broker.store.audit_repo import AuditRepository

    db = broker.database()
    async with db.read() as conn:
        size, _ = await AuditRepository(conn).head()
    await db.dispose()
    return size


async def _item_count(broker: Broker) -> int:
    from sqlalchemy import func, select

    from broker.store.tables import items

    db = broker.database()
    async with db.read() as conn:
        count = (await conn.execute(select(func.count()).select_from(items))).scalar_one()
    await db.dispose()
    return int(count)


def _token(council: Council) -> str:
    return council.vendor_a.handler._token


BAD_SUBMISSIONS: list[tuple[str, bytes, int, str, str | None]] = [
    ("malformed json", b'{"kind": "analysis",', 400, "malformed_json", None),
    ("not utf-8", b'{"title": "\xff"}', 400, "malformed_json", None),
    ("not an object", b"[1, 2]", 422, "invalid", None),
    ("missing secret", None, 422, "invalid", "secret"),  # built below
    ("secret as string", None, 422, "invalid", "secret"),
    ("unknown field", None, 422, "invalid", "exclude_atributes"),
    ("wrong type", None, 422, "invalid", "title"),
    ("unknown tlp", None, 422, "invalid", "tlp"),
    ("bad due", None, 422, "invalid", "feedback.due"),
    ("bad stix", None, 422, "invalid", "stix.type"),
]


def _body(name: str) -> bytes | None:
    import json

    item = draft()
    if name == "missing secret":
        del item["secret"]
    elif name == "secret as string":
        item["secret"] = "no"
    elif name == "unknown field":
        item["exclude_atributes"] = ["law_enforcement"]
    elif name == "wrong type":
        item["title"] = 42
    elif name == "unknown tlp":
        item["tlp"] = "PURPLE"
    elif name == "bad due":
        item["feedback"] = {"due": "soon"}
    elif name == "bad stix":
        item["stix"] = {"type": "not-a-bundle", "id": "x", "objects": []}
    else:
        return None
    return json.dumps(item).encode()


@pytest.mark.parametrize(("name", "raw", "status", "code", "field"), BAD_SUBMISSIONS)
async def test_bad_submission_is_refused_and_changes_nothing(
    council: Council, name: str, raw: bytes | None, status: int, code: str, field: str | None
) -> None:
    """Each malformed submission gets its 4xx error body and stores nothing."""
    broker = council.broker
    before = await _item_count(broker)
    got, body = await _raw(
        broker, _token(council), "POST", "/v1/items", data=raw if raw is not None else _body(name)
    )
    assert got == status, body
    assert body["error"]["code"] == code
    assert body["error"]["fix"], body  # every error says what to do about it
    if field is not None:
        assert body["error"].get("field", "").startswith(field)
    assert await _item_count(broker) == before


async def test_oversize_body_gets_413(council: Council) -> None:
    """A body over the limit is refused with 413 before anything is parsed."""
    broker = council.broker
    huge = b'{"title": "' + b"x" * (broker.settings.max_body_bytes + 10) + b'"}'
    got, body = await _raw(broker, _token(council), "POST", "/v1/items", data=huge)
    assert got == 413 and body["error"]["code"] == "too_large"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/inbox?cursor=%%%", 422),
        ("/v1/inbox?cursor=bm90LWEtdWxpZA-_", 422),
        ("/v1/inbox?limit=0", 422),
        ("/v1/inbox?limit=abc", 422),
        ("/v1/inbox?order=sideways", 422),
        ("/v1/audit?cursor=abc", 422),
        ("/v1/items/does-not-exist", 404),
        ("/v1/members/does-not-exist", 404),
        ("/v1/no/such/route", 404),
    ],
)
async def test_bad_queries_and_unknown_ids(council: Council, path: str, status: int) -> None:
    """Bad cursors and limits are 422; unknown ids and routes are 404; all JSON errors."""
    got, body = await _raw(council.broker, council.broker.admin_token, "GET", path)
    assert got == status
    assert set(body) == {"error"} and body["error"]["code"]


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic abc"])
async def test_missing_or_bad_token_is_401(council: Council, header: str | None) -> None:
    """Every non-public route wants a valid bearer token."""
    headers = {"Authorization": header} if header else {}
    async with (
        aiohttp.ClientSession() as session,
        session.get(council.broker.url + "/v1/inbox", headers=headers) as response,
    ):
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "unauthorized"


async def test_revoked_token_stops_working(council: Council) -> None:
    """A revoked user's token is refused at once."""
    from clients.sdk import Unauthorized

    await council.coordinator.revoke_user(council.vendor_a.id, council.vendor_a.plain_user_id)
    with pytest.raises(Unauthorized):
        await council.vendor_a.plain.inbox()


async def test_refused_submission_changes_no_state_but_the_audit(council: Council) -> None:
    """A rule refusal stores no item; the denial itself is audited."""
    broker = council.broker
    before_items, before_audit = await _item_count(broker), await _audit_size(broker)
    import json

    got, _ = await _raw(
        broker,
        _token(council),
        "POST",
        "/v1/items",
        data=json.dumps(draft(scope={"groups": ["all_members"]})).encode(),
    )
    assert got == 422
    assert await _item_count(broker) == before_items
    assert await _audit_size(broker) == before_audit + 1
