"""`/docs`: the interactive API page and every file it loads, served by the broker itself.

Over real HTTP: the page, each script, style and icon it names, and the OpenAPI
document its start script reads all answer 200 from the broker; nothing comes
from another host; no script is inline (the Content-Security-Policy allows the
broker's own scripts only); any other file name is a 404.
"""

from __future__ import annotations

from html.parser import HTMLParser

import aiohttp

from tests.conftest import Broker


class _Assets(HTMLParser):
    """The URLs a page loads, and the text of any inline script."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            if values.get("src"):
                self.urls.append(str(values["src"]))
            else:
                self._in_inline_script = True
                self.inline_scripts.append("")
        elif tag == "link" and values.get("href"):
            self.urls.append(str(values["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data: str) -> None:
        if self._in_inline_script:
            self.inline_scripts[-1] += data


async def test_the_api_page_and_its_assets_load_from_the_broker(broker: Broker) -> None:
    """The page, its assets and /openapi.json: 200, the right types, no other host."""
    async with aiohttp.ClientSession() as session:
        async with session.get(broker.url + "/docs") as response:
            assert response.status == 200
            assert response.content_type == "text/html"
            policy = response.headers["Content-Security-Policy"]
            page = await response.text()
        assert (
            "script-src 'self'" in policy
            and "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
        )
        assert "frame-ancestors 'none'" in policy
        assets = _Assets()
        assets.feed(page)
        assert not [s for s in assets.inline_scripts if s.strip()], "inline script in /docs"
        assert len(assets.urls) >= 5
        types = {}
        for url in assets.urls:
            assert url.startswith("/docs/"), f"{url} is not served by the broker"
            async with session.get(broker.url + url) as response:
                body = await response.read()
                assert response.status == 200, url
                assert len(body) > 50, url
                types[url] = response.content_type
        assert types["/docs/swagger-ui-bundle.js"] == "text/javascript"
        assert types["/docs/swagger-ui.css"] == "text/css"
        async with session.get(broker.url + "/docs/docs-init.js") as response:
            init = await response.text()
        assert "/openapi.json" in init and "SwaggerUIBundle(" in init
        async with session.get(broker.url + "/openapi.json") as response:
            assert response.status == 200
            assert (await response.json())["paths"]


async def test_nothing_else_is_reachable_under_docs(broker: Broker) -> None:
    """Unknown names and attempts to climb out are the usual JSON 404."""
    async with aiohttp.ClientSession() as session:
        for name in ("index.html", "swagger-ui.js.map", "..%2F__init__.py", "docs.py"):
            async with session.get(broker.url + "/docs/" + name) as response:
                assert response.status == 404, name
                assert (await response.json())["error"]["code"] == "not_found"
