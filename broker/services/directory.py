"""The directory: every body with its handler status, and the sign-ins and
routes computed from it, cached and forgotten together."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import UTC, datetime, timedelta

from broker import tlp
from broker.domain import Actor, Body, ItemFacts
from broker.services.clock import Clock
from broker.store.items_repo import audience_id_for
from broker.store.uow import Store

__all__ = ["Directory"]

_MEMO_LIMIT = 4096
_ACTOR_LIMIT = 10_000


class Directory:
    """Bodies, sign-ins and routes, each reused for at most `ttl`.

    Routing reads the bodies on every submission. A cached entry may lag a
    membership or handler change by at most the TTL (changes made through
    this process clear it at once, and other replicas' changes as the feed
    tells: `forget`); that cannot leak, because every read, listing and push
    re-checks the reader's own body and handler status fresh (SPEC §3 rules 3
    and 7 are enforced on the read side too).
    """

    def __init__(self, store: Store, clock: Clock, ttl: timedelta) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl
        self._bodies: dict[str, Body] | None = None
        self._until = datetime.min.replace(tzinfo=UTC)
        self._deadline = 0.0
        self._routes: dict[ItemFacts, tlp.Routing] = {}
        self._audiences: dict[frozenset[str], str] = {}
        self._generation = 0  # bumped by forget
        self._loading: tuple[int, asyncio.Future[dict[str, Body]]] | None = None
        self._actors: dict[str, tuple[Actor, datetime, float]] = {}

    async def bodies(self) -> dict[str, Body]:
        """Every body with its handler status, cached for the TTL."""
        now = self._clock()
        stale = (
            self._bodies is None
            or now >= self._until
            # The broker's clock may be a test's, standing still: real time counts too.
            or time.monotonic() >= self._deadline
        )
        if not stale and self._bodies is not None:
            return self._bodies
        # One reload at a time: concurrent submissions that find the cache stale
        # share it instead of each reading every body (ingest is bound by the
        # event loop). A reload that a `forget` overtook is not shared: it may
        # predate the change.
        loading = self._loading
        if loading is None or loading[0] != self._generation:
            task = asyncio.ensure_future(self._load(now))
            loading = self._loading = (self._generation, task)
        return await asyncio.shield(loading[1])

    async def _load(self, now: datetime) -> dict[str, Body]:
        generation = self._generation
        try:
            async with self._store.read() as uow:
                bodies = await uow.members.bodies_with_handlers(now)
        finally:
            if self._loading is not None and self._loading[0] == generation:
                self._loading = None
        if generation == self._generation:
            self._bodies = bodies
            self._until = now + self._ttl
            self._deadline = time.monotonic() + self._ttl.total_seconds()
            self._routes.clear()
        return bodies

    def forget(self) -> None:
        """A member, user or handler changed (here, or on another replica as the feed
        tells): route and authenticate with fresh facts from now on."""
        self._bodies = None
        self._generation += 1
        self._actors.clear()

    def cached_actor(self, token_hash: str) -> Actor | None:
        """The caller behind a token if looked up within the TTL and nothing about
        members, users or handlers changed since (see `forget`)."""
        entry = self._actors.get(token_hash)
        if entry is None:
            return None
        actor, until, deadline = entry
        if self._clock() >= until or time.monotonic() >= deadline:
            del self._actors[token_hash]
            return None
        return actor

    def remember_actor(self, token_hash: str, actor: Actor) -> None:
        """Keep a looked-up caller for the next requests with the same token."""
        if len(self._actors) > _ACTOR_LIMIT:
            self._actors.clear()
        self._actors[token_hash] = (
            actor,
            self._clock() + self._ttl,
            time.monotonic() + self._ttl.total_seconds(),
        )

    def route(self, facts: ItemFacts, bodies: dict[str, Body]) -> tlp.Routing:
        """`recipients_for` over the directory, memoised: audiences repeat (the same
        groups and exclusions), and the policy is pure, so equal facts route equally."""
        if bodies is not self._bodies:
            return tlp.recipients_for(facts, bodies.values())  # not the cached directory
        key = dataclasses.replace(facts, id="", derived_from=())
        routing = self._routes.get(key)
        if routing is None:
            if len(self._routes) > _MEMO_LIMIT:
                self._routes.clear()
            routing = self._routes[key] = tlp.recipients_for(facts, bodies.values())
        return routing

    def audience_id(self, recipients: frozenset[str]) -> str:
        """`audience_id_for(recipients)`, memoised like routes: routed recipient sets
        repeat, and hashing a hundred member ids per submission is not free."""
        audience_id = self._audiences.get(recipients)
        if audience_id is None:
            if len(self._audiences) > _MEMO_LIMIT:
                self._audiences.clear()
            audience_id = self._audiences[recipients] = audience_id_for(recipients)
        return audience_id
