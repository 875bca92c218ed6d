"""The errors the SDK raises, one per failure a caller can act on.

::

    CouncilError               anything the SDK raises about a call
    ├── TransportError         no HTTP answer at all: connection, DNS, TLS, timeout (status 0)
    ├── UnexpectedResponse     a 2xx answer whose body is not what the contract promises
    └── by HTTP status, from the server's ``{"error": {...}}`` body (docs/api.md, Conventions)
        ├── Unauthorized   401  bad or missing token
        ├── Forbidden      403  the caller may see the resource but not do this
        ├── NotFound       404  absent, or the caller may not see it (the broker never says which)
        ├── Conflict       409  a conflict of state
        ├── TooLarge       413
        ├── Invalid        422  invalid input; ``field`` names the offending path
        ├── RateLimited    429  ``retry_after`` holds the Retry-After seconds when given
        └── ServerError    5xx

Any other non-2xx status (400, 405, ...) raises a plain :class:`CouncilError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clients.sdk._transport import Response

__all__ = [
    "Conflict",
    "CouncilError",
    "Forbidden",
    "Invalid",
    "NotFound",
    "Problem",
    "RateLimited",
    "ServerError",
    "TooLarge",
    "TransportError",
    "Unauthorized",
    "UnexpectedResponse",
    "error_from_response",
    "error_with_details",
]


@dataclass(frozen=True)
class Problem:
    """One thing the broker found wrong with a request: the JSON ``field`` and the ``message``."""

    field: str
    message: str


class CouncilError(Exception):
    """A call to the broker failed; ``str(error)`` is the message meant for a person.

    Attributes:
        status: the HTTP status, or 0 when no answer came back.
        code: the server's snake_case error code (``http_<status>`` if it sent none).
        message: the explanation, for a person.
        field: the request field at fault (``"scope.groups"``), if the server named one.
        fix: the server's one line on what to do about it, if it sent one.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.fix = fix

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, field={self.field!r})"
        )

    problems: tuple[Problem, ...] = ()
    """Every problem the broker listed (a 422 names each JSON field at fault), in order."""
    reason: str | None = None
    """The policy's refusal code, when the broker may tell it (``submitter_not_handler``)."""
    from_broker: bool = True
    """Whether the answer carried the broker's ``{"error": {...}}`` body.

    False for a proxy's or another server's page: a sign the URL does not lead
    to a council broker (or that a proxy in front of it is failing).
    """


class TransportError(CouncilError):
    """The broker could not be reached, or the connection failed before a full answer.

    ``code`` says which: ``unreachable`` (refused, no route, unknown host),
    ``timeout``, ``untrusted`` (its TLS certificate is not trusted), ``broken``
    (the connection broke off, or what answered does not speak HTTP), or
    ``transport_error``.
    """

    def __init__(self, message: str, code: str = "transport_error") -> None:
        super().__init__(0, code, message)


class UnexpectedResponse(CouncilError):
    """The broker answered 2xx with a body this client cannot read (contract drift)."""


class Unauthorized(CouncilError):
    """401: the token is missing, wrong or revoked."""


class Forbidden(CouncilError):
    """403: the caller may see the resource but may not do this to it."""


class NotFound(CouncilError):
    """404: the resource does not exist or the caller may not see it (never which)."""


class Conflict(CouncilError):
    """409: the request conflicts with the current state (e.g. already withdrawn)."""


class TooLarge(CouncilError):
    """413: the request body is larger than the broker accepts."""


class Invalid(CouncilError):
    """422: the input is invalid; ``field`` names the offending path when known."""


class RateLimited(CouncilError):
    """429: too many requests; wait ``retry_after`` seconds (None if unstated) and retry."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        retry_after: float | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(status, code, message, field, fix)
        self.retry_after = retry_after


class ServerError(CouncilError):
    """5xx: the broker failed; the request may be retried later."""


_BY_STATUS: dict[int, type[CouncilError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
    422: Invalid,
}


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def _retry_after(value: str | None) -> float | None:
    # RFC 9110 §10.2.3 also allows an HTTP-date; the broker sends seconds, so a date
    # is reported as unknown rather than guessed at.
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def error_from_response(response: Response) -> CouncilError:
    """Build the error for a non-2xx ``response`` from its ``{"error": {...}}`` body.

    A body that is not the documented shape (a proxy's HTML page, say) still
    yields an error of the right class, with code ``http_<status>`` and the
    status's reason phrase as the message.
    """
    status = response.status
    code = f"http_{status}"
    message = _reason(status)
    field: str | None = None
    fix: str | None = None
    try:
        payload = json.loads(response.body) if response.body else None
    except ValueError:
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        if isinstance(error.get("code"), str) and error["code"]:
            code = error["code"]
        if isinstance(error.get("message"), str) and error["message"]:
            message = error["message"]
        if isinstance(error.get("field"), str) and error["field"]:
            field = error["field"]
        if isinstance(error.get("fix"), str) and error["fix"]:
            fix = error["fix"]
    if status == 429:
        return RateLimited(
            status, code, message, field, _retry_after(response.headers.get("retry-after")), fix
        )
    if status >= 500:
        return ServerError(status, code, message, field, fix)
    return _BY_STATUS.get(status, CouncilError)(status, code, message, field, fix)


def _payload_error(body: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(body) if body else None
    except ValueError:
        return None
    error = payload.get("error") if isinstance(payload, dict) else None
    return error if isinstance(error, dict) else None


def error_with_details(response: Response) -> CouncilError:
    """:func:`error_from_response`, with the body's ``problems`` and ``reason`` attached.

    Also records whether the body was the broker's error shape at all
    (:attr:`CouncilError.from_broker`). The client raises these.
    """
    error = error_from_response(response)
    body = _payload_error(response.body)
    error.from_broker = body is not None and isinstance(body.get("code"), str)
    if body is None:
        return error
    if isinstance(body.get("reason"), str) and body["reason"]:
        error.reason = body["reason"]
    listed = body.get("problems")
    if isinstance(listed, list):
        error.problems = tuple(
            Problem(entry["field"], entry["message"])
            for entry in listed
            if isinstance(entry, dict)
            and isinstance(entry.get("field"), str)
            and isinstance(entry.get("message"), str)
        )
    return error
