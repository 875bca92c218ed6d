"""The broker's exception tree; each maps to one HTTP status and error code.

    BrokerError                    500 internal
    ├── Unauthorized               401 unauthorized        bad or missing token
    ├── Forbidden                  403 forbidden           may see it, may not do this
    ├── NotFound                   404 not_found           absent or not visible: never say which
    ├── Conflict                   409 conflict            state does not allow it
    ├── RequestTimeout             408 timeout             the body did not arrive in time
    ├── PayloadTooLarge            413 too_large
    ├── MalformedJson              400 malformed_json      the body is not JSON at all
    ├── InvalidInput               422 invalid             with the offending field(s)
    ├── RateLimited                429 rate_limited        with Retry-After
    ├── IntegrityAlarm             500 integrity_error     stored data failed to authenticate
    ├── Unavailable                503 unavailable         the database does not answer: retry
    └── StorageFull                507 storage_full        the database's disk is full

A `NotFound` carries no hint of whether the thing exists (docs/api.md: a 404 means
absent or not visible to the caller).

Every error body carries a `fix`: one line telling the person what to do
(`broker.tlp.fixes`), chosen by the error's policy `reason` when the caller may
be told it (a refused submission, a refused administration), else by its code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from broker.tlp.fixes import fix_for

__all__ = [
    "BrokerError",
    "Conflict",
    "Forbidden",
    "IntegrityAlarm",
    "InvalidInput",
    "MalformedJson",
    "NotFound",
    "PayloadTooLarge",
    "Problem",
    "RateLimited",
    "RequestTimeout",
    "StorageFull",
    "Unauthorized",
    "Unavailable",
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a request: the JSON field at fault and what is wrong."""

    field: str
    message: str


class BrokerError(Exception):
    """Base of every error the broker reports to a caller.

    `reason` is the policy's refusal code, given only where the caller may
    learn it (its own submission was refused, SPEC §3 rule 10); `fix` overrides
    the advice `broker.tlp.fixes` holds for the reason or the code.
    """

    status = 500
    code = "internal"

    def __init__(
        self,
        message: str = "internal error",
        *,
        field: str | None = None,
        reason: str | None = None,
        fix: str | None = None,
        problems: Sequence[Problem] = (),
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            # A more precise code than the class's, for a caller that acts on it
            # (docs/api.md: 409 `already_voted`, `needs_task_force_exception`, ...).
            self.code = code
        self.reason = reason
        self.problems = tuple(problems)
        self.fix = (
            fix
            or (fix_for(reason) if reason else None)
            or fix_for(self.code)
            or fix_for(type(self).code)  # a precise code without its own fix: the status's
            or ""
        )

    def to_json(self) -> dict[str, dict[str, object]]:
        """The docs/api.md error body: code, message, fix; field, reason, problems if any."""
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.reason:
            body["reason"] = self.reason
        body["fix"] = self.fix
        if self.problems:
            body["problems"] = [{"field": p.field, "message": p.message} for p in self.problems]
        return {"error": body}


class Unauthorized(BrokerError):
    """The token is missing, malformed, unknown or revoked."""

    status = 401
    code = "unauthorized"


class Forbidden(BrokerError):
    """The caller may see the resource but may not do this to it."""

    status = 403
    code = "forbidden"


class NotFound(BrokerError):
    """Nothing the caller may see has this id."""

    status = 404
    code = "not_found"

    def __init__(
        self, message: str = "not found", *, field: str | None = None, code: str | None = None
    ) -> None:
        # No reason and no custom fix: a 404 must read the same whatever its cause.
        super().__init__(message, field=field, code=code)


class Conflict(BrokerError):
    """The current state does not allow the request."""

    status = 409
    code = "conflict"


class PayloadTooLarge(BrokerError):
    """The request body is over the configured limit."""

    status = 413
    code = "too_large"


class MalformedJson(BrokerError):
    """The body is not JSON at all (422 stays for valid JSON that breaks the schema)."""

    status = 400
    code = "malformed_json"


class InvalidInput(BrokerError):
    """The request is malformed or breaks a rule of the contract."""

    status = 422
    code = "invalid"


class RequestTimeout(BrokerError):
    """The client did not send its request body within the body timeout."""

    status = 408
    code = "timeout"


class RateLimited(BrokerError):
    """Too many requests: `retry_after` seconds until the next may succeed (`Retry-After`)."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class IntegrityAlarm(BrokerError):
    """Stored data failed to authenticate: someone changed it outside the broker."""

    status = 500
    code = "integrity_error"

    def __init__(self, message: str = "stored data failed its integrity check") -> None:
        super().__init__(message)


class Unavailable(BrokerError):
    """The database does not answer (restarting, unreachable): retry after a while."""

    status = 503
    code = "unavailable"
    retry_after = 2

    def __init__(
        self, message: str = "the database is unavailable; retry in a few seconds"
    ) -> None:
        super().__init__(message)


class StorageFull(BrokerError):
    """The database's storage is full: nothing more can be written until it has room."""

    status = 507
    code = "storage_full"

    def __init__(
        self,
        message: str = (
            "the broker's storage is full: nothing was stored; the operator must free "
            "space, then retry"
        ),
    ) -> None:
        super().__init__(message)
