"""The broker's edges: headers, the metrics token, deep bodies, odd digits, public keys."""

from __future__ import annotations

import base64
import json
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from broker.services.paging import encode_cursor
from tests.council import Council, draft, make_council


@pytest.fixture
async def council(broker: Any) -> Council:
    """The cast of SPEC §1."""
    return await make_council(broker)


async def _call(
    council: Council,
    method: str,
    path: str,
    *,
    token: str | None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, council.broker.url + path, data=data, headers=all_headers
        ) as response,
    ):
        return response.status, dict(response.headers), await response.read()


def _member_token(council: Council) -> str:
    return council.vendor_a.handler._token


# -- finding: /metrics, headers -------------------------------------------------------


async def test_metrics_need_the_metrics_token(council: Council) -> None:
    """SPEC §5 (who is active is itself sensitive): /metrics answers the metrics token only.

    Without a configured token it is not served; with one, no token or a
    member's token is a 401.
    """
    status, _, _ = await _call(council, "GET", "/metrics", token=None)
    assert status == 404
    council.broker.settings.metrics_token = SecretStr("metrics-secret-for-the-test")
    for token in (None, _member_token(council), "wrong"):
        status, _, body = await _call(council, "GET", "/metrics", token=token)
        assert status == 401, body
        assert b"metrics-secret" not in body
    status, _, body = await _call(council, "GET", "/metrics", token="metrics-secret-for-the-test")
    assert status == 200
    assert b"http_requests" in body or b"# HELP" in body


@pytest.mark.parametrize(
    ("method", "path", "member"),
    [
        ("GET", "/healthz", False),
        ("GET", "/v1/inbox", True),
        ("GET", "/v1/items/nope", True),
        ("GET", "/openapi.json", False),
    ],
)
async def test_every_response_is_uncacheable_unsniffable_and_unbannered(
    council: Council, method: str, path: str, member: bool
) -> None:
    """SPEC §5 confidentiality: no-store, nosniff, and no Server version on every response."""
    token = _member_token(council) if member else None
    _, headers, _ = await _call(council, method, path, token=token)
    assert headers.get("Cache-Control") == "no-store"
    assert headers.get("X-Content-Type-Options") == "nosniff"
    server = headers.get("Server", "")
    assert "aiohttp" not in server and "Python" not in server


# -- finding: deep JSON ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/items", b"[" * 100_000),
        ("/v1/items", b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
        ("/v1/consultations", b'{"question":' * 5_000 + b'""' + b"}" * 5_000),
        ("/v1/members", b'{"name":' * 5_000 + b'""' + b"}" * 5_000),
    ],
)
async def test_deeply_nested_bodies_are_a_422(council: Council, path: str, body: bytes) -> None:
    """docs/api.md conventions (bad input is a 4xx, never a 500): nesting is bounded first."""
    token = council.coordinator._token if path == "/v1/members" else _member_token(council)
    status, _, raw = await _call(council, "POST", path, token=token, data=body)
    assert status == 422, raw
    assert json.loads(raw)["error"]["code"] == "invalid"


async def test_a_stix_bundle_nested_500_deep_is_a_422(council: Council) -> None:
    """docs/api.md conventions: a STIX object nested 500 deep is refused, not a 500."""
    item = draft()
    nested: dict[str, Any] = {"leaf": 1}
    for _ in range(500):
        nested = {"x": nested}
    item["stix"] = {
        "type": "bundle",
        "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
        "objects": [
            {
                "type": "indicator",
                "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                "x_deep": nested,
            }
        ],
    }
    status, _, raw = await _call(
        council, "POST", "/v1/items", token=_member_token(council), data=json.dumps(item).encode()
    )
    assert status == 422, raw


async def test_brackets_inside_strings_do_not_count_as_nesting(council: Council) -> None:
    """docs/api.md conventions: only real nesting is bounded; a title of brackets is fine."""
    item = draft()
    item["body"] = "[[[[" * 400 + '\\"{{{{' * 400
    status, _, raw = await _call(
        council, "POST", "/v1/items", token=_member_token(council), data=json.dumps(item).encode()
    )
    assert status == 201, raw


# -- finding: Unicode digits in limit and cursor --------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1/inbox?limit=²",
        "/v1/consultations?limit=²",
        "/v1/audit?limit=²",
        "/v1/audit?cursor=²",
        "/v1/audit?cursor=١٢",
        "/v1/items/{item}/access-log?cursor=²",
        "/v1/items/{item}/access-log?limit=²",
        "/v1/stream?cursor=²",
        "/v1/stream?limit=²&cursor=³",
    ],
)
async def test_unicode_digits_in_limit_or_cursor_are_a_422(council: Council, path: str) -> None:
    """docs/api.md conventions (a malformed cursor or limit is a 422): `isdigit()` is not ASCII."""
    item = await council.vendor_a.handler.submit(draft())
    token = council.secretariat_handler._token if "audit?" in path else _member_token(council)
    status, _, raw = await _call(council, "GET", path.format(item=item.id), token=token)
    assert status == 422, raw
    assert json.loads(raw)["error"]["field"] in ("cursor", "limit")


async def test_an_obligations_cursor_past_the_calendar_is_a_422(council: Council) -> None:
    """docs/api.md conventions: a cursor whose time overflows in UTC is a 422, not a 500."""
    cursor = encode_cursor("9999-12-31T23:59:59-23:59", "01JABCDEFGHJKMNPQRSTVWXYZ0")
    status, _, raw = await _call(
        council, "GET", f"/v1/obligations?cursor={cursor}", token=_member_token(council)
    )
    assert status == 422, raw
    assert json.loads(raw)["error"]["field"] == "cursor"


async def test_a_due_time_that_overflows_in_utc_is_a_422(council: Council) -> None:
    """SPEC §4 (deadlines are times in UTC): a due time past year 9999 in UTC is a 422."""
    item = draft()
    item["feedback"] = {"due": "9999-12-31T23:59:59-23:59"}
    status, _, raw = await _call(
        council, "POST", "/v1/items", token=_member_token(council), data=json.dumps(item).encode()
    )
    assert status == 422, raw
    assert json.loads(raw)["error"]["field"].startswith("feedback.due")


# -- finding: the checkpoint public key -----------------------------------------------


async def test_the_checkpoint_public_keys_are_published(council: Council) -> None:
    """SPEC §5 (anyone can verify the log offline): GET /v1/audit/keys and the export's header."""
    ring = council.broker.ring
    status, _, raw = await _call(
        council, "GET", "/v1/audit/keys", token=council.secretariat_handler._token
    )
    assert status == 200, raw
    published = {
        key["key_id"]: base64.b64decode(key["public_key"]) for key in json.loads(raw)["keys"]
    }
    assert published == ring.public_keys()
    assert b"private" not in raw
    status, _, export = await _call(
        council, "GET", "/v1/audit/export", token=council.secretariat_handler._token
    )
    assert status == 200
    header = json.loads(export.splitlines()[0])
    assert header["type"] == "keys"
    assert {key["key_id"] for key in header["keys"]} == set(ring.public_keys())


async def test_a_wrong_method_is_a_405_that_names_the_allowed_ones(council: Council) -> None:
    """RFC 9110 §15.5.6 (docs/api.md error shape): a 405 carries Allow and the JSON error."""
    status, headers, raw = await _call(council, "DELETE", "/v1/inbox", token=_member_token(council))
    assert status == 405
    assert "GET" in headers.get("Allow", "")
    assert json.loads(raw)["error"]["code"] == "method_not_allowed"
