"""Server-side portal sessions: the cookie names a session, the session stays here.

The cookie holds one random identifier and nothing else (no token, no user);
it is HttpOnly, SameSite=Strict, scoped to /portal/, and Secure whenever the
request came over TLS (or always, `portal_secure_cookies`). What a session
remembers (the signed-in token's SHA-256, never the token; the CSRF token)
lives in this replica's memory: a session ends after `portal_session_idle`
without a request, on sign-out, and when the replica restarts. Several replicas
behind one address need sticky sessions (docs/portal.md).
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from aiohttp_session import AbstractStorage, Session, SessionData

from broker.services.clock import Clock

__all__ = ["COOKIE_NAME", "ServerSessions"]

COOKIE_NAME = "council_portal"
COOKIE_PATH = "/portal/"


@dataclass
class _Entry:
    data: SessionData
    seen: datetime


class ServerSessions(AbstractStorage):
    """aiohttp-session storage that keeps every session in memory, bounded and expiring."""

    def __init__(
        self, *, clock: Clock, idle: timedelta, capacity: int, always_secure: bool = False
    ) -> None:
        super().__init__(
            cookie_name=COOKIE_NAME, path=COOKIE_PATH, httponly=True, samesite="Strict"
        )
        self._clock = clock
        self._idle = idle
        self._capacity = capacity
        self._always_secure = always_secure
        # Least recently seen first: the first to go when the store is full.
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def load_session(self, request: web.Request) -> Session:
        """The session the cookie names, if it exists and has not been idle too long."""
        key = self.load_cookie(request)
        entry = self._entries.get(key) if key else None
        now = self._clock()
        if key is None or entry is None:
            return Session(None, data=None, new=True)
        if now - entry.seen >= self._idle:
            del self._entries[key]  # idle expiry: a later request starts afresh
            return Session(None, data=None, new=True)
        entry.seen = now
        self._entries.move_to_end(key)
        return Session(key, data=entry.data, new=False)

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        """Store a changed session; an emptied one (sign-out) is deleted here and in the cookie."""
        key = session.identity
        if session.empty:
            if key is not None:
                self._entries.pop(key, None)
            response.del_cookie(COOKIE_NAME, path=COOKIE_PATH)
            return
        if key is None:
            key = secrets.token_urlsafe(32)
            session.set_new_identity(key)
        self._entries[key] = _Entry(self._get_session_data(session), self._clock())
        self._entries.move_to_end(key)
        self._evict()
        response.set_cookie(
            COOKIE_NAME,
            key,
            path=COOKIE_PATH,
            httponly=True,
            samesite="Strict",
            secure=self._always_secure or request.secure,
        )

    def forget(self, session: Session) -> None:
        """End `session` on the server now (sign-out, and before signing in afresh)."""
        if session.identity is not None:
            self._entries.pop(session.identity, None)

    def _evict(self) -> None:
        now = self._clock()
        while self._entries:
            oldest_key, oldest = next(iter(self._entries.items()))
            if len(self._entries) <= self._capacity and now - oldest.seen < self._idle:
                break
            del self._entries[oldest_key]
