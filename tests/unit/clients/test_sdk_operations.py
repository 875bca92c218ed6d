"""The SDK's newer operations and error details, against the fake broker, and the
transport's wording of connection failures against real sockets."""

from __future__ import annotations

import asyncio
import socket

import pytest
from client_fakes import TOKEN, FakeBroker, error_json, user_json

from clients.sdk import (
    CallableTransport,
    CouncilClient,
    Invalid,
    NotFound,
    Problem,
    Response,
    TransportError,
    error_with_details,
)


async def test_users_webhooks_consents_and_consultations(
    client: CouncilClient, fake_broker: FakeBroker, transport: CallableTransport
) -> None:
    """Each call goes to its documented path with its documented body, and parses the answer."""
    fake_broker.on("GET", "/v1/members/m-1/users", {"items": [user_json()], "next_cursor": None})
    hook = {"id": "w-1", "member_id": "m-1", "url": "https://siem.test/h", "secret": "s3cr3t"}
    fake_broker.on("POST", "/v1/members/m-1/webhooks", hook, 201)
    fake_broker.on("GET", "/v1/members/m-1/webhooks", {"items": [hook], "next_cursor": None})
    fake_broker.on("DELETE", "/v1/members/m-1/webhooks/w-1", {"id": "w-1", "active": False})
    consent = {"derived_item_id": "it-2", "requested_by": "m-2", "source_item_ids": ["it-1"]}
    fake_broker.on("GET", "/v1/consents", {"items": [consent], "next_cursor": None})
    fake_broker.on("GET", "/v1/consultations", {"items": [{"id": "c-1"}], "next_cursor": None})
    fake_broker.on("POST", "/v1/consultations/c-1/reveal", {"id": "c-1", "reveal_identity": True})

    assert (await client.list_users("m-1", limit=5)).items[0].name == "Alice"
    assert (await client.add_webhook("m-1", "https://siem.test/h")).secret == "s3cr3t"
    assert (await client.list_webhooks("m-1")).items[0].url == "https://siem.test/h"
    assert (await client.remove_webhook("m-1", "w-1"))["active"] is False
    assert (await client.consent_requests()).items[0].source_item_ids == ["it-1"]
    assert (await client.list_consultations()).items[0].id == "c-1"
    assert (await client.reveal_consultation("c-1"))["reveal_identity"] is True
    sent = [(r.method, r.path, r.json, r.params) for r in transport.requests]
    assert sent == [
        ("GET", "/v1/members/m-1/users", None, {"limit": "5"}),
        ("POST", "/v1/members/m-1/webhooks", {"url": "https://siem.test/h"}, {}),
        ("GET", "/v1/members/m-1/webhooks", None, {}),
        ("DELETE", "/v1/members/m-1/webhooks/w-1", None, {}),
        ("GET", "/v1/consents", None, {}),
        ("GET", "/v1/consultations", None, {}),
        ("POST", "/v1/consultations/c-1/reveal", {}, {}),
    ]


def test_error_details_carry_fix_reason_and_every_problem() -> None:
    """A 422 body's fix, reason and problems reach the exception, in order."""
    body = error_json("invalid", "two problems", "title")
    body["error"].update(
        fix="correct the fields named",
        reason="scope_too_wide",
        problems=[
            {"field": "title", "message": "too long"},
            {"field": "scope.groups.0", "message": "not a group"},
            {"field": 3, "message": "ignored: not a field name"},
        ],
    )
    error = error_with_details(Response.from_json(body, 422))
    assert isinstance(error, Invalid)
    assert error.fix == "correct the fields named" and error.reason == "scope_too_wide"
    assert error.problems == (
        Problem("title", "too long"),
        Problem("scope.groups.0", "not a group"),
    )
    assert error.from_broker


def test_a_page_that_is_not_the_brokers_is_marked() -> None:
    """An HTML 404 is still a NotFound, but marked as not coming from a council broker."""
    error = error_with_details(Response(404, {}, b"<h1>Not Found</h1>"))
    assert isinstance(error, NotFound) and not error.from_broker and error.problems == ()


async def test_a_closed_port_is_unreachable_in_plain_words() -> None:
    """Nothing listening: the real transport says `is it running?`, code `unreachable`."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with CouncilClient(f"http://127.0.0.1:{port}", TOKEN) as client:
        with pytest.raises(TransportError) as caught:
            await client.inbox()
    assert caught.value.code == "unreachable"
    assert (
        str(caught.value) == f"cannot reach the broker at http://127.0.0.1:{port}: is it running?"
    )


async def test_a_server_that_does_not_speak_http_is_named() -> None:
    """A port that answers garbage: `does not speak HTTP`, code `broken`."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    async def garbage() -> None:
        loop = asyncio.get_running_loop()
        conn, _ = await loop.sock_accept(server)
        await loop.sock_sendall(conn, b"SSH-2.0-OpenSSH_9.6\r\n")
        conn.close()

    server.setblocking(False)
    task = asyncio.create_task(garbage())
    try:
        async with CouncilClient(f"http://127.0.0.1:{port}", TOKEN) as client:
            with pytest.raises(TransportError) as caught:
                await client.inbox()
        assert caught.value.code == "broken"
        assert "does not speak HTTP: is it a council broker?" in str(caught.value)
    finally:
        await task
        server.close()
