"""`GET /openapi.json` describes every route the broker serves."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from broker.app import create_app
from broker.settings import Settings
from tests.conftest import Broker


async def test_every_route_is_in_the_openapi_document(broker: Broker) -> None:
    """Each route of the app appears in the OpenAPI 3.1 document with its method."""
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
        if route.resource is not None and route.method != "HEAD"
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
    """/healthz and /readyz answer without a token."""
    async with aiohttp.ClientSession() as session:
        for path in ("/healthz", "/readyz", "/metrics", "/v1/roster"):
            async with session.get(broker.url + path) as response:
                assert response.status == 200, path


def test_every_route_is_listed_in_the_api_page() -> None:
    """docs/api.md, the API page users read, lists every route the app serves."""
    page = (Path(__file__).parents[2] / "docs" / "api.md").read_text()
    app = create_app(Settings())
    served = {
        f"`{route.method} {route.resource.canonical}`"
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    missing = {entry for entry in served if entry not in page}
    assert not missing, missing
