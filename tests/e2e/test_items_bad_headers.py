"""Bad item input the attack found gets a clear 4xx, never a 500 (docs/api.md)."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import Broker
from tests.council import Council, draft, make_council


@pytest.fixture
async def council(broker: Broker) -> Council:
    """The cast of SPEC §1."""
    return await make_council(broker)


async def _raw_post(
    broker: Broker, token: str, path: str, body: dict[str, Any], extra: bytes
) -> tuple[int, dict[str, Any]]:
    """POST with header bytes exactly as given (a client library would refuse them)."""
    url = urlsplit(broker.url)
    payload = json.dumps(body).encode()
    request = (
        (
            f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n"
        ).encode()
        + extra
        + b"\r\n\r\n"
        + payload
    )
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(request)
    await writer.drain()
    response = await reader.read()
    writer.close()
    head, _, rest = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"chunked" in head.lower():
        size, _, rest = rest.partition(b"\r\n")
        rest = rest[: int(size, 16)]
    return status, json.loads(rest)


@pytest.mark.parametrize(
    "key",
    [
        "cl\u00e9-1".encode("latin-1"),  # not UTF-8 at all
        "\u30ad\u30fc-1".encode(),  # UTF-8, but not ASCII
        b"two words",
    ],
)
async def test_a_non_ascii_idempotency_key_is_a_422_naming_the_header(
    council: Council, key: bytes
) -> None:
    """docs/api.md `POST /v1/items`: an Idempotency-Key is 1 to 200 visible ASCII
    characters; any other is refused with a 422 naming the header, never a 500."""
    broker = council.broker
    status, body = await _raw_post(
        broker,
        council.vendor_a.handler._token or "",
        "/v1/items",
        draft(),
        b"Idempotency-Key: " + key,
    )
    assert status == 422, body
    assert body["error"]["field"] == "Idempotency-Key"


@pytest.mark.parametrize("reason", [" " * 30, "\u200b" * 30, "\n" * 30, "ok\u200b" * 4])
async def test_a_break_glass_reason_without_ten_visible_characters_is_a_422(
    council: Council, reason: str
) -> None:
    """Charter art. 14(3): a reason of blanks, zero-width spaces or newlines is no
    written reason: 422 on `reason`, and the item stays closed."""
    from clients.sdk import Invalid

    item = await council.vendor_a.handler.submit(draft())
    with pytest.raises(Invalid) as refused:
        await council.secretariat_handler.break_glass(item.id, reason)
    assert "reason" in str(refused.value)
    opened = await council.secretariat_handler.break_glass(item.id, "dispute between A and B")
    assert opened.id == item.id
