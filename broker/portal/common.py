"""What every portal page shares: keys, middlewares, the signed-in caller, rendering.

Middlewares run outermost first:

1. `security_headers` — the Content-Security-Policy (no inline script, no
   asset from elsewhere: the broker works on a closed network), no framing,
   no referrer, on every portal response including errors;
2. `page_errors` — every failure becomes a page (never a traceback): a missing
   or ended session goes to the sign-in page, a broker error shows its one-line
   message with its status;
3. the aiohttp-session middleware (`broker.portal.sessions`);
4. `language` — the page's language (`broker.portal.i18n`), and the language
   cookie when `?lang=` chose it;
5. `csrf` — every form post must carry its session's CSRF token.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import web
from aiohttp_session import Session, get_session

from broker.api.common import source_address
from broker.api.keys import SERVICES
from broker.domain import Actor, BodyKind, Category, Tier
from broker.errors import BrokerError, Unauthorized
from broker.portal.i18n import LANG_COOKIE, choose_language
from broker.portal.sessions import COOKIE_PATH, ServerSessions
from broker.services import Services
from broker.tls import certificate_user

__all__ = [
    "CATALOGUES",
    "CSP",
    "GETTEXT",
    "LANG",
    "SESSIONS",
    "PortalRole",
    "csrf",
    "csrf_token",
    "form",
    "language",
    "may_submit",
    "page",
    "page_errors",
    "portal_role",
    "redirect",
    "remaining",
    "security_headers",
    "services",
    "signed_in",
]

log = structlog.get_logger("broker.portal")

CATALOGUES = web.AppKey("portal_catalogues", dict)
LANG = web.RequestKey("portal_lang", str)
Gettext = Callable[[str], str]
Ngettext = Callable[[str, str, int], str]
GETTEXT: web.RequestKey[Gettext] = web.RequestKey("portal_gettext")
NGETTEXT: web.RequestKey[Ngettext] = web.RequestKey("portal_ngettext")
SESSIONS = web.AppKey("portal_sessions", ServerSessions)

# Scripts and styles from the broker itself only: no inline script or style,
# no CDN; forms post only back to the broker; no page may be framed.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

SIGN_IN = "/portal/sign-in"
_UNATTRIBUTED = "/portal/consultations"


class _SignInRequired(Exception):
    """No signed-in session (or its token no longer signs in): go to the sign-in page."""


def services(request: web.Request) -> Services:
    """The services of the broker this portal is mounted in."""
    return request.config_dict[SERVICES]


def redirect(location: str) -> web.Response:
    """303 See Other: after a form post the browser asks for the page anew (no resubmission)."""
    return web.Response(status=303, headers={"Location": location})


async def signed_in(request: web.Request) -> Actor:
    """The caller the session signed in, authenticated again now (revocation ends it).

    Bound into the log context like the API's caller (`broker.api.common.actor`),
    except on consultation pages.
    """
    session = await get_session(request)
    token_hash = session.get("token_hash")
    if not isinstance(token_hash, str):
        raise _SignInRequired
    try:
        caller = await services(request).auth.authenticate_hash(
            token_hash,
            address=source_address(request),
            certificate_user=certificate_user(request.transport),
        )
    except Unauthorized:
        request.config_dict[SESSIONS].forget(session)
        session.invalidate()
        raise _SignInRequired from None
    # Charter art. 16(3): like the API's consultation routes, no log line of a
    # consultation page names who asked (`broker.api.common._UNATTRIBUTED_PATHS`).
    if not request.rel_url.path.startswith(_UNATTRIBUTED):
        structlog.contextvars.bind_contextvars(member_id=caller.member_id, user_id=caller.user_id)
    return caller


async def csrf_token(request: web.Request) -> str:
    """This session's CSRF token, made on first use (every form carries it)."""
    session = await get_session(request)
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


async def form(request: web.Request) -> Mapping[str, Any]:
    """The posted form (already read and checked by `csrf`)."""
    return await request.post()


PortalRole = str
"""`coordinator`, `secretariat`, `tier_one`, `tier_two` or `member`."""


