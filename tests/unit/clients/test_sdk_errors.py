"""How non-2xx answers become exceptions."""

from __future__ import annotations

import pytest
from client_fakes import error_json

from clients.sdk import (
    Conflict,
    CouncilError,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    Response,
    ServerError,
    TooLarge,
    TransportError,
    Unauthorized,
    error_from_response,
)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (409, Conflict),
        (413, TooLarge),
        (422, Invalid),
        (429, RateLimited),
        (500, ServerError),
        (503, ServerError),
        (400, CouncilError),
        (405, CouncilError),
    ],
)
def test_status_picks_the_error_class(status: int, cls: type[CouncilError]) -> None:
    """Each documented status maps to its own subclass, anything else to CouncilError."""
    error = error_from_response(Response.from_json(error_json("some_code", "some text"), status))
    assert type(error) is cls
    assert isinstance(error, CouncilError)
    assert error.status == status


def test_error_body_fields_are_parsed() -> None:
    """The code, message and field of the broker's error body reach the exception."""
    body = error_json("invalid_scope", "analysis stays in the tier-one group", "scope.groups")
    error = error_from_response(Response.from_json(body, 422))
    assert (error.code, error.message, error.field) == (
        "invalid_scope",
        "analysis stays in the tier-one group",
        "scope.groups",
    )
    assert str(error) == "analysis stays in the tier-one group"
    assert "scope.groups" in repr(error)


def test_non_json_error_body_falls_back_to_the_reason_phrase() -> None:
    """A proxy's HTML error page still yields the right class, with code http_<status>."""
    error = error_from_response(Response(502, {"Content-Type": "text/html"}, b"<html>bad</html>"))
    assert isinstance(error, ServerError)
    assert error.code == "http_502"
    assert error.message == "Bad Gateway"
    assert error.field is None


def test_json_body_of_the_wrong_shape_falls_back_too() -> None:
    """A JSON body without an error object yields the generic code and message."""
    error = error_from_response(Response.from_json(["not", "an", "error"], 404))
    assert isinstance(error, NotFound)
    assert (error.code, error.message) == ("http_404", "Not Found")


def test_unknown_status_gets_a_generic_message() -> None:
    """A status with no reason phrase is described by its number."""
    error = error_from_response(Response(499))
    assert error.message == "HTTP 499"


@pytest.mark.parametrize(("header", "expected"), [("7", 7.0), ("1.5", 1.5), (None, None)])
def test_rate_limited_carries_retry_after(header: str | None, expected: float | None) -> None:
    """A 429 exposes the Retry-After seconds, or None when the broker gave none."""
    headers = {"Retry-After": header} if header is not None else None
    error = error_from_response(Response.from_json(error_json("slow_down", "wait"), 429, headers))
    assert isinstance(error, RateLimited)
    assert error.retry_after == expected


@pytest.mark.parametrize("header", ["Wed, 21 Oct 2015 07:28:00 GMT", "-3"])
def test_retry_after_that_is_not_seconds_is_unknown(header: str) -> None:
    """An HTTP-date or a negative Retry-After is reported as unknown, not guessed."""
    error = error_from_response(Response(429, {"Retry-After": header}))
    assert isinstance(error, RateLimited)
    assert error.retry_after is None


def test_transport_error_has_status_zero() -> None:
    """A failure without any HTTP answer is a CouncilError with status 0."""
    error = TransportError("cannot reach https://broker.test")
    assert isinstance(error, CouncilError)
    assert (error.status, error.code) == (0, "transport_error")


@pytest.mark.parametrize("status", [403, 422, 429, 500, 400])
def test_the_fix_of_the_error_body_reaches_the_exception(status: int) -> None:
    """`fix`, the broker's line on what to do, is kept; an answer without one gives None."""
    body = {"error": {"code": "forbidden", "message": "refused", "fix": "register a handler"}}
    error = error_from_response(Response.from_json(body, status))
    assert error.fix == "register a handler"
    assert str(error) == "refused"  # the message stays the exception's text
    plain = error_from_response(Response.from_json(error_json("some_code", "x"), status))
    assert plain.fix is None
