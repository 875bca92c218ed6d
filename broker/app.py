"""The app factory: `create_app(settings) -> web.Application`.

Resources are `cleanup_ctx` generators, so they open with the app and close
with it, in order: the services (database, key ring); live delivery (the hub
and this replica's feed poller); background work (audit checkpoints on every
replica; the feedback sweeper and webhook dispatcher on one replica only).
Middlewares run outermost first:

1. `request_context` — a request id, the access log line and metrics, for
   every response including errors (an operator needs all of them, the 429s
   of the limits included);
2. `json_errors` — turns every failure into the docs/api.md error body, so no
   stack trace or HTML page ever reaches a client; a 429 gets its
   `Retry-After` here, whichever limit refused it.

The limits are not middlewares of their own, and that is deliberate: failed
sign-ins and request rates are counted where a caller signs in
(`broker.api.common.actor`, the one function every authenticated edge calls),
so public endpoints (health, readiness, roster) stay reachable from a
throttled address and a rate costs one dictionary lookup on a path that
already authenticates; the stream cap is held by the stream handler for the
connection's life; body size and nesting are checked where a body is parsed
(`parse`). What must happen before any handler runs (header sizes, the
slowloris idle timeout, TLS) belongs to the HTTP server: `server_options`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import structlog
from aiohttp import web, web_response

from broker.api import (
    audit,
    consultations,
    docs,
    items,
    ledger,
    members,
    obligations,
    ops,
    reports,
    resolutions,
    stream,
    webhooks,
)
from broker.api.keys import HUB, METRICS, SERVICES, SETTINGS, SWEEPER, TRUSTED_PROXIES
from broker.api.metrics import Metrics
from broker.crypto import KeyRing
from broker.delivery.hub import SHUTTING_DOWN, Hub
from broker.delivery.leader import run_as_leader
from broker.delivery.poller import FeedPoller, listening
from broker.delivery.webhooks import WebhookDispatcher
from broker.domain.limits import parse_networks
from broker.errors import BrokerError, PayloadTooLarge, RateLimited, StorageFull, Unavailable
from broker.misp import feed as misp_feed
from broker.portal import PORTAL_PREFIX, create_portal
from broker.services import Services
from broker.services.clock import Clock, utc_now
from broker.services.ids import new_id
from broker.services.keyring import Keys
from broker.services.resolutions import resolution_loop
from broker.services.sweeper import sweep_loop
from broker.settings import Settings
from broker.store import Database
from broker.store.failures import StoreFailure, classify_failure
from broker.store.uow import Store
from broker.taxii import create_taxii_app
from broker.tlp.fixes import fix_for

__all__ = ["create_app", "json_errors", "load_key_ring", "request_context", "server_options"]

log = structlog.get_logger("broker.http")

# `Server` names the product, never its versions (they tell an attacker which
# flaws to try). aiohttp writes its default, the Python and aiohttp versions,
# into every response it prepares, its own 400s for malformed requests
# included, which no middleware or signal sees: so the default is replaced.
SERVER_NAME = "council-broker"
web_response.SERVER_SOFTWARE = SERVER_NAME  # type: ignore[attr-defined]  # read at each prepare

# How long shutdown waits for each piece of background work to stop.
_STOP_SECONDS = 3.0


def load_key_ring(settings: Settings) -> KeyRing:
    """The key ring from the environment if set, else the 0600 file in the data dir."""
    if settings.key_ring is not None:
        return KeyRing.from_env(settings.key_ring.get_secret_value())
    return KeyRing.load(settings.key_ring_path)


def create_app(
    settings: Settings, *, clock: Clock = utc_now, ring: KeyRing | None = None
) -> web.Application:
    """The broker as an aiohttp application."""
    app = web.Application(
        middlewares=[request_context, json_errors],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[TRUSTED_PROXIES] = parse_networks(settings.trusted_proxies)
    app.cleanup_ctx.append(functools.partial(_services, settings=settings, clock=clock, ring=ring))
    app.cleanup_ctx.append(_live_delivery)
    app.cleanup_ctx.append(_background_work)
    # Before the server waits for running handlers: end every live stream, or a
    # quiet subscriber would hold the shutdown until its next keepalive.
    app.on_shutdown.append(_close_streams)
    app.on_response_prepare.append(_security_headers)
    for module in (
        ops,
        members,
        items,
        audit,
        obligations,
        ledger,
        consultations,
        resolutions,
        reports,
        stream,
        webhooks,
        docs,
        misp_feed,
    ):
        app.add_routes(module.routes)
    # The TAXII 2.1 edge (docs/taxii.md): its own error bodies and media types.
    app.add_subapp("/taxii2", create_taxii_app())
    # The member portal: pages over the same services, with its own sessions,
    # CSRF checks, CSP and error pages (`broker.portal`).
    app.add_subapp(PORTAL_PREFIX, create_portal(settings, clock))
    return app


def server_options(settings: Settings) -> dict[str, Any]:
    """The HTTP server's own limits, as `web.run_app` / `AppRunner` arguments.

    aiohttp checks these before any handler or middleware runs: the request
    line and each header line at most `max_header_bytes` (400 past it), at
    most `max_headers` headers. `keepalive_timeout` is `idle_timeout`: aiohttp
    closes a connection that has not completed a request's headers that long
    after it opened or after its last response, however slowly bytes trickle
    in, which is what cuts a slowloris client.
    """
    return {
        "keepalive_timeout": settings.idle_timeout.total_seconds(),
        "max_line_size": settings.max_header_bytes,
        "max_field_size": settings.max_header_bytes,
        "max_headers": settings.max_headers,
    }


async def _services(
    app: web.Application, *, settings: Settings, clock: Clock, ring: KeyRing | None
) -> AsyncIterator[None]:
    """The database, key ring and services."""
    store = Store(Database(settings.resolved_database_url))
    ring_file = None if ring is not None or settings.key_ring else settings.key_ring_path
    keys = Keys(ring or load_key_ring(settings), ring_file=ring_file)
    services = app[SERVICES] = Services(settings, store, keys, clock)
    app[SWEEPER] = services.sweeper
    try:
        # Items stored before the STIX object index are indexed before serving,
        # so a TAXII read by id never misses one (once; a no-op afterwards).
        await services.stix_refs.backfill()
        # Resolutions stored before their texts were sealed are sealed now.
        await services.resolutions.seal_clear_texts()
        yield
    finally:
        # Pending last-use writes end before the database closes under them.
        await services.auth.close()
        # A last signed checkpoint bounds what could be cut from the log's tail;
        # it must not hold the shutdown if the database does not answer.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_STOP_SECONDS):
                await app[SERVICES].audit.checkpoint(force=True)
        await store.dispose()


async def _live_delivery(app: web.Application) -> AsyncIterator[None]:
    """The hub and this replica's feed poller (woken by commits and NOTIFY)."""
    services = app[SERVICES]
    hub = app[HUB] = Hub(app[SETTINGS].stream_queue_size)
    poller = FeedPoller(services.store, hub)
    poller.on_directory_change = services.directory.forget
    await poller.start_position()
    services.store.on_commit(poller.wake)
    async with listening(services.store, poller), _running(poller.run()):
        yield


