"""`GET /openapi.json` describes every route the broker serves."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from aiohttp.web_urldispatcher import AbstractRoute

from broker.app import create_app
from broker.settings import Settings
from tests.conftest import Broker


def _taxii(route: AbstractRoute) -> bool:
    """A TAXII 2.1 route: that protocol is its own contract, documented in
    docs/taxii.md (tests/e2e/test_taxii.py checks that page lists each one)."""
    return route.resource is not None and route.resource.canonical.startswith("/taxii2/")


async def test_every_route_is_in_the_openapi_document(broker: Broker) -> None:
    """Each API route of the app appears in the OpenAPI 3.1 document with its method."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(broker.url + "/openapi.json") as response,
    ):
        assert response.status == 200
        document = await response.json()
    assert document["openapi"].startswith("3.1")
    app = create_app(Settings())
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.method != "HEAD"
        and not _taxii(route)
        # The portal's pages are HTML for people (docs/portal.md), not the API.
        and not route.resource.canonical.startswith("/portal")
    }
    documented = {
        (method, path) for path, methods in document["paths"].items() for method in methods
    }
    assert served <= documented, served - documented
    submit = document["paths"]["/v1/items"]["post"]
    schema_ref = submit["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    item_schema = document["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert "secret" in item_schema["required"]  # art. 18(1),(2): stated on every submission


async def test_health_and_readiness_are_public(broker: Broker) -> None:
    """/healthz and /readyz answer without a token (/metrics wants the metrics token)."""
    async with aiohttp.ClientSession() as session:
        for path in ("/healthz", "/readyz", "/v1/roster"):
            async with session.get(broker.url + path) as response:
                assert response.status == 200, path


def test_every_route_is_listed_in_the_api_page() -> None:
    """docs/api.md, the API page users read, lists every route the app serves."""
    page = (Path(__file__).parents[2] / "docs" / "api.md").read_text()
    app = create_app(Settings())
    served = {
        f"`{route.method} {route.resource.canonical}`"
        for route in app.router.routes()
        if route.resource is not None
        and route.method != "HEAD"
        and not _taxii(route)
        # The portal's pages are HTML for people (docs/portal.md), not the API.
        and not route.resource.canonical.startswith("/portal")
    }
    missing = {entry for entry in served if entry not in page}
    assert not missing, missing


def test_every_operation_describes_the_statuses_it_may_answer() -> None:
    """docs/api.md "Conventions": 401 when authenticated, 404 by id, 413/422 on input."""
    from broker.api.openapi import openapi_document

    create_app(Settings())
    document = openapi_document()
    for path, methods in document["paths"].items():
        for method, entry in methods.items():
            statuses = set(entry["responses"])
            where = f"{method} {path}"
            if "security" in entry:
                expected = {"401", "404"} if path == "/metrics" else {"401", "403", "404"}
                assert expected <= statuses, where
            if "{" in path:
                assert {"404", "422"} <= statuses, where
            if "requestBody" in entry:
                assert {"413", "422"} <= statuses, where
            if method in ("post", "patch", "delete"):
                assert "409" in statuses, where
            if any(p["in"] == "query" for p in entry.get("parameters", [])):
                assert "422" in statuses, where
            for status, response in entry["responses"].items():
                if status.startswith("2") and path != "/v1/stream":
                    assert response.get("content"), f"{where} {status} has no body schema"
