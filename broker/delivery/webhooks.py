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

import aiohttp
import structlog

from broker import tlp
from broker.crypto import hmac_sha256, open_envelope
from broker.delivery.poller import load_feed_events
from broker.domain import Reader
from broker.services.clock import Clock
from broker.services.ids import new_id
from broker.services.keyring import Keys
from broker.services.webhooks import secret_aad
from broker.store.uow import Store, UnitOfWork
from broker.store.webhooks_repo import DeliveryTarget

__all__ = ["BACKOFF_SECONDS", "MAX_ATTEMPTS", "WebhookDispatcher", "signature"]

log = structlog.get_logger("broker.webhooks")

BACKOFF_SECONDS = (1, 2, 4, 8, 16, 32)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1
_BATCH = 100


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Council-Signature` header value for `body` sent at `timestamp`."""
    return f"t={timestamp},v1={hmac_sha256(secret.encode(), str(timestamp).encode() + b'.' + body)}"


class WebhookDispatcher:
    """Sends each webhook the events its member may see, in order."""

    def __init__(
        self,
        *,
        store: Store,
        keys: Keys,
        clock: Clock,
        poll_interval: timedelta,
        timeout: float = 10.0,
    ) -> None:
        self._store = store
        self._keys = keys
        self._clock = clock
        self.poll_seconds = poll_interval.total_seconds()
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
        now = self._clock()
        async with self._store.read() as uow:
            active = await uow.webhooks.active()
        if not active:
            return None
        delivered = 0
        for hook in active:
            if hook.next_attempt_at is None or hook.next_attempt_at <= now:
                delivered += await self._deliver(session, hook)
        return delivered

    async def _deliver(self, session: aiohttp.ClientSession, hook: DeliveryTarget) -> int:
        now = self._clock()
        async with self._store.read() as uow:
            bodies = await uow.members.bodies_with_handlers(now, [hook.member_id])
            body = bodies.get(hook.member_id)
            rows = await uow.feed.for_member_after(hook.member_id, hook.cursor, _BATCH)
            events = await load_feed_events(uow, rows, self._audiences)
        if body is None:
            return 0
        reader = Reader(user_id=f"webhook:{hook.id}", body=body, is_handler=False)
        secret = self._secret(hook)
        cursor, attempts, delivered = hook.cursor, hook.attempts, 0
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
        if cursor != recorded or (recorded == hook.cursor and hook.attempts):
            await self._advance(hook.id, cursor)  # skipped events, or a cleared retry
        return delivered

    def _secret(self, hook: DeliveryTarget) -> str:
        aad = secret_aad(hook.id, hook.member_id)
        ring = self._keys.ring_for(hook.secret.kek_version)
        return open_envelope(ring, hook.secret, content_aad=aad, key_aad=aad).decode()

    async def _post(
        self, session: aiohttp.ClientSession, url: str, secret: str, seq: int, text: str
    ) -> str | None:
        body = text.encode()
        timestamp = int(self._clock().timestamp())
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
        async def store(uow: UnitOfWork) -> None:
            await uow.webhooks.advance(webhook_id, cursor)

        await self._store.grouped(store)

    async def _failed(
        self, hook: DeliveryTarget, seq: int, cursor: int, attempts: int, error: str
    ) -> None:
        now = self._clock()
        log.warning(
            "webhook_delivery_failed",
            webhook_id=hook.id,
            event_id=seq,
            attempts=attempts,
            error=error,
        )

        async def store(uow: UnitOfWork) -> None:
            if attempts >= MAX_ATTEMPTS:
                # Give up on this event, keep it visible to the member's admin, move on.
                await uow.webhooks.dead_letter(
                    hook.id, letter_id=new_id(), seq=seq, attempts=attempts, error=error, at=now
                )
            else:
                delay = timedelta(seconds=BACKOFF_SECONDS[attempts - 1])
                await uow.webhooks.retry_later(
                    hook.id,
                    cursor=cursor,
                    attempts=attempts,
                    next_attempt_at=now + delay,
                    error=error,
                )

        await self._store.grouped(store)
