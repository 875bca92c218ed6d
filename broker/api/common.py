"""What every handler shares: parsing, pagination, authentication, responses, docs."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError

from broker.api.keys import SERVICES, SETTINGS, TRUSTED_PROXIES
from broker.domain.limits import address_key, client_address
from broker.errors import InvalidInput, MalformedJson, PayloadTooLarge, Problem, RequestTimeout
from broker.services import Actor, Services
from broker.tls import certificate_user

__all__ = [
    "OPERATIONS",
    "Handler",
    "Operation",
    "actor",
    "nests_deeper_than",
    "operation",
    "page_params",
    "parse",
    "respond",
    "seq_cursor",
    "services",
    "source_address",
    "validation_problems",
    "whole_number",
]

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Operation:
    """One documented operation of the OpenAPI document."""

    method: str
    path: str
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    public: bool = False
    responses: dict[int, str] = field(default_factory=dict)
    query: tuple[str, ...] = ()


OPERATIONS: list[Operation] = []


def operation(
    method: str,
    path: str,
    summary: str,
    *,
    tag: str,
    body: type[BaseModel] | None = None,
    public: bool = False,
    responses: dict[int, str] | None = None,
    query: tuple[str, ...] = (),
) -> Callable[[Handler], Handler]:
    """Record a handler in the OpenAPI document (the route table registers it)."""

    def register(handler: Handler) -> Handler:
        OPERATIONS.append(
            Operation(method, path, summary, tag, body, public, responses or {200: "OK"}, query)
        )
        return handler

    return register


def services(request: web.Request) -> Services:
    """The services wired into this app."""
    return request.app[SERVICES]


_UNATTRIBUTED_PATHS = ("/v1/consultations",)
"""Routes whose log lines never name the caller: charter art. 16(3) keeps who
asked a consultation from everyone but the coordinator, and the operator's log
(the access-log line included) must not undo that by tying a request about a
consultation to a member or user."""


async def actor(request: web.Request) -> Actor:
    """The authenticated caller, bound into this request's log context.

    Signing in is throttled by source address and claimed user (429 with
    `Retry-After`); with mutual TLS the client certificate must name the
    token's user.

    Except on consultation routes (`_UNATTRIBUTED_PATHS`): there no log line of
    the request carries the caller's member or user id.
    """
    caller = await services(request).auth.authenticate(
        request.headers.get("Authorization"),
        address=source_address(request),
        certificate_user=certificate_user(request.transport),
    )
    path = request.rel_url.path
    if not any(path == p or path.startswith(p + "/") for p in _UNATTRIBUTED_PATHS):
        structlog.contextvars.bind_contextvars(member_id=caller.member_id, user_id=caller.user_id)
    return caller


def source_address(request: web.Request) -> str:
    """Where the request comes from, as failed sign-ins are counted: the peer, or
    the client a trusted proxy names (`trusted_proxies`); IPv6 by its /64."""
    trusted = request.config_dict[TRUSTED_PROXIES]
    forwarded = request.headers.getall("X-Forwarded-For", ()) if trusted else ()
    return address_key(client_address(request.remote, forwarded, trusted))


async def parse(request: web.Request, model: type[M]) -> M:
    """The JSON body validated against `model`, or an error that changes nothing.

    400 `malformed_json` when the body is not JSON; 422 `invalid` when it is
    JSON that breaks the schema, listing every problem at once, each named by
    its JSON field (`field` is the first of them, for older clients).
    """
    limit = request.app[SETTINGS].max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"the body is over {limit} bytes")
    try:
        # A client that sends its body a byte at a time must not hold a handler
        # (and its connection) for ever: the body has `body_timeout` to arrive.
        async with asyncio.timeout(request.app[SETTINGS].body_timeout.total_seconds()):
            raw = await request.read()
    except TimeoutError:
        raise RequestTimeout("the request body did not arrive in time; send it in one go") from None
    if len(raw) > limit:
        raise PayloadTooLarge(f"the body is over {limit} bytes")
    max_depth = request.app[SETTINGS].max_json_depth
    # Bounded before parsing: json.loads, pydantic and model_dump all recurse,
    # and a body of a hundred thousand `[` would end in a RecursionError (a 500).
    if nests_deeper_than(raw, max_depth):
        raise InvalidInput(
            f"the body nests arrays and objects more than {max_depth} levels deep; flatten it"
        )
    try:
        data = json.loads(raw or b"null")
    except RecursionError:
        raise InvalidInput("the body is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise MalformedJson(
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except UnicodeDecodeError:
        raise MalformedJson("the body is not valid JSON: it is not UTF-8 text") from None
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc)
        message = "; ".join(f"{p.field}: {p.message}" for p in problems)
        raise InvalidInput(message, field=problems[0].field, problems=problems) from None


def validation_problems(exc: ValidationError) -> list[Problem]:
    """Every problem pydantic found, each named by its dotted JSON field, in order."""
    problems: list[Problem] = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        field = ".".join(str(part) for part in error["loc"]) or "body"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field (check its spelling)"
        problems.append(Problem(field, message))
    return problems


def page_params(request: web.Request) -> tuple[int, str | None]:
    """`limit` (bounded) and `cursor` from the query string."""
    settings = request.app[SETTINGS]
    raw = request.query.get("limit")
    limit = settings.default_page_size
    if raw is not None:
        number = whole_number(raw, max_digits=6)
        if number is None or not 1 <= number <= settings.max_page_size:
            raise InvalidInput(
                f"limit must be a whole number from 1 to {settings.max_page_size}", field="limit"
            )
        limit = number
    cursor = request.query.get("cursor") or None
    return limit, cursor


def seq_cursor(cursor: str | None) -> int | None:
    """An audit cursor: the last seq seen."""
    if cursor is None:
        return None
    number = whole_number(cursor, max_digits=18)
    if number is None:
        raise InvalidInput("bad cursor", field="cursor")
    return number


def whole_number(text: str, *, max_digits: int) -> int | None:
    """`text` as a non-negative integer written in ASCII digits, or None.

    `str.isdigit()` alone is not enough: it accepts superscripts and other
    Unicode digits ("²") that `int()` then refuses with a ValueError, a 500.
    """
    if not text or len(text) > max_digits or not text.isascii() or not text.isdigit():
        return None
    return int(text)


_OPENERS = frozenset(b"[{")
# A JSON string, escapes included: brackets inside strings do not nest. Written
# as a run of plain characters between escapes, not one alternation per character:
# the same strings, matched several times faster.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# Every byte but the brackets, deleted before the scan: it then walks the
# structure alone, not every byte of the values (a 100-object TAXII envelope
# has ~50 times fewer brackets than bytes).
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def nests_deeper_than(raw: bytes, limit: int) -> bool:
    """Whether arrays and objects in the JSON text `raw` nest more than `limit` deep.

    A scan of the bytes, no parsing, so it is safe on any input (the parser
    refuses malformed JSON afterwards); it stops at the first level too many.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    for byte in _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS):
        if byte in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def respond(data: Any, status: int = 200) -> web.Response:
    """A JSON response."""
    return web.json_response(data, status=status, dumps=_dumps)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)
