"""Operations: health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from broker.api.common import operation, respond, services
from broker.api.keys import METRICS, SETTINGS
from broker.api.openapi import openapi_document
from broker.crypto import constant_time_equals
from broker.errors import NotFound, Unauthorized

__all__ = ["TAG", "healthz", "metrics", "openapi", "readyz", "routes"]

log = structlog.get_logger("broker.http")
routes = web.RouteTableDef()
TAG = "operations"


@routes.get("/healthz")
@operation("get", "/healthz", "The process is up", tag=TAG, public=True)
async def healthz(request: web.Request) -> web.Response:
    return respond({"status": "ok"})


@routes.get("/readyz")
@operation(
    "get",
    "/readyz",
    "The database answers",
    tag=TAG,
    public=True,
    responses={200: "ready", 503: "not ready"},
)
async def readyz(request: web.Request) -> web.Response:
    try:
        ready = await services(request).store.ping()
    except Exception:  # any failure means "not ready"; the reason goes to the log
        ready = False
    if not ready:
        return respond({"status": "unavailable"}, 503)
    return respond({"status": "ready"})


@routes.get("/metrics")
@operation(
    "get",
    "/metrics",
    "Prometheus metrics (Authorization: Bearer <COUNCIL_METRICS_TOKEN>)",
    tag=TAG,
    public=True,
    responses={200: "Prometheus text format", 401: "bad or missing metrics token"},
)
async def metrics(request: web.Request) -> web.Response:
    """The Prometheus metrics, for the holder of the metrics token only.

    Per-route counts tell who is active (consultations, break-glass denials):
    without a configured token the endpoint is not served (404); with one, a
    request without it is a 401 that says nothing more.
    """
    expected = request.app[SETTINGS].metrics_token
    if expected is None:
        raise NotFound()
    given = request.headers.get("Authorization", "")
    if not constant_time_equals(given, f"Bearer {expected.get_secret_value()}"):
        log.warning("metrics_denied", reason="bad_or_missing_metrics_token")
        raise Unauthorized("the metrics token is missing or wrong")
    response = web.Response(body=generate_latest(request.app[METRICS].registry))
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response


@routes.get("/openapi.json")
@operation("get", "/openapi.json", "This document", tag=TAG, public=True)
async def openapi(request: web.Request) -> web.Response:
    return respond(openapi_document())
