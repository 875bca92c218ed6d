"""docs/http-api.md is the OpenAPI document as `make docs` writes it: never stale."""

from __future__ import annotations

from pathlib import Path

from broker.api.openapi import openapi_document
from broker.api.reference import http_api_markdown
from broker.app import create_app
from broker.settings import Settings

PAGE = Path(__file__).resolve().parents[2] / "docs" / "http-api.md"


def _regenerated() -> str:
    create_app(Settings())  # registers every operation
    return http_api_markdown(openapi_document())


def test_the_checked_in_reference_is_current() -> None:
    """Regenerate and compare: a changed route, model or schema needs `make docs`."""
    assert PAGE.read_text(encoding="utf-8") == _regenerated(), (
        "docs/http-api.md is out of date: run `make docs` and commit the result"
    )


def test_the_reference_lists_every_operation_with_its_2xx_body() -> None:
    """Each operation has its heading; each JSON answer its fields (or its type)."""
    page = _regenerated()
    document = openapi_document()
    for path, methods in document["paths"].items():
        for method, entry in methods.items():
            heading = f"### `{method.upper()} {path}`"
            assert heading in page, heading
            section = page.split(heading, 1)[1].split("\n### ", 1)[0]
            for status, response in entry["responses"].items():
                if status.startswith("2") and "application/json" in response.get("content", {}):
                    assert f"{status} body:" in section, heading
    # The TLP note of the submission body reaches the reader.
    assert "`WHITE` (TLP 1.0) is read as `CLEAR`" in page
