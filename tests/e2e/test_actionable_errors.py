"""Refusals say how to fix them; validation lists every problem; TLP names as people write them.

Over real HTTP on a real broker: the error body of docs/api.md ("Conventions")
carries `fix` next to `code`, a refused submission names the policy's reason,
a 422 names every offending JSON field at once, malformed JSON is a 400.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from broker.tlp.fixes import fix_for
from tests.conftest import Broker
from tests.council import draft, make_org


async def _post(broker: Broker, token: str, path: str, body: Any) -> tuple[int, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            broker.url + path,
            data=raw,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        ) as response,
    ):
        return response.status, await response.json(content_type=None)


async def test_secret_from_a_non_handler_names_the_reason_and_the_fix(broker: Broker) -> None:
    """`submitter_not_handler`: the refusal says to register a handler or submit secret=false."""
    org = await make_org(broker, "Vendor A", tier="tier_one")
    status, body = await _post(
        broker, org.plain._token, "/v1/items", draft(secret=True, tlp="AMBER")
    )
    assert status == 403, body
    error = body["error"]
    assert error["code"] == "forbidden"
    assert error["reason"] == "submitter_not_handler"
    assert error["fix"] == fix_for("submitter_not_handler")
    assert "handler" in error["fix"] and "secret=false" in error["fix"]


async def test_every_schema_problem_is_listed_at_once(broker: Broker) -> None:
    """Three mistakes in one body: one 422 naming all three JSON fields."""
    org = await make_org(broker, "Vendor A", tier="tier_one")
    item = draft(title=42, tlp="PURPLE", exclude_atributes=["law_enforcement"])
    del item["secret"]
    status, body = await _post(broker, org.handler._token, "/v1/items", item)
    assert status == 422, body
    error = body["error"]
    assert error["code"] == "invalid" and error["fix"]
    fields = [p["field"] for p in error["problems"]]
    assert set(fields) == {"title", "tlp", "secret", "exclude_atributes"}, fields
    assert error["field"] == fields[0]
    for problem in error["problems"]:
        assert problem["message"] and problem["field"] in error["message"]


async def test_malformed_json_is_400_and_valid_json_breaking_the_schema_422(
    broker: Broker,
) -> None:
    """400 `malformed_json` for text that is not JSON; 422 for JSON of the wrong shape."""
    org = await make_org(broker, "Vendor A", tier="tier_one")
    status, body = await _post(broker, org.handler._token, "/v1/items", b'{"kind": ')
    assert status == 400 and body["error"]["code"] == "malformed_json", body
    assert "line 1" in body["error"]["message"] and body["error"]["fix"]
    status, body = await _post(broker, org.handler._token, "/v1/items", {"kind": "analysis"})
    assert status == 422 and body["error"]["code"] == "invalid", body


async def test_tlp_names_are_case_insensitive_and_white_is_clear(broker: Broker) -> None:
    """`tlp:white`, `Amber+Strict`, `TLP:GREEN` are accepted; WHITE is stored as CLEAR."""
    org = await make_org(broker, "Vendor A", tier="tier_one")
    for written, stored in (
        ("tlp:white", "CLEAR"),
        ("WHITE", "CLEAR"),
        ("Amber+Strict", "AMBER+STRICT"),
        ("TLP:GREEN", "GREEN"),
        ("red", "RED"),
    ):
        status, body = await _post(broker, org.handler._token, "/v1/items", draft(tlp=written))
        assert status == 201, (written, body)
        opened = await org.handler.get_item(body["id"])
        assert opened.tlp == stored, written


async def test_errors_outside_the_policy_carry_a_fix_too(broker: Broker) -> None:
    """401, 404 and 405 answers say what to do, and the 404 says nothing of why."""
    async with aiohttp.ClientSession() as session:
        async with session.get(broker.url + "/v1/inbox") as response:
            body = await response.json()
            assert response.status == 401 and body["error"]["fix"] == fix_for("unauthorized")
        headers = {"Authorization": f"Bearer {broker.admin_token}"}
        async with session.get(broker.url + "/v1/items/nope", headers=headers) as response:
            body = await response.json()
            assert response.status == 404 and "reason" not in body["error"]
            assert body["error"]["fix"] == fix_for("not_found")
        async with session.put(broker.url + "/v1/inbox", headers=headers) as response:
            body = await response.json()
            assert response.status == 405 and body["error"]["fix"] == fix_for("method_not_allowed")