def portal_role(caller: Actor) -> PortalRole:
    """Which pages the caller's body has (SPEC §1)."""
    if caller.body.kind is BodyKind.COORDINATOR:
        return "coordinator"
    if caller.body.kind is BodyKind.SECRETARIAT:
        return "secretariat"
    if caller.body.tier is Tier.TIER_ONE:
        return "tier_one"
    if caller.body.tier is Tier.TIER_TWO:
        return "tier_two"
    return "member"


def may_submit(caller: Actor) -> bool:
    """Tier one, the coordinator and security vendors submit from the portal."""
    return portal_role(caller) in ("coordinator", "tier_one") or (
        caller.body.category is Category.CYBER_BUSINESS and portal_role(caller) != "secretariat"
    )


async def page(
    request: web.Request,
    template: str,
    context: dict[str, Any],
    *,
    caller: Actor | None = None,
    status: int = 200,
) -> web.Response:
    """Render `template` with what every page needs: language, CSRF token, navigation."""
    language = request[LANG]
    now = services(request).clock()
    context = {
        **context,
        "lang": language,
        "csrf": await csrf_token(request),
        "caller": caller,
        "role": portal_role(caller) if caller is not None else None,
        "may_submit": may_submit(caller) if caller is not None else False,
        "path": request.rel_url.path,
        "_": request[GETTEXT],
        "gettext": request[GETTEXT],
        "ngettext": request[NGETTEXT],
        "now": now,
        "remaining": functools.partial(remaining, now=now, gettext=request[GETTEXT]),
    }
    response = aiohttp_jinja2.render_template(template, request, context, status=status)
    response.headers["Content-Language"] = language
    return response


def remaining(due: datetime, *, now: datetime, gettext: Callable[[str], str]) -> str:
    """How long until `due`, as the countdown first shows it (the script keeps it current)."""
    seconds = int((due - now).total_seconds())
    if seconds <= 0:
        return gettext("overdue")
    hours, rest = divmod(seconds, 3600)
    return gettext("%(hours)d h %(minutes)d min left") % {"hours": hours, "minutes": rest // 60}


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    """The portal's own headers (the app adds no-store and nosniff to every response)."""
    response: web.StreamResponse = await handler(request)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@web.middleware
async def page_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every failure as a page with its status; no traceback ever reaches a user."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except _SignInRequired:
        return redirect(SIGN_IN)
    except BrokerError as error:
        return await _error_page(request, error.status, error.message)
    except web.HTTPException as http:
        if http.status < 400:
            raise
        return await _error_page(request, http.status, None)
    except Exception:
        log.exception("portal_unhandled_error")
        return await _error_page(request, 500, None)


async def _error_page(request: web.Request, status: int, message: str | None) -> web.Response:
    if LANG not in request:
        _choose(request)
    return await page(request, "error.html", {"status": status, "message": message}, status=status)


def _choose(request: web.Request) -> bool:
    language, asked = choose_language(request)
    translations = request.config_dict[CATALOGUES][language]
    request[LANG] = language
    request[GETTEXT] = translations.gettext
    request[NGETTEXT] = translations.ngettext
    return asked


@web.middleware
async def language(request: web.Request, handler: Any) -> web.StreamResponse:
    """The page's language; `?lang=` also sets the cookie so sign-in and later pages keep it."""
    asked = _choose(request)
    response: web.StreamResponse = await handler(request)
    if asked:
        response.set_cookie(
            LANG_COOKIE,
            request[LANG],
            path=COOKIE_PATH,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="Strict",
            secure=request.secure,
        )
    return response


@web.middleware
async def csrf(request: web.Request, handler: Any) -> web.StreamResponse:
    """Refuse a state-changing request without this session's CSRF token (403)."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        posted = await request.post()
        session: Session = await get_session(request)
        expected = session.get("csrf")
        given = posted.get("csrf")
        if (
            not isinstance(expected, str)
            or not isinstance(given, str)
            or not hmac.compare_digest(expected.encode(), given.encode())
        ):
            gettext = request[GETTEXT]
            message = gettext(
                "This form has expired or did not come from this portal. Reload the page and "
                "send it again."
            )
            return await page(
                request, "error.html", {"status": 403, "message": message}, status=403
            )
    response: web.StreamResponse = await handler(request)
    return response
