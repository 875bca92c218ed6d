"""The OpenAPI 3.1 document, built from the documented operations and request models."""

from __future__ import annotations

import re
from typing import Any

from pydantic.json_schema import models_json_schema

from broker import __version__
from broker.api.common import OPERATIONS, Operation

__all__ = ["openapi_document"]

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string"},
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
_STATUS = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"type": "string"}},
}
_KEYS = {
    "type": "object",
    "required": ["type", "algorithm", "current", "keys"],
    "properties": {
        "type": {"const": "keys"},
        "algorithm": {"const": "Ed25519"},
        "current": {"type": "string"},
        "keys": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key_id", "public_key"],
                "properties": {"key_id": {"type": "string"}, "public_key": {"type": "string"}},
            },
        },
    },
}
_CHECKPOINT = {
    "type": "object",
    "required": ["size", "head", "signature", "key_id", "at"],
    "properties": {
        "size": {"type": "integer"},
        "head": {"type": "string"},
        "signature": {"type": "string"},
        "key_id": {"type": "string"},
        "at": {"type": "string"},
    },
}
# 2xx bodies that are not one JSON object (their media type says what they are).
_MEDIA = {
    "/metrics": "text/plain",
    "/v1/audit/export": "application/x-ndjson",
    "/v1/stream": "text/event-stream",
}
_ID_TIME = {"type": "string", "minLength": 1}
_MEMBER = {
    "type": "object",
    "required": ["id", "name", "kind", "category", "tier", "status", "created_at"],
    "properties": {
        "id": _ID_TIME,
        "name": {"type": "string"},
        "kind": {"type": "string"},
        "category": {"type": "string"},
        "tier": {"enum": ["none", "tier_one", "tier_two"]},
        "status": {"type": "string"},
        "created_at": _ID_TIME,
        "regulator": {"type": "boolean"},
        "law_enforcement": {"type": "boolean"},
        "foreign": {"type": "boolean"},
        "mutual_aid": {"type": "boolean"},
        "listed": {"type": "boolean"},
        "refuses_secrets": {"type": "boolean"},
        "early_warning": {"type": "boolean"},
    },
}
_USER = {
    "type": "object",
    "required": ["id", "member_id", "name", "role", "created_at"],
    "properties": {
        "id": _ID_TIME,
        "member_id": _ID_TIME,
        "name": {"type": "string"},
        "role": {"enum": ["member_user", "member_admin", "committee"]},
        "created_at": _ID_TIME,
        "revoked_at": {"type": ["string", "null"]},
        "expires_at": {"type": ["string", "null"]},
        "last_used_at": {"type": ["string", "null"]},
    },
}
_USER_AND_TOKEN = {
    "type": "object",
    "required": ["user", "token"],
    "properties": {"user": _USER, "token": {"type": "string"}},
}
_SUBMITTED = {
    "type": "object",
    "required": ["id", "version", "recipients", "dropped", "pending_consents"],
    "properties": {
        "id": _ID_TIME,
        "version": {"type": "integer", "minimum": 1},
        "recipients": {"type": "integer", "minimum": 0},
        "dropped": {"type": "object", "additionalProperties": {"type": "integer"}},
        "pending_consents": {"type": "array"},
    },
}
# The views' typed results, for the operations whose answer is one of them.
_OPERATION_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/v1/items"): _SUBMITTED,
    ("post", "/v1/members"): _MEMBER,
    ("get", "/v1/members/{id}"): _MEMBER,
    ("patch", "/v1/members/{id}"): _MEMBER,
    ("get", "/v1/members"): {
        "allOf": [
            {"$ref": "#/components/schemas/Page"},
            {"properties": {"items": {"items": _MEMBER}}},
        ]
    },
    ("post", "/v1/members/{id}/users"): _USER_AND_TOKEN,
    ("post", "/v1/members/{id}/users/{user_id}/token"): _USER_AND_TOKEN,
}
# 2xx bodies with a schema of their own; every other JSON operation answers an
# object, a paged list answers the page shape of docs/api.md "Conventions".
_BODIES: dict[str, dict[str, Any]] = {
    "/healthz": _STATUS,
    "/readyz": _STATUS,
    "/v1/audit/keys": _KEYS,
    "/v1/audit/checkpoints/latest": _CHECKPOINT,
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
# What any operation may answer, by what it takes (docs/api.md "Conventions"):
# described here once rather than on every route.
_AUTHENTICATED = {
    401: "bad or missing token",
    403: "the caller may see the resource but may not do this",
}
_WRITES = {409: "the resource's state does not allow it"}
_TAKES_INPUT = {422: "invalid input; `field` names the offending part"}
_TAKES_BODY = {413: "body too large"}
_BY_ID = {404: "absent or not visible to the caller"}
# Conditions of the deployment (broker.store.failures): any operation that reads
# the database may find it unavailable; any that writes (and every
# authenticated one: each decision is audited) may find its storage full.
_READS_DATABASE = {503: "the database is unavailable: retry after `Retry-After` seconds"}
_WRITES_DATABASE = {507: "the broker's storage is full: nothing was stored"}
_NO_DATABASE = frozenset({"/healthz", "/openapi.json", "/metrics"})


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR_REF}}}


def _success(op: Operation, status: int, description: str) -> dict[str, Any]:
    if status in (101, 204) or op.path == "/v1/stream":
        return {"description": description}
    if op.path in _MEDIA:
        return {
            "description": description,
            "content": {_MEDIA[op.path]: {"schema": {"type": "string"}}},
        }
    if (op.method, op.path) in _OPERATION_BODIES:
        schema = _OPERATION_BODIES[op.method, op.path]
    elif op.path in _BODIES:
        schema = _BODIES[op.path]
    elif op.method == "get" and "cursor" in op.query:
        schema = {"$ref": "#/components/schemas/Page"}
    else:
        schema = {"type": "object"}
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
    if op.path not in _NO_DATABASE:
        implied |= _READS_DATABASE
        if not op.public or op.method in ("post", "patch", "put", "delete"):
            implied |= _WRITES_DATABASE
    for status, text in implied.items():
        responses.setdefault(str(status), _error(text))
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
