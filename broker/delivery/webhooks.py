"""Delivering events to member webhooks: signed, retried with backoff, dead-lettered.

Each POST carries one event (the stream's frame), `X-Council-Event-Id` (the
cursor; receivers drop duplicates by it) and `X-Council-Signature:
t=<unix time>,v1=<hex HMAC-SHA256 over "<t>." + body>` with the webhook's
secret; receivers reject signatures older than a few minutes (replay). A
webhook is a system, not a registered handler: it never receives secret or
TLP:RED items (charter art. 18(4)).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import aiohttp
import structlog
from sqlalchemy import insert, select, update

from broker import tlp
from broker.crypto import Envelope, hmac_sha256, open_envelope
from broker.delivery.poller import load_feed_events
from broker.domain import Reader
from broker.services.core import Core, new_id
from broker.services.webhooks import secret_aad
from broker.store.feed_repo import member_events_after
from broker.store.members_repo import bodies_with_handlers
from broker.store.obligations_repo import as_utc
from broker.store.tables import webhook_dead_letters, webhooks

log = structlog.get_logger("broker.webhooks")

BACKOFF_SECONDS = (1, 2, 4, 8, 16, 32)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1
_BATCH = 100


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Council-Signature` header value for `body` sent at `timestamp`."""
    return f"t={timestamp},v1={hmac_sha256(secret.encode(), str(timestamp).encode() + b'.' + body)}"


class WebhookDispatcher:
    """Sends each webhook the events its member may see, in order."""

    def __init__(self, core: Core, *, timeout: float = 10.0) -> None:
        self.core = core
        self.poll_seconds = core.settings.webhook_poll_interval.total_seconds()
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._wake = asyncio.Event()
        self._audiences: dict[str, frozenset[str]] = {}

    def wake(self) -> None:
        """New events were committed."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver whenever woken, and periodically for retries, until cancelled.

        While no webhook is registered at all, commits do not wake it: only
        the periodic round looks (so a new webhook's first events go out
        within `webhook_poll_interval`), and ingest does not pay a query per
        commit for nothing.
        """
        async with aiohttp.ClientSession(timeout=self.timeout) as session:
            any_registered = True
            while True:
                woken = False
                with contextlib.suppress(TimeoutError):
                    woken = await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                self._wake.clear()
                if woken and not any_registered:
                    await asyncio.sleep(self.poll_seconds)  # until the next periodic round
                try:
                    any_registered = await self.run_once(session) is not None
                except Exception:
                    log.exception("webhook_round_failed")

    async def run_once(self, session: aiohttp.ClientSession) -> int | None:
        """One round over every due webhook: how many events were delivered, or
        None when no webhook is registered."""
        now = self.core.clock()
        async with self.core.db.read() as conn:
            active = (await conn.execute(select(webhooks).where(webhooks.c.active.is_(True)))).all()
        if not active:
            return None
        delivered = 0
        for row in active:
            if row.next_attempt_at is None or as_utc(row.next_attempt_at) <= now:
                delivered += await self._deliver(session, row)
        return delivered

    async def _deliver(self, session: aiohttp.ClientSession, hook: Any) -> int:
        core = self.core
        now = core.clock()
        async with core.db.read() as conn:
            body = (await bodies_with_handlers(conn, now, [hook.member_id])).get(hook.member_id)
            rows = (
                await conn.execute(member_events_after(hook.member_id, int(hook.cursor), _BATCH))
            ).all()
            events = await load_feed_events(conn, rows, self._audiences)
        if body is None:
            return 0
        reader = Reader(user_id=f"webhook:{hook.id}", body=body, is_handler=False)
        secret = self._secret(hook)
        cursor, attempts, delivered = int(hook.cursor), int(hook.attempts), 0
        recorded = cursor
        for event in events:
            visible = not event.internal and tlp.may_see_event(
                reader,
                event.kind,
                member_id=event.member_id,
                audience=event.audience,
                facts=event.facts,
            )
            if visible:
                error = await self._post(session, hook.url, secret, event.seq, event.text)
                if error is not None:
                    await self._failed(hook, event.seq, cursor, attempts + 1, error)
                    return delivered
                delivered += 1
                # Recorded before the next POST: if this replica stops here (or
                # loses leadership), the next leader resends at most the one event
                # in flight, which receivers drop by its X-Council-Event-Id.
                await self._advance(hook.id, event.seq)
                recorded = event.seq
            cursor, attempts = event.seq, 0
        if cursor != recorded or (recorded == int(hook.cursor) and int(hook.attempts)):
            await self._advance(hook.id, cursor)  # skipped events, or a cleared retry
        return delivered

    def _secret(self, hook: Any) -> str:
        envelope = Envelope(
            nonce=hook.secret_nonce,
            ciphertext=hook.secret_ciphertext,
            wrapped_key=hook.secret_wrapped_key,
            kek_version=int(hook.secret_kek_version),
        )
        aad = secret_aad(hook.id, hook.member_id)
        ring = self.core.ring_for(int(hook.secret_kek_version))
        return open_envelope(ring, envelope, content_aad=aad, key_aad=aad).decode()

    async def _post(
        self, session: aiohttp.ClientSession, url: str, secret: str, seq: int, text: str
    ) -> str | None:
        body = text.encode()
        timestamp = int(self.core.clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "X-Council-Event-Id": str(seq),
            "X-Council-Signature": signature(secret, timestamp, body),
        }
        try:
            async with session.post(url, data=body, headers=headers) as response:
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return type(exc).__name__

    async def _advance(self, webhook_id: str, cursor: int) -> None:
        async def store(conn: Any) -> None:
            await conn.execute(
                update(webhooks)
                .where(webhooks.c.id == webhook_id)
                .values(cursor=cursor, attempts=0, next_attempt_at=None, last_error=None)
            )

        await self.core.db.grouped(store)

    async def _failed(self, hook: Any, seq: int, cursor: int, attempts: int, error: str) -> None:
        now = self.core.clock()
        log.warning(
            "webhook_delivery_failed",
            webhook_id=hook.id,
            event_id=seq,
            attempts=attempts,
            error=error,
        )

        async def store(conn: Any) -> None:
            if attempts >= MAX_ATTEMPTS:
                # Give up on this event, keep it visible to the member's admin, move on.
                await conn.execute(
                    insert(webhook_dead_letters).values(
                        id=new_id(),
                        webhook_id=hook.id,
                        event_seq=seq,
                        attempts=attempts,
                        last_error=error,
                        created_at=now,
                    )
                )
                values: dict[str, Any] = {
                    "cursor": seq,
                    "attempts": 0,
                    "next_attempt_at": None,
                    "last_error": error,
                }
            else:
                delay = timedelta(seconds=BACKOFF_SECONDS[attempts - 1])
                values = {
                    "cursor": cursor,
                    "attempts": attempts,
                    "next_attempt_at": now + delay,
                    "last_error": error,
                }
            await conn.execute(update(webhooks).where(webhooks.c.id == hook.id).values(**values))

        await self.core.db.grouped(store)