async def _close_streams(app: web.Application) -> None:
    """Close every stream connection; clients resume from their cursors elsewhere."""
    if HUB in app:
        app[HUB].close_all(SHUTTING_DOWN)


async def _background_work(app: web.Application) -> AsyncIterator[None]:
    """Checkpoints on every replica; the sweeper and webhooks on one replica only."""
    services = app[SERVICES]
    settings = app[SETTINGS]
    dispatcher = WebhookDispatcher(
        store=services.store,
        keys=services.keys,
        clock=services.clock,
        poll_interval=settings.webhook_poll_interval,
        targets=services.webhooks.targets.allow,
    )
    services.store.on_commit(dispatcher.wake)

    async def singletons() -> None:
        # SPEC §4: reminders before the deadline, overdue marks after it; SPEC §6:
        # resolutions close at their deadline.
        await asyncio.gather(
            sweep_loop(app[SWEEPER], settings.sweep_interval),
            resolution_loop(services.resolutions, settings.sweep_interval),
            dispatcher.run(),
        )

    async with (
        _running(_checkpoint_loop(services, settings)),
        _running(run_as_leader(services.store.db, singletons)),
    ):
        yield


@contextlib.asynccontextmanager
async def _running(work: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """A background task for the lifetime of the block, cancelled at its end."""
    task = asyncio.create_task(work)
    try:
        yield
    finally:
        task.cancel()
        # Bounded: a task stuck in its cleanup (a database that stopped
        # answering) must not hold the shutdown; the loop cancels it again.
        await asyncio.wait({task}, timeout=_STOP_SECONDS)
        if not task.done():
            log.warning("background_task_did_not_stop", task=task.get_name())
        elif not task.cancelled() and task.exception() is not None:
            log.error("background_task_failed", exc_info=task.exception())


async def _checkpoint_loop(services: Services, settings: Settings) -> None:
    # Signed checkpoints bound how much of the log's tail could be cut unseen.
    while True:
        await asyncio.sleep(settings.checkpoint_interval.total_seconds())
        try:
            await services.audit.checkpoint(force=True)
        except Exception:
            log.exception("audit_checkpoint_failed")


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Headers every response carries: no caching, no sniffing.

    Responses hold tokens shown once, audit records and item contents: no
    shared or browser cache may keep them, and a browser must not guess a
    content type other than the one declared.
    """
    # Unless the handler chose otherwise (the API page's static assets may be cached).
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["X-Content-Type-Options"] = "nosniff"


@web.middleware
async def request_context(request: web.Request, handler: Any) -> web.StreamResponse:
    """Request id, one access-log line and metrics per request."""
    request_id = request.headers.get("X-Request-Id", "")[:64] or new_id()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    status = 500
    try:
        response: web.StreamResponse = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = request_id
        return response
    finally:
        elapsed = time.perf_counter() - started
        route = request.match_info.route.resource
        route_name = route.canonical if route is not None else "unmatched"
        metrics = request.app[METRICS]
        metrics.requests.labels(request.method, route_name, str(status)).inc()
        metrics.latency.labels(request.method, route_name).observe(elapsed)
        log.info(
            "request",
            method=request.method,
            route=route_name,
            status=status,
            duration_ms=round(elapsed * 1000, 2),
        )
        structlog.contextvars.clear_contextvars()


@web.middleware
async def json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every error as `{"error": {code, message, fix, field?, ...}}` with its status."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except BrokerError as error:
        response = web.json_response(error.to_json(), status=error.status)
        if isinstance(error, RateLimited):
            # RFC 9110 §10.2.3 / RFC 6585 §4: when the limit lets the next one through.
            response.headers["Retry-After"] = str(error.retry_after)
        return response
    except web.HTTPRequestEntityTooLarge:
        too_large = PayloadTooLarge("the request body is too large")
        return web.json_response(too_large.to_json(), status=too_large.status)
    except web.HTTPException as http:
        if http.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed"}.get(http.status, "http_error")
        body = {"code": code, "message": http.reason, "fix": fix_for(code) or ""}
        response = web.json_response({"error": body}, status=http.status)
        # RFC 9110 §15.5.6: a 405 names the methods the resource does allow.
        if "Allow" in http.headers:
            response.headers["Allow"] = http.headers["Allow"]
        return response
    except Exception as exc:
        failure = _deployment_failure(exc)
        if failure is not None:
            return failure
        log.exception("unhandled_error")
        return web.json_response(BrokerError().to_json(), status=500)


def _deployment_failure(exc: Exception) -> web.Response | None:
    """A 503 (database unavailable, with Retry-After) or 507 (storage full) for a
    database failure that is the deployment's condition, not a bug; else None."""
    failure = classify_failure(exc)
    if failure is None:
        return None
    # One line, no traceback: the operator's alarm, not a bug report.
    log.error("database_" + failure.value, error=type(exc).__name__)
    if failure is StoreFailure.STORAGE_FULL:
        full = StorageFull()
        return web.json_response(full.to_json(), status=full.status)
    down = Unavailable()
    response = web.json_response(down.to_json(), status=down.status)
    response.headers["Retry-After"] = str(down.retry_after)
    return response
