"""`GET /v1/stream` over real WebSocket and SSE connections."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import aiohttp
import pytest

from clients.sdk import StreamClosed, StreamEvent
from tests.conftest import Broker
from tests.council import Council, Org, decide_status, draft, make_council


@pytest.fixture
async def council(broker: Broker) -> Council:
    """The cast of SPEC §1."""
    return await make_council(broker)


class Stream:
    """A WebSocket subscriber that records what it receives."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next event (fails the test if none comes in time)."""
        message = await asyncio.wait_for(self.ws.receive(), timeout)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        event: dict[str, Any] = json.loads(message.data)
        self.events.append(event)
        return event

    async def next_of(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next event of `kind`, skipping others (obligations come with items)."""
        while True:
            event = await self.next(timeout)
            if event["event"] == kind:
                return event

    async def until(self, item_id: str, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Every event up to and including the `item` event of `item_id`."""
        got = []
        while True:
            event = await self.next(timeout)
            got.append(event)
            if event["event"] == "item" and event["data"]["id"] == item_id:
                return got


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """One HTTP session for the test's connections."""
    async with aiohttp.ClientSession() as client:
        yield client


def _token(org: Org, handler: bool = True) -> str:
    client = org.handler if handler else org.plain
    assert client._token
    return client._token


async def _connect(
    session: aiohttp.ClientSession, broker: Broker, token: str, cursor: str | None = None
) -> Stream:
    url = broker.url + "/v1/stream" + (f"?cursor={cursor}" if cursor else "")
    ws = await session.ws_connect(url, headers={"Authorization": f"Bearer {token}"})
    return Stream(ws)


async def test_item_reaches_subscribers_in_scope_only(
    council: Council, session: aiohttp.ClientSession
) -> None:
    """A tier-one analysis is pushed to tier one; a general member gets only the notice."""
    broker = council.broker
    vendor_b = await _connect(session, broker, _token(council.vendor_b))
    general = await _connect(session, broker, _token(council.general))
    await asyncio.sleep(0)  # let both subscriptions register before the submissions
    analysis = await council.vendor_a.handler.submit(draft())
    notice = await council.vendor_a.handler.submit(
        draft(kind="notice", title="council meeting", scope={"groups": ["all_members"]})
    )
    got = await vendor_b.until(notice.id)
    assert [e["data"]["id"] for e in got if e["event"] == "item"] == [analysis.id, notice.id]
    only = await general.until(notice.id)
    assert [e["data"]["id"] for e in only if e["event"] == "item"] == [notice.id]
    assert "title" not in got[0]["data"]  # content travels only through audited reads


async def test_compressed_websocket_gets_the_same_events(
    council: Council, session: aiohttp.ClientSession
) -> None:
    """A client that negotiates permessage-deflate is sent frames compressed for it
    (not the prebuilt uncompressed ones the others share), in order."""
    broker = council.broker
    ws = await session.ws_connect(
        broker.url + "/v1/stream",
        headers={"Authorization": f"Bearer {_token(council.vendor_b)}"},
        compress=15,
    )
    assert ws.compress == 15
    compressed = Stream(ws)
    items = [(await council.vendor_a.handler.submit(draft(title=f"z{n}"))).id for n in range(3)]
    got = await compressed.until(items[-1])
    assert [e["data"]["id"] for e in got if e["event"] == "item"] == items


async def test_resume_from_cursor_replays_missed_events_in_order(
    council: Council, session: aiohttp.ClientSession
) -> None:
    """A client that reconnects with its last cursor gets everything it missed, in order."""
    broker = council.broker
    first = await _connect(session, broker, _token(council.vendor_b))
    one = await council.vendor_a.handler.submit(draft(title="one"))
    seen = await first.until(one.id)
    cursor = seen[-1]["id"]
    await first.ws.close()
    missed = [(await council.vendor_a.handler.submit(draft(title=f"m{n}"))).id for n in range(5)]
    again = await _connect(session, broker, _token(council.vendor_b), cursor=cursor)
    replayed = await again.until(missed[-1])
    items = [e["data"]["id"] for e in replayed if e["event"] == "item"]
    assert items == missed
    ids = [int(e["id"]) for e in replayed]
    assert ids == sorted(ids) and all(i > int(cursor) for i in ids)


async def test_server_sent_events_carry_ids_and_resume_with_last_event_id(
    council: Council, session: aiohttp.ClientSession
) -> None:
    """SSE gives the same events with `id:` lines; Last-Event-ID resumes."""
    broker = council.broker
    items = [(await council.vendor_a.handler.submit(draft(title=f"s{n}"))).id for n in range(3)]
    headers = {
        "Authorization": f"Bearer {_token(council.vendor_b)}",
        "Accept": "text/event-stream",
        "Last-Event-ID": "0",
    }
    async with session.get(broker.url + "/v1/stream", headers=headers) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        received: list[str] = []
        while len(received) < 3:
            line = (await asyncio.wait_for(response.content.readline(), 5)).decode()
            if line.startswith("data: "):
                event = json.loads(line[6:])
                if event["event"] == "item":
                    received.append(event["data"]["id"])
    assert received == items


async def test_sdk_follows_resumes_and_learns_of_a_restriction(council: Council) -> None:
    """`CouncilClient.follow` gets the live items, resumes from a cursor with nothing
    missed or repeated, and ends with StreamClosed when the member is restricted."""
    reader = council.vendor_b.handler
    first = await council.vendor_a.handler.submit(draft(title="before"))

    async def items_until(events: AsyncIterator[StreamEvent], item_id: str) -> list[StreamEvent]:
        got = []
        async for event in events:
            if event.event == "item":
                got.append(event)
                if event.data["id"] == item_id:
                    return got
        raise AssertionError("the stream ended early")

    async with aclosing(reader.follow("0")) as events:
        (seen,) = await asyncio.wait_for(items_until(events, first.id), 5)
    missed = [(await council.vendor_a.handler.submit(draft(title=f"m{n}"))).id for n in range(3)]
    async with aclosing(reader.follow(seen.id)) as events:
        resumed = await asyncio.wait_for(items_until(events, missed[-1]), 5)
    assert [event.data["id"] for event in resumed] == missed

    async def restrict_soon() -> None:
        await asyncio.sleep(0.2)
        await decide_status(council.broker, council.vendor_b.id, "restricted")

    restriction = asyncio.create_task(restrict_soon())
    with pytest.raises(StreamClosed) as closed:
        async with asyncio.timeout(5):
            async for _ in reader.follow(resumed[-1].id):
                pass  # read until the broker ends the stream
    await restriction
    assert closed.value.code == "access_changed"


async def test_restriction_closes_the_stream_at_once(
    council: Council, session: aiohttp.ClientSession
) -> None:
    """Restricting a member closes its live connections with a reason (art. 8(2))."""
    broker = council.broker
    vendor_b = await _connect(session, broker, _token(council.vendor_b))
    item = await council.vendor_a.handler.submit(draft())
    await vendor_b.until(item.id)
    await decide_status(council.broker, council.vendor_b.id, "restricted")
    later = await council.vendor_a.handler.submit(draft(title="after the restriction"))
    while True:  # what was sent before the decision may still be in flight
        message = await asyncio.wait_for(vendor_b.ws.receive(), 5)
        if message.type != aiohttp.WSMsgType.TEXT:
            break
        assert later.id not in message.data
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert vendor_b.ws.close_code == 4403


async def test_withdrawal_is_pushed_and_replay_no_longer_offers_the_item(
    council: Council, session: aiohttp.ClientSession
) -> None:
    """Those who could open an item are told it was withdrawn; a replay skips it."""
    broker = council.broker
    vendor_b = await _connect(session, broker, _token(council.vendor_b))
    item = await council.vendor_a.handler.submit(draft())
    seen = await vendor_b.until(item.id)
    await council.vendor_a.handler.withdraw(item.id)
    gone = await vendor_b.next_of("withdrawn")
    assert (gone["event"], gone["data"]["id"]) == ("withdrawn", item.id)
    replay = await _connect(session, broker, _token(council.vendor_b), cursor="0")
    marker = await council.vendor_a.handler.submit(draft(title="marker"))
    events = await replay.until(marker.id)
    assert item.id not in [e["data"]["id"] for e in events if e["event"] == "item"]
    assert seen


async def test_stream_and_inbox_agree_for_every_user_after_a_random_run(
    council: Council, session: aiohttp.ClientSession
) -> None:
    """The same policy decides the stream and the inbox: for each user, the items the
    stream offers from the beginning are exactly those in the inbox."""
    rng = random.Random(20261122)
    orgs = council.members
    providers = [council.vendor_a, council.vendor_b, council.vendor_c]
    submitted: list[tuple[Org, str]] = []
    for n in range(30):
        provider = rng.choice(providers)
        kind = rng.choice(["analysis", "countermeasure", "notice"])
        groups = (
            ["tier_one_group"]
            if kind == "analysis"
            else [rng.choice(["tier_two", "task_force", "all_members"])]
        )
        item = draft(
            kind=kind,
            title=f"r{n}",
            secret=rng.random() < 0.4,
            tlp=rng.choice(["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"]),
            confidence=rng.choice(["unconfirmed", "low", "high"]),
            scope={
                "groups": groups,
                "exclude_attributes": ["law_enforcement"] if rng.random() < 0.3 else [],
            },
        )
        submitted.append((provider, (await provider.handler.submit(item)).id))
    owner, withdrawn = rng.choice(submitted)
    await owner.handler.withdraw(withdrawn)
    marker = await council.vendor_a.handler.submit(
        draft(kind="notice", title="end", scope={"groups": ["all_members"]})
    )
    for org in orgs:
        for handler in (True, False):
            client = org.handler if handler else org.plain
            inbox = {i.id async for i in client.iter_inbox()}
            stream = await _connect(session, council.broker, _token(org, handler), cursor="0")
            streamed: set[str] = set()
            if marker.id in inbox:
                events = await stream.until(marker.id)
                gone = {e["data"]["id"] for e in events if e["event"] == "withdrawn"}
                streamed = {e["data"]["id"] for e in events if e["event"] == "item"} - gone
            else:
                with pytest.raises(TimeoutError):
                    while True:
                        event = await stream.next(timeout=0.5)
                        if event["event"] == "item":
                            streamed.add(event["data"]["id"])
            await stream.ws.close()
            assert streamed == inbox, (org.name, handler)


async def _until_closed(stream: Stream, never: set[str]) -> aiohttp.WSMessage:
    """Read until the broker closes `stream`, failing on any frame naming an id in `never`."""
    while True:  # what was sent before the decision may still be in flight
        message = await asyncio.wait_for(stream.ws.receive(), 5)
        if message.type != aiohttp.WSMsgType.TEXT:
            return message
        assert not any(item_id in message.data for item_id in never), message.data


async def test_rule7_revoking_a_user_closes_its_open_websocket_and_sse_streams(
    council: Council, session: aiohttp.ClientSession
) -> None:
    """SPEC §3 rule 7: a revoked token's open streams end at once (4403 / `closed:
    access_changed`) and carry nothing committed after the revocation; the user's
    colleagues' streams go on."""
    broker = council.broker
    org = council.vendor_b
    revoked = await _connect(session, broker, _token(org))
    colleague = await _connect(session, broker, _token(org, handler=False))
    headers = {"Authorization": f"Bearer {_token(org)}", "Accept": "text/event-stream"}
    async with session.get(broker.url + "/v1/stream", headers=headers) as sse:
        first = await council.vendor_a.handler.submit(draft())
        await revoked.until(first.id)
        await org.admin.revoke_user(org.id, org.handler_user_id)
        later = await council.vendor_a.handler.submit(draft(title="after the revocation"))
        message = await _until_closed(revoked, {later.id})
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert revoked.ws.close_code == 4403
        lines: list[str] = []
        async with asyncio.timeout(5):
            while not lines or lines[-1] != "data: access_changed":
                line = (await sse.content.readline()).decode().strip()
                assert later.id not in line
                if line:
                    lines.append(line)
        assert "event: closed" in lines
    assert later.id in [
        e["data"]["id"] for e in await colleague.until(later.id) if e["event"] == "item"
    ]


async def test_rule3_removing_a_handler_closes_its_stream_before_any_red_or_secret_item(
    council: Council, session: aiohttp.ClientSession
) -> None:
    """SPEC §3 rules 3 and 7, charter art. 18(4): once a user's handler registration
    ends, its open stream carries no event for a RED or secret item (it closes with
    4403); reconnecting, it is offered only what it may now open."""
    broker = council.broker
    org = council.vendor_b
    stream = await _connect(session, broker, _token(org))
    first = await council.vendor_a.handler.submit(draft())
    cursor = (await stream.until(first.id))[-1]["id"]
    await org.admin.remove_handler(org.id, org.handler_user_id)
    red = await council.vendor_a.handler.submit(draft(title="red", tlp="RED"))
    secret = await council.vendor_a.handler.submit(draft(title="secret", secret=True))
    message = await _until_closed(stream, {red.id, secret.id})
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert stream.ws.close_code == 4403
    marker = await council.vendor_a.handler.submit(draft(title="marker"))
    again = await _connect(session, broker, _token(org), cursor=cursor)
    offered = [e["data"]["id"] for e in await again.until(marker.id) if e["event"] == "item"]
    assert offered == [marker.id]
    inbox = {i.id async for i in org.handler.iter_inbox()}
    assert red.id not in inbox and secret.id not in inbox
