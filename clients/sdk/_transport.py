"""The transport seam: how the client talks HTTP, replaceable so tests need no sockets.

:class:`CouncilClient` only ever calls ``transport.request(...)`` (and
``transport.stream(...)`` when the transport has it, for the JSON Lines audit
export). :class:`AiohttpTransport` is the real one; :class:`CallableTransport`
turns a plain function ``Request -> Response`` into a transport, so a test can
play the server in a few lines.
"""

from __future__ import annotations

import asyncio
import inspect
import json as jsonlib
import os
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from clients.sdk._errors import TransportError

__all__ = [
    "AiohttpTransport",
    "CallableTransport",
    "Request",
    "RequestHandler",
    "Response",
    "StreamResponse",
    "StreamingTransport",
    "TlsOptions",
    "Transport",
]


def _lower_keys(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {name.lower(): value for name, value in (headers or {}).items()}


@dataclass(frozen=True)
class Response:
    """One complete HTTP answer: ``status``, ``headers`` (names lower-cased) and ``body``."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def __post_init__(self) -> None:
        # Header names are case-insensitive (RFC 9110 §5.1); one spelling keeps lookups simple.
        object.__setattr__(self, "headers", _lower_keys(self.headers))

    def json(self) -> Any:
        """The body decoded as JSON (None for an empty body); ValueError if it is not JSON."""
        if not self.body:
            return None
        return jsonlib.loads(self.body)

    @classmethod
    def from_json(
        cls, data: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Response:
        """A response whose body is ``data`` as JSON, with the JSON content type."""
        merged = {"content-type": "application/json", **_lower_keys(headers)}
        return cls(status, merged, jsonlib.dumps(data).encode())

    @classmethod
    def from_json_lines(cls, records: Iterable[Any], status: int = 200) -> Response:
        """A response whose body is ``records`` as JSON Lines (one JSON value per line)."""
        body = b"".join(jsonlib.dumps(record).encode() + b"\n" for record in records)
        return cls(status, {"content-type": "application/jsonl"}, body)


class StreamResponse:
    """An HTTP answer whose body is read as it arrives, chunk by chunk."""

    def __init__(
        self, status: int, headers: Mapping[str, str], chunks: AsyncIterator[bytes]
    ) -> None:
        self.status = status
        self.headers: Mapping[str, str] = _lower_keys(headers)
        self._chunks = chunks

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body's chunks, in order, as they arrive (each chunk may split a line)."""
        return self._chunks

    async def read(self) -> Response:
        """Read the rest of the body and return it as a complete :class:`Response`."""
        body = b"".join([chunk async for chunk in self._chunks])
        return Response(self.status, self.headers, body)


class Transport(Protocol):
    """Anything that can send one HTTP request and return the complete answer."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        json: Any | None,
        params: dict[str, str] | None,
    ) -> Response:
        """Send ``method url`` with ``headers``, a JSON body (None: no body) and query ``params``.

        Raise :class:`TransportError` when no answer arrives; return every
        answer, whatever its status, as a :class:`Response`.
        """
        ...


@runtime_checkable
class StreamingTransport(Transport, Protocol):
    """A transport that can also hand over a body as it arrives (for long exports)."""

    def stream(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        params: dict[str, str] | None,
    ) -> AbstractAsyncContextManager[StreamResponse]:
        """Open ``method url`` and yield the answer before its body has been read."""
        ...


@dataclass(frozen=True)
class TlsOptions:
    """How to trust a broker's certificate and, for mutual TLS, who to be.

    ``ca_file`` is a PEM file of the CA(s) to trust instead of the system's
    (a private CA made by ``council-broker tls init``); ``client_cert`` and
    ``client_key`` are the PEM certificate and key that name this client's
    user to a broker that requires one. Every field is optional.
    """

    ca_file: str | None = None
    client_cert: str | None = None
    client_key: str | None = None

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> TlsOptions:
        """``COUNCIL_CA``, ``COUNCIL_CLIENT_CERT`` and ``COUNCIL_CLIENT_KEY`` (empty: unset)."""
        env = os.environ if env is None else env
        return cls(
            ca_file=env.get("COUNCIL_CA") or None,
            client_cert=env.get("COUNCIL_CLIENT_CERT") or None,
            client_key=env.get("COUNCIL_CLIENT_KEY") or None,
        )

    def context(self) -> ssl.SSLContext | None:
        """An SSL context with these, or None when none is set (the system's trust).

        Raises :class:`TransportError` naming the file that does not load.
        """
        if not (self.ca_file or self.client_cert or self.client_key):
            return None
        if self.client_key and not self.client_cert:
            raise TransportError("a client key needs its certificate: set COUNCIL_CLIENT_CERT")
        try:
            context = ssl.create_default_context(cafile=self.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise TransportError(f"cannot load the CA file {self.ca_file}: {exc}") from None
        # The broker refuses older versions; refusing them here too fails fast.
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.client_cert:
            try:
                context.load_cert_chain(self.client_cert, self.client_key)
            except (OSError, ssl.SSLError) as exc:
                raise TransportError(
                    f"cannot load the client certificate {self.client_cert}: {exc}"
                ) from None
        return context


class AiohttpTransport:
    """The real transport: one :class:`aiohttp.ClientSession`, opened on first use.

    ``timeout`` bounds a whole request; for a stream it bounds each read, so a
    long export is not cut off while data keeps flowing. ``ssl_context`` decides
    which certificates an https broker may present (default: the system's CAs);
    build it with :func:`ssl.create_default_context` ``(cafile=...)`` to trust a
    council's own CA. Without one, ``tls`` (:class:`TlsOptions`) names the CA
    file to trust and the client certificate to present, and the context is
    built from it. Pass ``session`` to share one you manage yourself:
    :meth:`aclose` then leaves it open (and neither ``ssl_context`` nor ``tls``
    applies).
    """

    def __init__(
        self,
        timeout: float = 30,
        *,
        session: aiohttp.ClientSession | None = None,
        ssl_context: ssl.SSLContext | None = None,
        tls: TlsOptions | None = None,
    ) -> None:
        self._timeout = timeout
        self._session = session
        self._owns_session = session is None
        self._ssl_context = ssl_context
        self._tls = tls or TlsOptions()

    def _session_or_open(self) -> aiohttp.ClientSession:
        # Opened lazily: aiohttp wants its session created inside the running loop.
        if self._session is None or self._session.closed:
            if self._ssl_context is None:
                self._ssl_context = self._tls.context()
            connector = (
                aiohttp.TCPConnector(ssl=self._ssl_context)
                if self._ssl_context is not None
                else None
            )
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout), connector=connector
            )
            self._owns_session = True
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        json: Any | None,
        params: dict[str, str] | None,
    ) -> Response:
        """Send one request and read the whole answer (see :class:`Transport`)."""
        session = self._session_or_open()
        try:
            # encoded=True: the client already percent-encoded path segments; yarl
            # must not decode %2F back into a path separator.
            async with session.request(
                method, URL(url, encoded=True), headers=headers, json=json, params=params
            ) as answer:
                body = await answer.read()
                return Response(answer.status, dict(answer.headers), body)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _describe(exc, url) from exc

    @asynccontextmanager
    async def _stream(
        self, method: str, url: str, headers: dict[str, str], params: dict[str, str] | None
    ) -> AsyncIterator[StreamResponse]:
        session = self._session_or_open()
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self._timeout, sock_read=self._timeout
        )
        try:
            async with session.request(
                method, URL(url, encoded=True), headers=headers, params=params, timeout=timeout
            ) as answer:
                yield StreamResponse(answer.status, dict(answer.headers), _chunks(answer, url))
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _describe(exc, url) from exc

    def stream(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        params: dict[str, str] | None,
    ) -> AbstractAsyncContextManager[StreamResponse]:
        """Open one request and yield the answer as it arrives (see :class:`StreamingTransport`)."""
        return self._stream(method, url, headers, params)

    async def aclose(self) -> None:
        """Close the session, if this transport opened it."""
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None


async def _chunks(answer: aiohttp.ClientResponse, url: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in answer.content.iter_chunked(64 * 1024):
            yield chunk
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise _describe(exc, url) from exc


def _describe(exc: BaseException, url: str) -> TransportError:
    """The error a person can act on, instead of aiohttp's wording."""
    where = urlsplit(url)
    target = f"{where.scheme}://{where.netloc}"
    if isinstance(exc, asyncio.TimeoutError):
        return TransportError(
            f"no answer from the broker at {target} in time: is it overloaded, "
            "or is a firewall dropping the connection?",
            "timeout",
        )
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return TransportError(
            f"cannot trust the broker at {target}: its TLS certificate is not signed by a "
            f"CA this client trusts ({_ssl_reason(exc)})",
            "untrusted",
        )
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return TransportError(
            f"cannot find the broker at {target}: no such host (check the URL)", "unreachable"
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return TransportError(f"cannot reach the broker at {target}: is it running?", "unreachable")
    if isinstance(
        exc,
        aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError | aiohttp.ClientPayloadError,
    ):
        return TransportError(
            f"the server at {target} broke off the connection or does not speak HTTP: "
            "is it a council broker?",
            "broken",
        )
    return TransportError(f"cannot talk to the broker at {target}: {exc}")


def _ssl_reason(exc: BaseException) -> str:
    verify = getattr(exc, "certificate_error", None)
    reason = getattr(verify, "verify_message", None) or getattr(verify, "reason", None)
    return str(reason or "TLS handshake failed")


@dataclass(frozen=True)
class Request:
    """One request as a :class:`CallableTransport` handler sees it."""

    method: str
    url: str
    headers: Mapping[str, str]
    json: Any | None
    params: Mapping[str, str]

    @property
    def path(self) -> str:
        """The URL's path, still percent-encoded (``/v1/items/a%2Fb``)."""
        return urlsplit(self.url).path


RequestHandler = Callable[[Request], Response | Awaitable[Response]]
"""A stand-in server: takes a :class:`Request`, returns (or awaits to) a :class:`Response`."""


class CallableTransport:
    """A transport that hands each request to ``handler`` instead of the network.

    Every request is also kept, in order, in :attr:`requests` for assertions.
    ``chunk_size`` splits streamed bodies into chunks that small, to exercise
    readers that must reassemble lines across chunk boundaries.
    """

    def __init__(self, handler: RequestHandler, *, chunk_size: int | None = None) -> None:
        self._handler = handler
        self._chunk_size = chunk_size
        self.requests: list[Request] = []

    async def _answer(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        json: Any | None,
        params: dict[str, str] | None,
    ) -> Response:
        request = Request(method, url, dict(headers), json, dict(params or {}))
        self.requests.append(request)
        answer = self._handler(request)
        if inspect.isawaitable(answer):
            answer = await answer
        if not isinstance(answer, Response):
            raise TypeError(f"handler returned {type(answer).__name__}, not Response")
        return answer

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        json: Any | None,
        params: dict[str, str] | None,
    ) -> Response:
        """Record the request and return what the handler answers."""
        return await self._answer(method, url, headers, json, params)

    @asynccontextmanager
    async def _stream(
        self, method: str, url: str, headers: dict[str, str], params: dict[str, str] | None
    ) -> AsyncIterator[StreamResponse]:
        answer = await self._answer(method, url, headers, None, params)
        size = self._chunk_size or max(len(answer.body), 1)

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(answer.body), size):
                yield answer.body[start : start + size]

        yield StreamResponse(answer.status, answer.headers, chunks())

    def stream(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        params: dict[str, str] | None,
    ) -> AbstractAsyncContextManager[StreamResponse]:
        """Record the request and yield the handler's answer, ``chunk_size`` bytes at a time."""
        return self._stream(method, url, headers, params)
