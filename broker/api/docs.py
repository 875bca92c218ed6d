"""The interactive API page at `/docs`: Swagger UI on the broker's own `/openapi.json`.

Every file is served from the installed packages (Swagger UI's from the
`swagger-ui-bundle-v2` distribution, the page and its start script from
`broker/api/static/`): no CDN, nothing fetched from elsewhere, so the page works
on a broker with no internet access and leaks no visit to a third party. The
page carries a Content-Security-Policy allowing scripts from the broker alone;
its start script is a static file for that reason (no inline script).
"""

from __future__ import annotations

import importlib.resources
from importlib.resources.abc import Traversable

from aiohttp import web
from swagger_ui_bundle import swagger_ui_path

from broker.api.common import operation
from broker.errors import NotFound

__all__ = ["CONTENT_SECURITY_POLICY", "DOCS_FILES", "TAG", "docs_file", "docs_page", "routes"]

routes = web.RouteTableDef()
TAG = "operations"

_OWN = importlib.resources.files("broker.api") / "static"
_SWAGGER: Traversable = swagger_ui_path

DOCS_FILES: dict[str, tuple[Traversable, str]] = {
    "swagger-ui.css": (_SWAGGER / "swagger-ui.css", "text/css"),
    "swagger-ui-bundle.js": (_SWAGGER / "swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui-standalone-preset.js": (
        _SWAGGER / "swagger-ui-standalone-preset.js",
        "text/javascript",
    ),
    "favicon-32x32.png": (_SWAGGER / "favicon-32x32.png", "image/png"),
    "favicon-16x16.png": (_SWAGGER / "favicon-16x16.png", "image/png"),
    "docs-init.js": (_OWN / "docs-init.js", "text/javascript"),
    "docs.css": (_OWN / "docs.css", "text/css"),
}
"""The page's assets by the name it asks for them: only these are served."""

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        # Swagger UI sets style attributes as it renders (its syntax highlighter).
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
"""Scripts, styles and calls from the broker only; the page may not be framed."""

_CACHE_ASSETS = "public, max-age=86400"  # the assets change only with the package


def _secured(response: web.Response) -> web.Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@routes.get("/docs")
@operation(
    "get",
    "/docs",
    "The interactive API page (Swagger UI on /openapi.json; assets served by the broker)",
    tag=TAG,
    public=True,
    responses={200: "text/html"},
)
async def docs_page(request: web.Request) -> web.Response:
    """The HTML page; its scripts and styles come from `/docs/{name}`."""
    page = (_OWN / "docs.html").read_bytes()
    return _secured(web.Response(body=page, content_type="text/html", charset="utf-8"))


@routes.get("/docs/{name}")
@operation(
    "get",
    "/docs/{name}",
    "A file of the API page: Swagger UI's scripts and styles, the page's start script",
    tag=TAG,
    public=True,
    responses={200: "the file (text/css, text/javascript or image/png)"},
)
async def docs_file(request: web.Request) -> web.Response:
    """One of `DOCS_FILES` (any other name is a 404: nothing else is reachable)."""
    found = DOCS_FILES.get(request.match_info["name"])
    if found is None:
        raise NotFound("no such file of the API page")
    source, content_type = found
    response = web.Response(body=source.read_bytes(), content_type=content_type)
    if content_type.startswith("text/"):
        response.charset = "utf-8"
    response.headers["Cache-Control"] = _CACHE_ASSETS
    return _secured(response)
