"""CouncilClient: one async method per endpoint of the broker's HTTP API (docs/api.md)."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from clients.sdk._errors import TransportError, UnexpectedResponse, error_with_details
from clients.sdk._models import (
    AuditEvent,
    Checkpoint,
    ConsentRequest,
    Consultation,
    Handler,
    Item,
    ItemDraft,
    ItemSummary,
    Member,
    Obligation,
    Page,
    Report,
    Resolution,
    RosterEntry,
    Scope,
    ScopeResult,
    SubmitResult,
    User,
    Webhook,
)
from clients.sdk._stream import (
    RESUMABLE,
    StreamClosed,
    StreamEvent,
    server_sent_events,
    stream_event,
)
from clients.sdk._transport import (
    AiohttpTransport,
    Response,
    StreamingTransport,
    TlsOptions,
    Transport,
)

__all__ = ["USER_AGENT", "CouncilClient"]

USER_AGENT = "council-sdk/0.1"
"""The User-Agent the SDK sends, so the broker's logs can tell its clients apart."""

M = TypeVar("M", bound=BaseModel)
ParamValue = str | int | datetime | None


def _segment(value: str) -> str:
    # An id is one path segment: "a/../b" must not walk to another endpoint, and an
    # empty id would silently hit the collection instead of one of its members.
    if not isinstance(value, str) or not value:
        raise ValueError(f"an id must be a non-empty string, not {value!r}")
    return quote(value, safe="")


def _params(values: Mapping[str, ParamValue]) -> dict[str, str] | None:
    query: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        query[name] = value.isoformat() if isinstance(value, datetime) else str(value)
    return query or None


def _parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # Locations and reasons only: the offending values may be item content.
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'body'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)[:3]
        )
        raise UnexpectedResponse(
            200,
            "unexpected_response",
            f"the broker's answer does not match {model.__name__}: {problems}",
        ) from exc


