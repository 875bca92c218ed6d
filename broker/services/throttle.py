"""This replica's limits: failed sign-ins, request rates, open streams (README, "Limits").

The decisions are the pure rules of `broker.domain.limits`; this keeps their
state (in memory, per replica), reads the clock, and audits and logs every
refusal. A refusal is a 429 with `Retry-After`; its log line and audit event
name the limit, the source address or the user id, never a token.

Every refusal is logged. The first refusal of a key since it was last allowed
is also written to the audit chain; the rest of that flood is not, or a
client could make the broker write to its chain as fast as it can send.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import structlog

from broker.domain import Actor, AuditAction
from broker.domain.limits import ConcurrencyCap, RateLimiter, Verdict
from broker.errors import RateLimited
from broker.services.auditor import Auditor
from broker.services.clock import Clock
from broker.settings import Settings

__all__ = ["STREAM_RETRY_SECONDS", "Throttle"]

log = structlog.get_logger("broker.limits")

STREAM_RETRY_SECONDS = 5
"""`Retry-After` of a stream refused for the per-user cap: when one may have closed."""

_TOO_MANY_FAILURES = "too many failed sign-ins; retry after {} s"
_TOO_MANY_REQUESTS = "too many requests for this token; retry after {} s"
_TOO_MANY_STREAMS = "this user already holds {} open streams; close one or retry after {} s"


class Throttle:
    """Counters of one replica: failed sign-ins by address and by claimed user,
    requests by user, open streams by user."""

    def __init__(self, settings: Settings, clock: Clock, auditor: Auditor) -> None:
        per_minute = settings.auth_failures_per_minute
        self._clock = clock
        self._auditor = auditor
        self._failed_addresses = RateLimiter(per_minute / 60.0, per_minute)
        self._failed_users = RateLimiter(per_minute / 60.0, per_minute)
        self._requests = (
            RateLimiter(settings.token_requests_per_second, settings.token_burst)
            if settings.token_requests_per_second > 0
            else None
        )
        self._streams = ConcurrencyCap(settings.max_streams_per_user)
        # Users refused a stream since they last opened one: audited once per episode.
        self._stream_refused: set[str] = set()

    def _now(self) -> float:
        return self._clock().timestamp()

    async def check_sign_in(self, address: str, claimed_user: str | None) -> None:
        """Refuse a sign-in attempt from an address, or for a user, over its failures."""
        now = self._now()
        verdict = self._failed_addresses.peek(address, now)
        if not verdict.allowed:
            await self._refuse(verdict, "auth_failures_address", None, address=address)
            raise RateLimited(
                _TOO_MANY_FAILURES.format(verdict.retry_after), retry_after=verdict.retry_after
            )
        if claimed_user is not None:
            verdict = self._failed_users.peek(claimed_user, now)
            if not verdict.allowed:
                await self._refuse(
                    verdict, "auth_failures_user", None, address=address, user=claimed_user
                )
                raise RateLimited(
                    _TOO_MANY_FAILURES.format(verdict.retry_after), retry_after=verdict.retry_after
                )

    def sign_in_failed(self, address: str, claimed_user: str | None) -> None:
        """Count a failed sign-in against its address and, when one is claimed, its user."""
        now = self._now()
        self._failed_addresses.take(address, now)
        if claimed_user is not None:
            self._failed_users.take(claimed_user, now)

    async def request(self, actor: Actor, address: str) -> None:
        """Count a request against the caller's token; refuse it over the rate."""
        if self._requests is None:
            return
        verdict = self._requests.take(actor.user_id, self._now())
        if not verdict.allowed:
            await self._refuse(verdict, "token_rate", actor, address=address)
            raise RateLimited(
                _TOO_MANY_REQUESTS.format(verdict.retry_after), retry_after=verdict.retry_after
            )

    @contextlib.asynccontextmanager
    async def stream(self, actor: Actor, address: str) -> AsyncIterator[None]:
        """Hold one of the caller's stream slots for the block, or refuse (429)."""
        if not self._streams.acquire(actor.user_id):
            limit = self._streams.limit
            first = actor.user_id not in self._stream_refused
            self._stream_refused.add(actor.user_id)
            verdict = Verdict(False, STREAM_RETRY_SECONDS, first)
            await self._refuse(verdict, "streams_per_user", actor, address=address, open=limit)
            raise RateLimited(
                _TOO_MANY_STREAMS.format(limit, STREAM_RETRY_SECONDS),
                retry_after=STREAM_RETRY_SECONDS,
            )
        self._stream_refused.discard(actor.user_id)
        try:
            yield
        finally:
            self._streams.release(actor.user_id)

    def open_streams(self, user_id: str) -> int:
        """How many streams `user_id` holds open on this replica."""
        return self._streams.open_count(user_id)

    async def _refuse(
        self, verdict: Verdict, limit: str, actor: Actor | None, **details: Any
    ) -> None:
        details = {"limit": limit, "retry_after": verdict.retry_after, **details}
        log.warning("rate_limited", **details)
        if verdict.first_refusal:
            await self._auditor.record(
                self._auditor.draft(
                    actor,
                    AuditAction.REQUEST_RATE_LIMITED,
                    "denied",
                    reason=limit,
                    details=details,
                )
            )
