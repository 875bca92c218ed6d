"""Delivering events to member webhooks: signed, retried with backoff, dead-lettered.

Each POST carries one event (the stream's frame), `X-Council-Event-Id` (the
cursor; receivers drop duplicates by it) and `X-Council-Signature:
t=<unix time>,v1=<hex HMAC-SHA256 over "<t>." + body>` with the webhook's
secret; receivers reject signatures older than a few minutes (replay). A
webhook is a system, not a registered handler: it never receives secret or
TLP:RED items (charter art. 18(4)).

Webhooks are delivered concurrently, each by its own task, in order, with at
most one POST in flight and a timeout per POST: a slow or silent endpoint
delays only itself. Every connection goes to a public address only
(broker.tlp `webhook_target_refusal`), asked again after DNS resolution, on
the very addresses connected to, so a name re-pointed inward after
registration is refused; redirects are not followed. The member's admin sees
failures only as `refused_target` or `delivery_failed`: what the remote
answered, or whether a port is open, is not reported back.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from datetime import timedelta

import aiohttp
import structlog
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from broker import tlp
from broker.crypto import hmac_sha256, open_envelope
from broker.delivery.poller import load_feed_events
from broker.delivery.waking import woken
from broker.domain import Reader
from broker.services.clock import Clock
from broker.services.ids import new_id
from broker.services.keyring import Keys
from broker.services.webhooks import secret_aad
from broker.store.uow import Store, UnitOfWork
from broker.store.webhooks_repo import DeliveryTarget

__all__ = [
    "BACKOFF_SECONDS",
    "DELIVERY_FAILED",
    "MAX_ATTEMPTS",
    "REFUSED_TARGET",
    "GuardedResolver",
    "TargetRefused",
    "WebhookDispatcher",
    "signature",
]

log = structlog.get_logger("broker.webhooks")

BACKOFF_SECONDS = (1, 2, 4, 8, 16, 32)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1
_BATCH = 100
# How many webhooks are delivered to at once, each with at most one POST in flight.
_CONCURRENT_WEBHOOKS = 64
# What the member's admin is told of a failure: no status, no error from the remote.
REFUSED_TARGET = "refused_target"
DELIVERY_FAILED = "delivery_failed"


class TargetRefused(OSError):
    """A webhook's host resolved to an address it may not reach (broker.tlp)."""

    def __init__(self, refusal: tlp.TargetRefusal) -> None:
        super().__init__(f"webhook target refused: {refusal}")
        self.refusal = refusal