class CouncilClient:
    """An async client for one broker, acting as the user whose ``token`` it holds.

    Use it as an async context manager (or call :meth:`aclose`)::

        async with CouncilClient("https://broker.example", token) as council:
            page = await council.inbox()

    ``token`` may be None for the public endpoints (:meth:`health`, :meth:`roster`).
    ``transport`` replaces the network (see :class:`CallableTransport`); a transport
    passed in is not closed by the client, the default one is. ``timeout`` (seconds)
    and ``ssl_context`` (the certificates to trust, e.g.
    ``ssl.create_default_context(cafile="council-ca.pem")``) apply to the default
    transport. Without an ``ssl_context``, ``tls`` names the CA to trust and the
    client certificate to present (by default ``COUNCIL_CA``, ``COUNCIL_CLIENT_CERT``
    and ``COUNCIL_CLIENT_KEY`` from the environment, see :class:`TlsOptions`). Every
    method raises :class:`CouncilError` (or a subclass) when the call fails; the token
    never appears in ``repr``.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        transport: Transport | None = None,
        timeout: float = 30,
        ssl_context: ssl.SSLContext | None = None,
        tls: TlsOptions | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._owns_transport = transport is None
        self._transport: Transport = (
            transport
            if transport is not None
            else AiohttpTransport(
                timeout,
                ssl_context=ssl_context,
                tls=tls if tls is not None else TlsOptions.from_environment(),
            )
        )

    def __repr__(self) -> str:
        return f"CouncilClient({self.base_url!r}, token={'***' if self._token else None})"

    async def __aenter__(self) -> CouncilClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release the network resources of the default transport (a no-op for an injected one)."""
        if self._owns_transport and isinstance(self._transport, AiohttpTransport):
            await self._transport.aclose()

    # -- plumbing ---------------------------------------------------------------

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        headers.update(extra or {})
        return headers

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any | None = None,
        params: Mapping[str, ParamValue] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        answer = await self._transport.request(
            method,
            self.base_url + path,
            headers=self._headers(headers),
            json=json,
            params=_params(params or {}),
        )
        if not 200 <= answer.status < 300:
            raise error_with_details(answer)
        return answer

    async def _json(
        self,
        method: str,
        path: str,
        *,
        json: Any | None = None,
        params: Mapping[str, ParamValue] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        answer = await self._send(method, path, json=json, params=params, headers=headers)
        try:
            return answer.json()
        except ValueError as exc:
            raise UnexpectedResponse(
                answer.status, "unexpected_response", "the broker's answer is not JSON"
            ) from exc

    async def _object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        data = await self._json(method, path, **kwargs)
        if not isinstance(data, dict):
            raise UnexpectedResponse(
                200, "unexpected_response", "the broker's answer is not a JSON object"
            )
        return data

    async def _pages(
        self, path: str, model: type[Page[M]], params: Mapping[str, ParamValue]
    ) -> AsyncIterator[M]:
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            page = _parse(model, await self._json("GET", path, params={**params, "cursor": cursor}))
            for entry in page.items:
                yield entry
            if page.next_cursor is None:
                return
            if page.next_cursor in seen:
                # A cursor that comes back would loop forever; stop and say so.
                raise UnexpectedResponse(
                    200, "unexpected_response", f"the broker repeated cursor {page.next_cursor!r}"
                )
            seen.add(page.next_cursor)
            cursor = page.next_cursor

    # -- operations -------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        """``GET /healthz``: whether the broker is up (no token needed)."""
        return await self._object("GET", "/healthz")

    # -- members, users, handlers ----------------------------------------------

    async def create_member(self, **fields: Any) -> Member:
        """``POST /v1/members`` (coordinator): admit a member.

        ``fields``: ``name``, ``category``, ``tier`` and the attributes (docs/api.md).
        """
        return _parse(Member, await self._json("POST", "/v1/members", json=fields))

    async def list_members(
        self, *, cursor: str | None = None, limit: int | None = None
    ) -> Page[Member]:
        """``GET /v1/members`` (coordinator): one page of every body.

        The coordinator and the secretariat are listed too, each with its ``kind``.
        """
        data = await self._json("GET", "/v1/members", params={"cursor": cursor, "limit": limit})
        return _parse(Page[Member], data)

    async def get_member(self, member_id: str) -> Member:
        """``GET /v1/members/{id}``: one member."""
        return _parse(Member, await self._json("GET", f"/v1/members/{_segment(member_id)}"))

    async def update_member(self, member_id: str, **fields: Any) -> Member:
        """``PATCH /v1/members/{id}``: change a member's fields.

        The coordinator may change anything; the member's own admin only
        ``listed``, ``refuses_secrets`` and ``early_warning``.
        """
        path = f"/v1/members/{_segment(member_id)}"
        return _parse(Member, await self._json("PATCH", path, json=fields))

    async def create_user(
        self,
        member_id: str,
        name: str,
        role: str,
        *,
        expires_in: str | None = None,
        chair: bool = False,
    ) -> tuple[User, str]:
        """``POST /v1/members/{id}/users``: a new user and its token.

        ``expires_in`` (an ISO 8601 duration such as ``"P90D"``) makes the token
        stop working that long from now. A steering-committee seat is
        ``role="committee"`` on the secretariat's id, ``chair=True`` for the
        chair (art. 11(5)). The broker shows the token only once: store it now.
        """
        path = f"/v1/members/{_segment(member_id)}/users"
        body: dict[str, Any] = {"name": name, "role": role}
        if expires_in is not None:
            body["expires_in"] = expires_in
        if chair:
            body["chair"] = True
        return _user_and_token(await self._object("POST", path, json=body))

    async def rotate_token(
        self, member_id: str, user_id: str, *, expires_in: str | None = None
    ) -> tuple[User, str]:
        """``POST /v1/members/{id}/users/{user_id}/token``: a new token for the user.

        The old token stops working at once (no grace period) and the user's
        open streams close. ``expires_in`` gives the new token a lifetime from
        now; without it the expiry stays as it was. Shown once: store it now.
        """
        path = f"/v1/members/{_segment(member_id)}/users/{_segment(user_id)}/token"
        body: dict[str, Any] = {} if expires_in is None else {"expires_in": expires_in}
        return _user_and_token(await self._object("POST", path, json=body))

    async def revoke_user(self, member_id: str, user_id: str) -> User:
        """``POST /v1/members/{id}/users/{user_id}/revoke``: the user's token stops working."""
        path = f"/v1/members/{_segment(member_id)}/users/{_segment(user_id)}/revoke"
        data = await self._object("POST", path, json={})
        return _parse(User, data.get("user", data))

    async def list_users(
        self, member_id: str, *, cursor: str | None = None, limit: int | None = None
    ) -> Page[User]:
        """``GET /v1/members/{id}/users`` (its admins, the coordinator): one page of
        users, with each token's expiry and when it was last used (to within a minute)."""
        path = f"/v1/members/{_segment(member_id)}/users"
        data = await self._json("GET", path, params={"cursor": cursor, "limit": limit})
        return _parse(Page[User], data)

    async def add_handler(
        self, member_id: str, user_id: str, effective_from: datetime | str | None = None
    ) -> Handler:
        """``POST /v1/members/{id}/handlers``: register a handler of secrets.

        The registration starts now, or at ``effective_from`` when the change is
        notified in advance (art. 6(8)).
        """
        body: dict[str, Any] = {"user_id": user_id}
        if effective_from is not None:
            body["effective_from"] = (
                effective_from.isoformat()
                if isinstance(effective_from, datetime)
                else effective_from
            )
        path = f"/v1/members/{_segment(member_id)}/handlers"
        return _parse(Handler, await self._json("POST", path, json=body))

    async def remove_handler(self, member_id: str, user_id: str) -> Handler | None:
        """``DELETE /v1/members/{id}/handlers/{user_id}``: end a handler registration.

        Returns the ended registration, or None if the broker sends no body.
        """
        path = f"/v1/members/{_segment(member_id)}/handlers/{_segment(user_id)}"
        data = await self._json("DELETE", path)
        return None if data is None else _parse(Handler, data)

    async def list_handlers(self, member_id: str) -> Page[Handler]:
        """``GET /v1/members/{id}/handlers``: the member's handler registrations."""
        path = f"/v1/members/{_segment(member_id)}/handlers"
        return _parse(Page[Handler], await self._json("GET", path))

    async def withdraw_member(self, member_id: str, reason: str | None = None) -> Member:
        """``POST /v1/members/{id}/withdrawal`` (the member's own admin): leave the
        council at once (art. 7). The member's tokens stop working."""
        path = f"/v1/members/{_segment(member_id)}/withdrawal"
        body = {} if reason is None else {"reason": reason}
        return _parse(Member, await self._json("POST", path, json=body))

    async def me(self) -> dict[str, Any]:
        """``GET /v1/me``: the signed-in user (``user_id``, ``name``, ``role``,
        ``member_id``, ``member_kind``, ``tier``, ``is_handler``)."""
        return await self._object("GET", "/v1/me")

    async def taxii_collections(self) -> list[dict[str, Any]]:
        """``GET /taxii2/council/collections/``: the TAXII 2.1 collections this user may
        use (``id``, ``alias``, ``title``, ``can_read``, ``can_write``)."""
        data = await self._object(
            "GET",
            "/taxii2/council/collections/",
            headers={"Accept": "application/taxii+json;version=2.1"},
        )
        found = data.get("collections", [])
        return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []

    async def add_webhook(self, member_id: str, url: str) -> Webhook:
        """``POST /v1/members/{id}/webhooks`` (its admins): register a webhook.

        The answer's ``secret`` (the HMAC key deliveries are signed with) is shown
        only this once: store it now.
        """
        path = f"/v1/members/{_segment(member_id)}/webhooks"
        return _parse(Webhook, await self._json("POST", path, json={"url": url}))

    async def list_webhooks(self, member_id: str) -> Page[Webhook]:
        """``GET /v1/members/{id}/webhooks`` (its admins): webhooks with failures, dead letters."""
        path = f"/v1/members/{_segment(member_id)}/webhooks"
        return _parse(Page[Webhook], await self._json("GET", path))

    async def remove_webhook(self, member_id: str, webhook_id: str) -> dict[str, Any]:
        """``DELETE /v1/members/{id}/webhooks/{webhook_id}`` (its admins): stop a webhook."""
        path = f"/v1/members/{_segment(member_id)}/webhooks/{_segment(webhook_id)}"
        return await self._object("DELETE", path)

    async def roster(self) -> Page[RosterEntry]:
        """``GET /v1/roster`` (public): the listed, active members (art. 25)."""
        return _parse(Page[RosterEntry], await self._json("GET", "/v1/roster"))

    # -- items -------------------------------------------------------------------

    async def submit(
        self, item: ItemDraft | dict[str, Any], idempotency_key: str | None = None
    ) -> SubmitResult:
        """``POST /v1/items``: submit an item; returns its id, reach and what was dropped.

        A dict is sent exactly as given (so a test can send what the broker must
        refuse); an :class:`ItemDraft` is validated first. With ``idempotency_key``
        a retry of the same submission is answered with the first result.
        """
        body = item.to_json() if isinstance(item, ItemDraft) else item
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else None
        return _parse(
            SubmitResult, await self._json("POST", "/v1/items", json=body, headers=headers)
        )

    async def misp_proposal(self, event: dict[str, Any]) -> dict[str, Any]:
        """``POST /misp/proposals``: what a MISP event would become as an item (title,
        TLP, kind, confidence, scope, number of STIX objects), without submitting it.
        Submit it with ``submit({"misp_event": event, "secret": ..., ...})``."""
        return await self._object("POST", "/misp/proposals", json={"misp_event": event})

    async def get_item(self, item_id: str) -> Item:
        """``GET /v1/items/{id}``: the item, decrypted, with the handling this reader is allowed."""
        return _parse(Item, await self._json("GET", f"/v1/items/{_segment(item_id)}"))

    async def inbox(
        self,
        limit: int = 50,
        order: Literal["newest", "oldest"] = "newest",
        cursor: str | None = None,
    ) -> Page[ItemSummary]:
        """``GET /v1/inbox``: one page of what the caller may open.

        Newest first unless ``order="oldest"``; pass ``cursor`` for the next page.
        """
        data = await self._json("GET", "/v1/inbox", params=self._inbox_params(limit, order, cursor))
        return _parse(Page[ItemSummary], data)

    @staticmethod
    def _inbox_params(limit: int, order: str, cursor: str | None) -> dict[str, ParamValue]:
        if order not in ("newest", "oldest"):
            raise ValueError(f"order must be 'newest' or 'oldest', not {order!r}")
        # Newest first is the broker's default (docs/api.md); only the other order is named.
        return {"limit": limit, "order": "oldest" if order == "oldest" else None, "cursor": cursor}

    async def iter_inbox(
        self, limit: int = 50, order: Literal["newest", "oldest"] = "newest"
    ) -> AsyncGenerator[ItemSummary, None]:
        """Every inbox entry, following ``next_cursor`` page by page (``limit`` per page)."""
        async for entry in self._pages(
            "/v1/inbox", Page[ItemSummary], self._inbox_params(limit, order, None)
        ):
            yield entry

    async def change_scope(self, item_id: str, scope: Scope | dict[str, Any]) -> ScopeResult:
        """``POST /v1/items/{id}/scope`` (provider): a new scope version of the item.

        Widening a derived item may wait for its sources' consents (art. 17(3)).
        """
        body = scope.model_dump(mode="json") if isinstance(scope, Scope) else scope
        path = f"/v1/items/{_segment(item_id)}/scope"
        return _parse(ScopeResult, await self._json("POST", path, json={"scope": body}))

    async def consent(self, source_id: str, derived_item_id: str) -> dict[str, Any]:
        """``POST /v1/items/{source_id}/consents``: consent to a derived item.

        As the source's provider, let ``derived_item_id`` reach its full scope.
        """
        path = f"/v1/items/{_segment(source_id)}/consents"
        return await self._object("POST", path, json={"derived_item_id": derived_item_id})

    async def consent_requests(self) -> Page[ConsentRequest]:
        """``GET /v1/consents``: derived items waiting for the caller's member to consent."""
        return _parse(Page[ConsentRequest], await self._json("GET", "/v1/consents"))

    async def withdraw(self, item_id: str) -> dict[str, Any]:
        """``POST /v1/items/{id}/withdraw`` (provider): destroy the item's content.

        Metadata and the audit trail remain.
        """
        return await self._object("POST", f"/v1/items/{_segment(item_id)}/withdraw", json={})

    async def access_log(
        self, item_id: str, *, cursor: str | None = None, limit: int | None = None
    ) -> Page[AuditEvent]:
        """``GET /v1/items/{id}/access-log`` (provider, coordinator): every access to the item."""
        path = f"/v1/items/{_segment(item_id)}/access-log"
        data = await self._json("GET", path, params={"cursor": cursor, "limit": limit})
        return _parse(Page[AuditEvent], data)

    async def break_glass(self, item_id: str, reason: str) -> Item:
        """``POST /v1/items/{id}/break-glass`` (secretariat): read one item.

        The ``reason`` is audited and shown to the provider (art. 14(3)).
        """
        path = f"/v1/items/{_segment(item_id)}/break-glass"
        return _parse(Item, await self._json("POST", path, json={"reason": reason}))

    # -- audit -------------------------------------------------------------------

    async def audit(
        self,
        *,
        item: str | None = None,
        member: str | None = None,
        user: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[AuditEvent]:
        """``GET /v1/audit`` (secretariat, coordinator): one page of audit events.

        Only events matching every filter given are returned.
        """
        params: dict[str, ParamValue] = {
            "item": item,
            "member": member,
            "user": user,
            "action": action,
            "outcome": outcome,
            "since": since,
            "until": until,
            "cursor": cursor,
            "limit": limit,
        }
        return _parse(Page[AuditEvent], await self._json("GET", "/v1/audit", params=params))

    async def audit_export(self) -> AsyncGenerator[dict[str, Any], None]:
        """``GET /v1/audit/export``: every audit event as a dict, read line by line as it streams.

        Break out early through ``contextlib.aclosing(client.audit_export())`` so
        the connection is released at once.
        """
        url = self.base_url + "/v1/audit/export"
        headers = self._headers({"Accept": "application/jsonl, application/x-ndjson"})
        if not isinstance(self._transport, StreamingTransport):
            answer = await self._transport.request(
                "GET", url, headers=headers, json=None, params=None
            )
            if not 200 <= answer.status < 300:
                raise error_with_details(answer)
            for record in _json_lines([answer.body]):
                yield record
            return
        async with self._transport.stream("GET", url, headers=headers, params=None) as stream:
            if not 200 <= stream.status < 300:
                raise error_with_details(await stream.read())
            async for record in _ajson_lines(stream.aiter_bytes()):
                yield record

    async def follow(
        self,
        cursor: str | None = None,
        *,
        reconnects: int = 5,
        on_retry: Callable[[TransportError, int, float], None] | None = None,
    ) -> AsyncGenerator[StreamEvent, None]:
        """``GET /v1/stream`` (Server-Sent Events): the events the caller may see, live.

        Starts after ``cursor`` (an event's ``id``; None: from now on, and so
        again on a reconnection before any event arrived). When the connection
        drops, or the broker ends the stream because the client fell behind or
        the broker restarts, it resumes from the last event received, without
        gaps or repeats; after ``reconnects`` failed attempts in a row it raises
        the TransportError. Before each new attempt it calls
        ``on_retry(error, attempt, delay)`` (attempt 1 is the first retry; the
        delay in seconds doubles up to 30). Raises :class:`StreamClosed` when the broker ends
        the stream for good (``access_changed``). Break out through
        ``contextlib.aclosing(client.follow())`` to release the connection at once.
        """
        if not isinstance(self._transport, StreamingTransport):
            raise TypeError("following the stream needs a streaming transport")
        url = self.base_url + "/v1/stream"
        headers = self._headers({"Accept": "text/event-stream"})
        last, failures = cursor, 0
        while True:
            reason = "connection_lost"
            params = None if last is None else {"cursor": last}
            try:
                async with self._transport.stream(
                    "GET", url, headers=headers, params=params
                ) as sse:
                    if not 200 <= sse.status < 300:
                        raise error_with_details(await sse.read())
                    failures = 0
                    async for message in server_sent_events(sse.aiter_bytes()):
                        if message.event == "closed":
                            reason = message.data
                            break
                        event = stream_event(message)
                        if last is not None and _after(last) >= _after(event.id):
                            continue  # at-least-once: already seen
                        last = event.id
                        yield event
            except TransportError as lost:
                failures += 1
                if failures > reconnects:
                    raise
                delay = min(2.0 ** (failures - 1), 30.0)
                if on_retry is not None:
                    on_retry(lost, failures, delay)
                await asyncio.sleep(delay)
                continue
            if reason != "connection_lost" and reason not in RESUMABLE:
                raise StreamClosed(reason)

    async def latest_checkpoint(self) -> Checkpoint:
        """``GET /v1/audit/checkpoints/latest``: the newest signed checkpoint of the audit chain."""
        return _parse(Checkpoint, await self._json("GET", "/v1/audit/checkpoints/latest"))

    async def audit_keys(self) -> dict[str, Any]:
        """``GET /v1/audit/keys``: the checkpoint public keys; save it for ``--public-key``."""
        return await self._object("GET", "/v1/audit/keys")

    # -- task force and feedback --------------------------------------------------

    async def obligations(self) -> list[Obligation]:
        """``GET /v1/obligations``: everything the caller's member owes, with due times.

        Every page is fetched.
        """
        return [entry async for entry in self._pages("/v1/obligations", Page[Obligation], {})]

    async def answer(
        self, item_id: str, verdict: str, comment: str | None = None
    ) -> dict[str, Any]:
        """``POST /v1/items/{id}/feedback``: answer an item.

        Tier two: ``came``, ``not_came``, ``unknown``; tier one: ``confirm``,
        ``refute``, ``additional_info``. The broker decides which the caller owes.
        """
        body: dict[str, Any] = {"verdict": verdict}
        if comment is not None:
            body["comment"] = comment
        return await self._object("POST", f"/v1/items/{_segment(item_id)}/feedback", json=body)

    async def feedback(self, item_id: str) -> dict[str, Any]:
        """``GET /v1/items/{id}/feedback``: the answers to an item.

        Individual answers for the provider and coordinator; aggregate counts
        for the rest of the tier-one group.
        """
        return await self._object("GET", f"/v1/items/{_segment(item_id)}/feedback")

    async def ledger(self, period: str | None = None) -> dict[str, Any]:
        """``GET /v1/ledger``: the contribution ledger.

        For ``period``, or the broker's current period if None.
        """
        return await self._object("GET", "/v1/ledger", params={"period": period})

    async def consult(self, title: str, body: str, reveal_identity: bool = False) -> Consultation:
        """``POST /v1/consultations``: ask the coordinator and tier one privately.

        The caller stays anonymous to all but the coordinator unless
        ``reveal_identity`` (art. 16(3)).
        """
        payload = {"title": title, "body": body, "reveal_identity": reveal_identity}
        return _parse(Consultation, await self._json("POST", "/v1/consultations", json=payload))

    async def reply_consultation(self, consultation_id: str, body: str) -> dict[str, Any]:
        """``POST /v1/consultations/{id}/replies``: answer a consultation privately."""
        path = f"/v1/consultations/{_segment(consultation_id)}/replies"
        return await self._object("POST", path, json={"body": body})

    async def list_consultations(
        self, *, cursor: str | None = None, limit: int | None = None
    ) -> Page[Consultation]:
        """``GET /v1/consultations``: the consultations the caller may see, newest first."""
        data = await self._json(
            "GET", "/v1/consultations", params={"cursor": cursor, "limit": limit}
        )
        return _parse(Page[Consultation], data)

    async def reveal_consultation(self, consultation_id: str) -> dict[str, Any]:
        """``POST /v1/consultations/{id}/reveal``: the consulting member reveals itself to tier one.

        Only the member that asked may; it cannot be undone (art. 16(3)).
        """
        path = f"/v1/consultations/{_segment(consultation_id)}/reveal"
        return await self._object("POST", path, json={})

    async def get_consultation(self, consultation_id: str) -> Consultation:
        """``GET /v1/consultations/{id}``: a consultation with the replies the caller may see."""
        path = f"/v1/consultations/{_segment(consultation_id)}"
        return _parse(Consultation, await self._json("GET", path))

    # -- governance ----------------------------------------------------------------

    async def create_resolution(self, kind: str, title: str, **fields: Any) -> Resolution:
        """``POST /v1/resolutions`` (the secretariat, the chair): put a matter to the vote.

        ``fields``: ``text``, ``subject_member_id``, ``closes_at``, ``purpose``,
        ``scope``, ``target_member_ids`` as the kind needs (docs/api.md).
        """
        body = {"kind": kind, "title": title, **_unset_dropped(fields)}
        return _parse(Resolution, await self._json("POST", "/v1/resolutions", json=body))

    async def resolutions(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[Resolution]:
        """``GET /v1/resolutions``: the resolutions the caller may see (art. 27)."""
        params = {"status": status, "kind": kind, "cursor": cursor, "limit": limit}
        return _parse(Page[Resolution], await self._json("GET", "/v1/resolutions", params=params))

    async def get_resolution(self, resolution_id: str) -> Resolution:
        """``GET /v1/resolutions/{id}``: one resolution, with its tally."""
        path = f"/v1/resolutions/{_segment(resolution_id)}"
        return _parse(Resolution, await self._json("GET", path))

    async def vote(
        self, resolution_id: str, vote: str | None = None, *, proxy_to: str | None = None
    ) -> Resolution:
        """``POST /v1/resolutions/{id}/votes``: ``yes``, ``no`` or ``abstain`` — or, for
        an assembly matter, ``proxy_to`` a member that votes for the caller's (art. 10)."""
        if (vote is None) == (proxy_to is None):
            raise ValueError("give either a vote or proxy_to, not both")
        body = {"vote": vote} if vote is not None else {"proxy_to": proxy_to}
        path = f"/v1/resolutions/{_segment(resolution_id)}/votes"
        return _parse(Resolution, await self._json("POST", path, json=body))

    async def recuse(self, resolution_id: str, reason: str) -> Resolution:
        """``POST /v1/resolutions/{id}/recusal``: declare a special interest; the seat then
        has no vote on the matter (art. 11(6))."""
        path = f"/v1/resolutions/{_segment(resolution_id)}/recusal"
        return _parse(Resolution, await self._json("POST", path, json={"reason": reason}))

    async def refuse(self, resolution_id: str, reason: str) -> Resolution:
        """``POST /v1/resolutions/{id}/refusal`` (the chair): refuse an ordinary
        resolution while it is open (art. 11(9))."""
        path = f"/v1/resolutions/{_segment(resolution_id)}/refusal"
        return _parse(Resolution, await self._json("POST", path, json={"reason": reason}))

    async def close_resolution(self, resolution_id: str) -> Resolution:
        """``POST /v1/resolutions/{id}/close`` (the secretariat, the chair): decide now."""
        path = f"/v1/resolutions/{_segment(resolution_id)}/close"
        return _parse(Resolution, await self._json("POST", path, json={}))

    async def publish_resolution(self, resolution_id: str) -> Resolution:
        """``POST /v1/resolutions/{id}/publish`` (the secretariat): every active member
        then sees the decision's title, outcome, tally and recused seats."""
        path = f"/v1/resolutions/{_segment(resolution_id)}/publish"
        return _parse(Resolution, await self._json("POST", path, json={}))

    async def report(
        self,
        kind: str,
        text: str,
        *,
        item_id: str | None = None,
        member_id: str | None = None,
    ) -> Report:
        """``POST /v1/reports``: tell the secretariat of a suspected ``leak``,
        ``scope_breach``, ``misuse`` or ``other`` violation (art. 29).

        Only the reporter and the secretariat ever see the report.
        """
        body: dict[str, Any] = {"kind": kind, "text": text}
        if item_id is not None:
            body["item_id"] = item_id
        if member_id is not None:
            body["member_id"] = member_id
        return _parse(Report, await self._json("POST", "/v1/reports", json=body))

    async def reports(self, *, cursor: str | None = None, limit: int | None = None) -> Page[Report]:
        """``GET /v1/reports``: one page, newest first (the caller's own; all for the
        secretariat)."""
        data = await self._json("GET", "/v1/reports", params={"cursor": cursor, "limit": limit})
        return _parse(Page[Report], data)

    async def get_report(self, report_id: str) -> Report:
        """``GET /v1/reports/{id}``."""
        return _parse(Report, await self._json("GET", f"/v1/reports/{_segment(report_id)}"))

    async def update_report(self, report_id: str, status: str, note: str | None = None) -> Report:
        """``PATCH /v1/reports/{id}`` (the secretariat): ``received`` ->
        ``investigating`` -> ``closed``, with an optional note for the reporter."""
        body: dict[str, Any] = {"status": status}
        if note is not None:
            body["note"] = note
        path = f"/v1/reports/{_segment(report_id)}"
        return _parse(Report, await self._json("PATCH", path, json=body))


def _unset_dropped(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields given a value (None means "leave it out")."""
    return {name: value for name, value in fields.items() if value is not None}


def _after(cursor: str) -> int:
    """A stream cursor's position (cursors are increasing whole numbers)."""
    try:
        return int(cursor)
    except ValueError:
        raise UnexpectedResponse(
            200, "unexpected_response", f"a stream cursor is not a number: {cursor!r}"
        ) from None


def _decode_line(line: bytes) -> dict[str, Any] | None:
    line = line.strip()
    if not line:
        return None
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise UnexpectedResponse(
            200, "unexpected_response", "the audit export has a line that is not JSON"
        ) from exc
    if not isinstance(record, dict):
        raise UnexpectedResponse(
            200, "unexpected_response", "the audit export has a line that is not an object"
        )
    return record


def _json_lines(chunks: list[bytes]) -> list[dict[str, Any]]:
    records = (_decode_line(line) for line in b"".join(chunks).split(b"\n"))
    return [record for record in records if record is not None]


async def _ajson_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[dict[str, Any]]:
    pending = b""
    async for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            record = _decode_line(line)
            if record is not None:
                yield record
    # JSON Lines allows the last line without its newline.
    record = _decode_line(pending)
    if record is not None:
        yield record


def _user_and_token(data: dict[str, Any]) -> tuple[User, str]:
    token = data.get("token")
    if not isinstance(token, str):
        raise UnexpectedResponse(200, "unexpected_response", "the broker sent no token")
    return _parse(User, data.get("user")), token
