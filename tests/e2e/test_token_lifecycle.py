"""Token lifecycle: `expires_in`, `last_used_at` and rotation, over real HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest

from clients.sdk import Conflict, CouncilClient, Forbidden, Invalid, NotFound, Unauthorized
from tests.conftest import Broker
from tests.council import Org, make_org


@pytest.fixture
async def org(broker: Broker) -> Org:
    """A member that administers itself."""
    return await make_org(broker, "Vendor T", tier="tier_one")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client for the stream endpoint."""
    async with aiohttp.ClientSession() as client:
        yield client


async def _expiring(broker: Broker, org: Org, expires_in: str) -> tuple[str, str]:
    user, token = await org.admin.create_user(
        org.id, "Temp staff", "member_user", expires_in=expires_in
    )
    return user.id, token


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("P1Y", "years and months"),
        ("P2M", "years and months"),
        ("1 day", "ISO 8601"),
        ("PT", "ISO 8601"),
        ("P1DT", "ISO 8601"),
        ("PT0S", "longer than zero"),
        ("P4000D", "at most"),
        (3600, "string"),
    ],
)
async def test_expires_in_must_be_a_fixed_iso_8601_duration(
    broker: Broker, org: Org, value: object, says: str
) -> None:
    """A bad lifetime is a 422 naming `expires_in` and saying how to write one."""
    with pytest.raises(Invalid) as refused:
        await org.admin._json(
            "POST",
            f"/v1/members/{org.id}/users",
            json={"name": "Temp", "role": "member_user", "expires_in": value},
        )
    assert refused.value.field == "expires_in"
    assert says in refused.value.message


async def test_an_expired_token_gets_401_and_its_expiry_is_listed(broker: Broker, org: Org) -> None:
    """Until `expires_at` the token works; from then on every request is a 401,
    also straight after a successful one (the sign-in cache honours the expiry)."""
    user_id, token = await _expiring(broker, org, "P1DT12H")
    temp = broker.client(token)
    await temp.inbox()
    listed = {u.id: u for u in (await org.admin.list_users(org.id)).items}
    assert listed[user_id].expires_at == broker.clock() + timedelta(days=1, hours=12)
    broker.clock.advance(days=1, hours=11, minutes=59)
    await temp.inbox()
    broker.clock.advance(minutes=1)
    with pytest.raises(Unauthorized):
        await temp.inbox()
    with pytest.raises(Unauthorized):
        await temp.get_member(org.id)
    await org.plain.inbox()  # tokens without a lifetime go on


async def test_an_open_stream_closes_when_its_token_expires(
    broker: Broker, org: Org, session: aiohttp.ClientSession
) -> None:
    """WebSocket (4403) and SSE (`closed: access_changed`) connections of an
    expiring token end at its expiry, with no further request needed."""
    _, token = await _expiring(broker, org, "PT1S")
    headers = {"Authorization": f"Bearer {token}"}
    ws = await session.ws_connect(broker.url + "/v1/stream", headers=headers)
    sse_headers = headers | {"Accept": "text/event-stream"}
    async with session.get(broker.url + "/v1/stream", headers=sse_headers) as sse:
        assert sse.status == 200
        broker.clock.advance(seconds=2)  # the broker's clock passes the expiry
        async with asyncio.timeout(10):
            message = await ws.receive()
            assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert ws.close_code == 4403
            lines: list[str] = []
            while not lines or lines[-1] != "data: access_changed":
                line = (await sse.content.readline()).decode().strip()
                if line and not line.startswith(":"):
                    lines.append(line)
        assert "event: closed" in lines
    await ws.close()
    async with session.get(broker.url + "/v1/stream", headers=headers) as again:
        assert again.status == 401


async def test_last_used_is_recorded_at_most_once_a_minute(broker: Broker, org: Org) -> None:
    """The admin's listing shows when each token was last used, to within a minute."""

    async def last_used(user_id: str) -> object:
        listed = {u.id: u for u in (await org.admin.list_users(org.id)).items}
        return listed[user_id].last_used_at

    async def settled(user_id: str, expected: object) -> object:
        for _ in range(250):  # written off the request's path
            value = await last_used(user_id)
            if value == expected:
                return value
            await asyncio.sleep(0.02)
        raise AssertionError(f"last_used_at stayed {value!r}, expected {expected!r}")

    user_id, token = await _expiring(broker, org, "P30D")
    assert await last_used(user_id) is None
    first = broker.clock()
    await broker.client(token).inbox()
    await settled(user_id, first)
    broker.clock.advance(seconds=30)
    await broker.client(token).inbox()
    await asyncio.sleep(0.2)
    assert await last_used(user_id) == first  # not written again within the minute
    later = broker.clock.advance(seconds=31)
    await broker.client(token).inbox()
    await settled(user_id, later)