class GuardedResolver(AbstractResolver):
    """Resolves webhook hosts and refuses any that resolve to an address the policy
    refuses: the connector connects only to the addresses checked here, so a name
    re-pointed at the broker's network after registration is refused (rebinding)."""

    def __init__(self, allow: tlp.TargetAllowList, inner: AbstractResolver | None = None) -> None:
        self.allow = allow
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The addresses of `host`, if every one of them may be a webhook target."""
        if self._inner is None:
            self._inner = aiohttp.ThreadedResolver()
        try:
            results = await self._inner.resolve(host, port, family)
        except OSError as exc:
            raise TargetRefused(tlp.TargetRefusal.UNRESOLVABLE) from exc
        refusal = tlp.webhook_target_refusal(host, [r["host"] for r in results], self.allow)
        if refusal is not None:
            raise TargetRefused(refusal)
        return results

    async def close(self) -> None:
        """Release the inner resolver."""
        if self._inner is not None:
            await self._inner.close()


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
        targets: tlp.TargetAllowList | None = None,
        resolver: AbstractResolver | None = None,
        concurrency: int = _CONCURRENT_WEBHOOKS,
    ) -> None:
        self._store = store
        self._keys = keys
        self._clock = clock
        self.poll_seconds = poll_interval.total_seconds()
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        # Public targets only unless the operator allows more (settings).
        self.targets = targets or tlp.TargetAllowList()
        self._resolver = resolver  # how names are looked up (tests: a fake DNS)
        self._wake = asyncio.Event()
        self._audiences: dict[str, frozenset[str]] = {}
        # One task per webhook being delivered to: a webhook still in flight is not
        # started again, so its events stay in order, and the others do not wait.
        self._in_flight: dict[str, asyncio.Task[int]] = {}
        # Webhooks whose delivery ended while a round read the webhooks: what it read of
        # them may predate what that delivery recorded, so the round leaves them alone.
        self._ended_during_read: set[str] = set()
        self._slots = asyncio.Semaphore(concurrency)

    def session(self) -> aiohttp.ClientSession:
        """An HTTP session whose every connection is checked against the targets policy."""
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(self.targets, self._resolver))
        return aiohttp.ClientSession(timeout=self.timeout, connector=connector)

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
        async with self.session() as session:
            try:
                any_registered = True
                while True:
                    was_woken = await woken(self._wake, self.poll_seconds)
                    self._wake.clear()
                    if was_woken and not any_registered:
                        await asyncio.sleep(self.poll_seconds)  # until the next periodic round
                    try:
                        any_registered = await self.run_once(session, wait=False) is not None
                    except Exception:
                        log.exception("webhook_round_failed")
            finally:
                # Leadership lost or stopping: no delivery outlives the session.
                tasks = list(self._in_flight.values())
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def run_once(self, session: aiohttp.ClientSession, *, wait: bool = True) -> int | None:
        """Start delivering to every due webhook not already being delivered to: None
        when no webhook is registered. With `wait`, wait for those deliveries and return
        how many events they delivered; without, return at once (0)."""
        now = self._clock()
        self._ended_during_read.clear()
        async with self._store.read() as uow:
            active = await uow.webhooks.active()
        if not active:
            return None
        started = []
        for hook in active:
            due = hook.next_attempt_at is None or hook.next_attempt_at <= now
            stale = hook.id in self._ended_during_read  # the next round reads it afresh
            if due and not stale and hook.id not in self._in_flight:
                task = asyncio.create_task(self._deliver_alone(session, hook))
                self._in_flight[hook.id] = task
                task.add_done_callback(functools.partial(self._finished, hook.id))
                started.append(task)
        if not wait or not started:
            return 0
        return sum(await asyncio.gather(*started))

    def _finished(self, webhook_id: str, task: asyncio.Task[int]) -> None:
        self._ended_during_read.add(webhook_id)
        if self._in_flight.get(webhook_id) is task:
            del self._in_flight[webhook_id]
        if not task.cancelled() and task.exception() is None and task.result():
            self._wake.set()  # more may have been committed meanwhile: look again

    async def _deliver_alone(self, session: aiohttp.ClientSession, hook: DeliveryTarget) -> int:
        """One webhook's delivery, in its own task: its failures stay its own."""
        async with self._slots:
            try:
                return await self._deliver(session, hook)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook_delivery_crashed", webhook_id=hook.id)
                return 0

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
                error = await self._post(session, hook, secret, event.seq, event.text)
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
        self, session: aiohttp.ClientSession, hook: DeliveryTarget, secret: str, seq: int, text: str
    ) -> str | None:
        """POST one event; None when delivered, else what the member's admin is told."""
        url = hook.url
        body = text.encode()
        timestamp = int(self._clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "X-Council-Event-Id": str(seq),
            "X-Council-Signature": signature(secret, timestamp, body),
        }
        refusal = _literal_refusal(url, self.targets)
        if refusal is not None:
            # An address in the URL is never resolved, so it is checked here.
            log.warning("webhook_target_refused", webhook_id=hook.id, refusal=str(refusal))
            return REFUSED_TARGET
        try:
            # Redirects are not followed: they could point anywhere, unchecked.
            async with session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                if 200 <= response.status < 300:
                    return None
                log.info("webhook_rejected", webhook_id=hook.id, status=response.status)
                return DELIVERY_FAILED
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, TargetRefused):
                log.warning(
                    "webhook_target_refused", webhook_id=hook.id, refusal=str(exc.os_error.refusal)
                )
                return REFUSED_TARGET
            log.info("webhook_unreachable", webhook_id=hook.id, error=type(exc).__name__)
            return DELIVERY_FAILED
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            # Only the kind of error, for the operator: its text may hold the URL.
            log.info("webhook_unreachable", webhook_id=hook.id, error=type(exc).__name__)
            return DELIVERY_FAILED

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


def _literal_refusal(url: str, allow: tlp.TargetAllowList) -> tlp.TargetRefusal | None:
    """Why a URL whose host is an address (not a name) may not be a target, if it may not."""
    try:
        host = URL(url).host or ""
    except ValueError:
        return tlp.TargetRefusal.UNRESOLVABLE
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: the resolver checks what it resolves to
    return tlp.webhook_target_refusal(host, [host], allow)
