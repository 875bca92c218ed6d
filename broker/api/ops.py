"""Operations: health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from broker.api.common import operation, respond, services
from broker.api.keys import METRICS
from broker.api.openapi import openapi_document

__all__ = ["TAG", "healthz", "metrics", "openapi", "readyz", "routes"]

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
@operation("get", "/metrics", "Prometheus metrics", tag=TAG, public=True)
async def metrics(request: web.Request) -> web.Response:
    response = web.Response(body=generate_latest(request.app[METRICS].registry))
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response


@routes.get("/openapi.json")
@operation("get", "/openapi.json", "This document", tag=TAG, public=True)
async def openapi(request: web.Request) -> web.Response:
    return respond(openapi_document())
