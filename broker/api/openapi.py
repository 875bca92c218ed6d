"""The OpenAPI 3.1 document, built from the documented operations and request models."""

from __future__ import annotations

import re
from typing import Any

from pydantic.json_schema import models_json_schema

from broker import __version__
from broker.api.common import OPERATIONS, Operation
from broker.api.schemas import RESPONSE_SCHEMAS

__all__ = ["openapi_document"]

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fix"],
            "properties": {
                "code": {"type": "string", "description": "snake_case, by HTTP status"},
                "message": {"type": "string", "description": "what went wrong, for a person"},
                "fix": {"type": "string", "description": "one line: what to do about it"},
                "field": {"type": "string", "description": "the (first) JSON field at fault"},
                "reason": {
                    "type": "string",
                    "description": "the sharing rule that refused the caller's own request",
                },
                "problems": {
                    "type": "array",
                    "description": "422: every problem of the body at once",
                    "items": {
                        "type": "object",
                        "required": ["field", "message"],
                        "properties": {
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}


_PAGE = {
    "type": "object",
    "required": ["items", "next_cursor"],
    "properties": {
        "items": {"type": "array", "items": {"type": "object"}},
        "next_cursor": {"type": ["string", "null"]},
    },
}
# 2xx bodies that are not one JSON object (their media type says what they are).
_MEDIA: dict[str, tuple[str, ...]] = {
    "/metrics": ("text/plain",),
    "/v1/audit/export": ("application/x-ndjson",),
    "/v1/stream": ("text/event-stream",),
    "/docs": ("text/html",),
    "/misp/feed/hashes.csv": ("text/csv",),
    "/docs/{name}": ("text/css", "text/javascript", "image/png"),
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
# What any operation may answer, by what it takes (docs/api.md "Conventions"):
# described here once rather than on every route.
_AUTHENTICATED = {
    401: "bad or missing token (or, with mutual TLS, no client certificate naming its user)",
    403: "the caller may see the resource but may not do this",
    429: "too many failed sign-ins from this address or for this user, or too many "
    "requests for this token; `Retry-After` says when to retry",
}
_RETRY_AFTER = {
    "description": "whole seconds until a retry may succeed",
    "schema": {"type": "integer", "minimum": 1},
}
_WRITES = {409: "the resource's state does not allow it"}
_TAKES_INPUT = {422: "invalid input; `field` names the offending part"}
_TAKES_BODY = {
    400: "the body is not JSON (`malformed_json`)",
    408: "the body did not arrive within the body timeout",
    413: "body too large",
}
_BY_ID = {404: "absent or not visible to the caller"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR_REF}}}


def _success(op: Operation, status: int, description: str) -> dict[str, Any]:
    if status in (101, 204) or op.path == "/v1/stream":
        return {"description": description}
    if op.path in _MEDIA:
        return {
            "description": description,
            "content": {media: {"schema": {"type": "string"}} for media in _MEDIA[op.path]},
        }
    # Every JSON answer has its schema (a test checks none is missing).
    schema = RESPONSE_SCHEMAS[op.method, op.path]
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _responses(op: Operation) -> dict[str, Any]:
    """Every status `op` may answer: its own, then those its inputs imply."""
    responses: dict[str, Any] = {}
    for status, text in op.responses.items():
        responses[str(status)] = _success(op, status, text) if status < 300 else _error(text)
    implied: dict[int, str] = {}
    if op.path == "/metrics":
        implied |= {401: "bad or missing metrics token", 404: "no metrics token configured"}
    if not op.public:
        implied |= _AUTHENTICATED
    if "{" in op.path or not op.public:
        implied |= _BY_ID  # an id the caller may not see, or a member's resource
    if op.method in ("post", "patch", "put", "delete"):
        implied |= _WRITES
    if op.body is not None:
        implied |= _TAKES_BODY | _TAKES_INPUT
    if op.query or op.body is not None or "{" in op.path:
        implied |= _TAKES_INPUT
    for status, text in implied.items():
        responses.setdefault(str(status), _error(text))
    if "429" in responses:
        responses["429"]["headers"] = {"Retry-After": _RETRY_AFTER}
    return responses


def openapi_document() -> dict[str, Any]:
    """Every route of the broker, with its request schema and error responses."""
    models = {op.body for op in OPERATIONS if op.body is not None}
    _, schemas = models_json_schema(
        [(model, "validation") for model in sorted(models, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    components: dict[str, Any] = dict(schemas.get("$defs", {}))
    components["Error"] = _ERROR
    components["Page"] = _PAGE
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        entry: dict[str, Any] = {
            "summary": op.summary,
            "tags": [op.tag],
            "operationId": f"{op.method}_{re.sub(r'[^a-z0-9]+', '_', op.path.lower()).strip('_')}",
            "responses": _responses(op),
        }
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", op.path)
        ] + [
            {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
            for name in op.query
        ]
        if parameters:
            entry["parameters"] = parameters
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}
                    }
                },
            }
        if not op.public or op.path == "/metrics":
            entry["security"] = [{"bearer": []}]
        paths.setdefault(op.path, {})[op.method] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Council broker",
            "version": __version__,
            "description": "Secure information sharing for the council and its task force.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
