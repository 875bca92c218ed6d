"""The member portal: server-rendered pages at /portal/ (Japanese and English).

One more thin edge over the same services and typed results as the API
(never the store, never a copy of the policy): `create_portal` builds the
sub-application the app factory mounts at `/portal/`. Pages are Jinja2
templates (`templates/`), the only script is a static file (`static/`),
and the catalogues are gettext `.po` files (`locale/`) compiled at start.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import session_middleware

from broker.portal.common import (
    CATALOGUES,
    SESSIONS,
    csrf,
    language,
    page_errors,
    security_headers,
)
from broker.portal.i18n import load_catalogues
from broker.portal.pages import VERIFY_JOBS, routes
from broker.portal.sessions import ServerSessions
from broker.portal.views import template_filters, template_globals
from broker.services.clock import Clock
from broker.settings import Settings

__all__ = ["PORTAL_PREFIX", "create_portal"]

PORTAL_PREFIX = "/portal/"
_HERE = Path(__file__).parent


def create_portal(settings: Settings, clock: Clock) -> web.Application:
    """The portal as a sub-application (mounted at `PORTAL_PREFIX` by `broker.app`)."""
    # aiohttp-session keeps its state under plain string keys of the request,
    # which aiohttp warns about on every first use; nothing to act on here.
    warnings.filterwarnings("ignore", category=web.NotAppKeyWarning, module="aiohttp_session")
    sessions = ServerSessions(
        clock=clock,
        idle=settings.portal_session_idle,
        capacity=settings.portal_max_sessions,
        always_secure=settings.portal_secure_cookies,
    )
    portal = web.Application(
        middlewares=[security_headers, page_errors, session_middleware(sessions), language, csrf],
        client_max_size=settings.max_body_bytes,
    )
    portal[SESSIONS] = sessions
    portal[CATALOGUES] = load_catalogues()
    portal[VERIFY_JOBS] = {}
    environment = aiohttp_jinja2.setup(
        portal,
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
    )
    environment.globals.update(template_globals())
    environment.filters.update(template_filters())
    portal.router.add_static("/static/", _HERE / "static", append_version=False)
    portal.add_routes(routes)
    portal.on_cleanup.append(_stop_verifications)
    return portal


async def _stop_verifications(portal: web.Application) -> None:
    for job in portal[VERIFY_JOBS].values():
        if job.task is not None:
            job.task.cancel()
