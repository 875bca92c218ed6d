"""The OpenAPI 3.1 document, built from the documented operations and request models."""

from __future__ import annotations

import re
from typing import Any

from pydantic.json_schema import models_json_schema

from broker import __version__
from broker.api.common import OPERATIONS

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


def openapi_document() -> dict[str, Any]:
    """Every route of the broker, with its request schema and error responses."""
    models = {op.body for op in OPERATIONS if op.body is not None}
    _, schemas = models_json_schema(
        [(model, "validation") for model in sorted(models, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    components: dict[str, Any] = dict(schemas.get("$defs", {}))
    components["Error"] = _ERROR
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        entry: dict[str, Any] = {
            "summary": op.summary,
            "tags": [op.tag],
            "operationId": f"{op.method}_{re.sub(r'[^a-z0-9]+', '_', op.path.lower()).strip('_')}",
            "responses": {
                str(status): {"description": text} for status, text in op.responses.items()
            },
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
        error_ref = {
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        }
        if not op.public:
            entry["security"] = [{"bearer": []}]
            entry["responses"]["401"] = {"description": "bad or missing token", **error_ref}
        entry["responses"]["404"] = {"description": "absent or not visible", **error_ref}
        if op.body is not None:
            entry["responses"]["413"] = {"description": "body too large", **error_ref}
            entry["responses"]["422"] = {"description": "invalid input", **error_ref}
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
