"""Choosing the page's language, and the server-side session store's expiry and bounds."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from aiohttp_session import Session

from broker.portal.i18n import LANG_COOKIE, choose_language
from broker.portal.sessions import COOKIE_NAME, ServerSessions


def _request(path: str = "/portal/", headers: dict[str, str] | None = None) -> web.Request:
    return make_mocked_request("GET", path, headers=headers or {})


def test_the_query_wins_then_the_cookie_then_accept_language_then_japanese() -> None:
    """`?lang=` > the language cookie > Accept-Language (by weight) > ja."""
    assert choose_language(_request("/portal/?lang=en")) == ("en", True)
    cookie = {"Cookie": f"{LANG_COOKIE}=en", "Accept-Language": "ja"}
    assert choose_language(_request(headers=cookie)) == ("en", False)
    assert choose_language(_request(headers={"Accept-Language": "en-US,en;q=0.9"})) == (
        "en",
        False,
    )
    weighted = {"Accept-Language": "en;q=0.3, ja;q=0.8"}
    assert choose_language(_request(headers=weighted)) == ("ja", False)
    assert choose_language(_request(headers={"Accept-Language": "fr-FR, de"})) == ("ja", False)
    assert choose_language(_request(headers={"Accept-Language": "en;q=0"})) == ("ja", False)
    assert choose_language(_request("/portal/?lang=xx")) == ("ja", False)
    assert choose_language(_request(headers={"Accept-Language": "en;q=abc"})) == ("ja", False)


class Clock:
    """A clock moved by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def _save(store: ServerSessions, data: dict[str, str]) -> tuple[str, web.Response]:
    session = Session(None, data=None, new=True)
    session.update(data)
    response = web.Response()
    await store.save_session(_request(), response, session)
    return response.cookies[COOKIE_NAME].value, response


def _with_cookie(key: str) -> web.Request:
    return _request(headers={"Cookie": f"{COOKIE_NAME}={key}"})


async def test_a_session_ends_after_the_idle_time_and_keeps_nothing_in_the_cookie() -> None:
    """Requests keep a session alive; the idle time without one ends it on the server."""
    clock = Clock()
    store = ServerSessions(clock=clock, idle=timedelta(minutes=30), capacity=10)
    key, response = await _save(store, {"token_hash": "h" * 64})
    morsel = response.cookies[COOKIE_NAME]
    assert morsel["httponly"] and morsel["samesite"] == "Strict" and not morsel["secure"]
    assert morsel["path"] == "/portal/"
    assert "h" * 64 not in key
    clock.now += timedelta(minutes=29)
    assert (await store.load_session(_with_cookie(key)))["token_hash"] == "h" * 64
    clock.now += timedelta(minutes=29)  # idle time counts from the last request
    assert not (await store.load_session(_with_cookie(key))).new
    clock.now += timedelta(minutes=30)
    assert (await store.load_session(_with_cookie(key))).new
    assert len(store) == 0


async def test_the_store_is_bounded_and_forgets_on_sign_out() -> None:
    """The least recently seen sessions go first; `forget` ends one at once."""
    clock = Clock()
    store = ServerSessions(clock=clock, idle=timedelta(minutes=30), capacity=3)
    keys = []
    for n in range(5):
        clock.now += timedelta(seconds=1)
        keys.append((await _save(store, {"n": str(n)}))[0])
    assert len(store) == 3
    assert (await store.load_session(_with_cookie(keys[0]))).new
    kept = await store.load_session(_with_cookie(keys[4]))
    assert kept["n"] == "4"
    store.forget(kept)
    assert (await store.load_session(_with_cookie(keys[4]))).new


async def test_the_cookie_is_secure_when_the_setting_says_tls_ends_in_front() -> None:
    """`portal_secure_cookies`: Secure even when the broker itself sees plain HTTP."""
    store = ServerSessions(
        clock=Clock(), idle=timedelta(minutes=30), capacity=3, always_secure=True
    )
    _, response = await _save(store, {"csrf": "x"})
    assert response.cookies[COOKIE_NAME]["secure"]


async def test_the_cookie_is_secure_under_tls() -> None:
    """A request that came over TLS gets a Secure session cookie."""
    store = ServerSessions(clock=Clock(), idle=timedelta(minutes=30), capacity=3)
    session = Session(None, data=None, new=True)
    session["csrf"] = "x"
    response = web.Response()
    tls = make_mocked_request("GET", "/portal/", sslcontext=ssl.create_default_context())
    assert tls.secure
    await store.save_session(tls, response, session)
    assert response.cookies[COOKIE_NAME]["secure"]
