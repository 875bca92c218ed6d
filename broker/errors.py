"""The broker's exception tree; each maps to one HTTP status and error code.

    BrokerError                    500 internal
    ├── Unauthorized               401 unauthorized        bad or missing token
    ├── Forbidden                  403 forbidden           may see it, may not do this
    ├── NotFound                   404 not_found           absent or not visible: never say which
    ├── Conflict                   409 conflict            state does not allow it
    ├── PayloadTooLarge            413 too_large
    ├── InvalidInput               422 invalid             with the offending field
    ├── RateLimited                429 rate_limited
    ├── IntegrityAlarm             500 integrity_error     stored data failed to authenticate
    ├── Unavailable                503 unavailable         the database does not answer: retry
    └── StorageFull                507 storage_full        the database's disk is full

A `NotFound` carries no hint of whether the thing exists (docs/api.md: a 404 means
absent or not visible to the caller).
"""

from __future__ import annotations

__all__ = [
    "BrokerError",
    "Conflict",
    "Forbidden",
    "IntegrityAlarm",
    "InvalidInput",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "StorageFull",
    "Unauthorized",
    "Unavailable",
]


class BrokerError(Exception):
    """Base of every error the broker reports to a caller."""

    status = 500
    code = "internal"

    def __init__(self, message: str = "internal error", *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_json(self) -> dict[str, dict[str, str]]:
        """The docs/api.md error body."""
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
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

    def __init__(self, message: str = "not found", *, field: str | None = None) -> None:
        super().__init__(message, field=field)


class Conflict(BrokerError):
    """The current state does not allow the request."""

    status = 409
    code = "conflict"


class PayloadTooLarge(BrokerError):
    """The request body is over the configured limit."""

    status = 413
    code = "too_large"


class InvalidInput(BrokerError):
    """The request is malformed or breaks a rule of the contract."""

    status = 422
    code = "invalid"


class RateLimited(BrokerError):
    """Too many requests."""

    status = 429
    code = "rate_limited"


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