async def test_rotation_stops_the_old_token_at_once_and_closes_its_streams(
    broker: Broker, org: Org, session: aiohttp.ClientSession
) -> None:
    """The new token works, the old one is a 401 from the moment of rotation (no
    grace period), its open stream closes, and the rotation is audited."""
    old = org.plain
    assert old._token
    await old.inbox()  # now in the sign-in cache
    ws = await session.ws_connect(
        broker.url + "/v1/stream", headers={"Authorization": f"Bearer {old._token}"}
    )
    user, token = await org.admin.rotate_token(org.id, org.plain_user_id, expires_in="P90D")
    assert token != old._token
    assert user.expires_at == broker.clock() + timedelta(days=90)
    with pytest.raises(Unauthorized):
        await old.inbox()
    await broker.client(token).inbox()
    async with asyncio.timeout(5):
        message = await ws.receive()
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert ws.close_code == 4403
    await ws.close()
    records = [r async for r in broker.admin.audit_export()]
    rotations = [r for r in records if r.get("action") == "user.token_rotate"]
    assert len(rotations) == 1
    assert rotations[0]["details"]["user_id"] == org.plain_user_id
    assert token not in json.dumps(records) and old._token not in json.dumps(records)
    # Without expires_in the expiry stays as it was.
    kept, _ = await org.admin.rotate_token(org.id, org.plain_user_id)
    assert kept.expires_at == user.expires_at


async def test_who_may_rotate_a_token(broker: Broker, org: Org) -> None:
    """Only the member's own admins rotate its users' tokens (a new token is a way
    in as that user: SPEC §3 rule 1); others get 403 or 404; revoked is a 409."""
    other = await make_org(broker, "Vendor U", tier="tier_one")
    with pytest.raises(Forbidden):
        await broker.admin.rotate_token(org.id, org.plain_user_id)
    with pytest.raises(NotFound):
        await other.admin.rotate_token(org.id, org.plain_user_id)
    with pytest.raises(Forbidden):
        await org.handler.rotate_token(org.id, org.plain_user_id)
    with pytest.raises(NotFound):
        await org.admin.rotate_token(org.id, other.plain_user_id)
    await org.admin.revoke_user(org.id, org.plain_user_id)
    with pytest.raises(Conflict):
        await org.admin.rotate_token(org.id, org.plain_user_id)
    # The coordinator's own users stay the coordinator's to rotate.
    staff, _ = await broker.admin.create_user(broker.coordinator_id, "Coord staff", "member_user")
    _, fresh = await broker.admin.rotate_token(broker.coordinator_id, staff.id)
    await broker.client(fresh).inbox()


async def test_an_expired_token_is_rotated_only_with_a_new_lifetime(
    broker: Broker, org: Org
) -> None:
    """Kept as it was, the new token would be born expired: 422 asks for `expires_in`."""
    user_id, _ = await _expiring(broker, org, "PT1H")
    broker.clock.advance(hours=2)
    with pytest.raises(Invalid) as refused:
        await org.admin.rotate_token(org.id, user_id)
    assert refused.value.field == "expires_in"
    _, token = await org.admin.rotate_token(org.id, user_id, expires_in="PT1H")
    await broker.client(token).inbox()


async def test_council_tokens_rotate_and_list(
    broker: Broker, org: Org, capsys: pytest.CaptureFixture[str]
) -> None:
    """`council users rotate` prints the new token once; `council users list` shows
    each user's expiry and last use."""
    from clients.cli.main import run

    assert org.admin._token and org.plain._token
    old = org.plain._token

    async def council(*argv: str) -> tuple[int, str]:
        code = await run(
            list(argv),
            client_factory=lambda url, tok: CouncilClient(url, tok),
            env={"COUNCIL_URL": broker.url, "COUNCIL_TOKEN": str(org.admin._token)},
        )
        return code, capsys.readouterr().out

    code, out = await council(
        "--json", "users", "rotate", org.id, org.plain_user_id, "--expires-in", "PT12H"
    )
    assert code == 0, out
    rotated = json.loads(out)
    assert rotated["user"]["expires_at"] and rotated["token"] != old
    await broker.client(rotated["token"]).inbox()
    with pytest.raises(Unauthorized):
        await broker.client(old).inbox()
    code, out = await council("--json", "users", "list", org.id)
    assert code == 0, out
    listed = {user["id"]: user for user in json.loads(out)["items"]}
    assert listed[org.plain_user_id]["expires_at"]
    code, out = await council("users", "list", org.id)
    assert code == 0 and "never" in out  # the admins' tokens never expire
    code, out = await council("users", "rotate", org.id, org.plain_user_id, "--expires-in", "P1Y")
    assert code != 0
