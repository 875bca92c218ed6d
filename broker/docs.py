"""`python -m broker.docs FILE`: write the HTTP API reference (docs/http-api.md).

`make docs` runs it. The page is `broker.api.reference.http_api_markdown` of the
OpenAPI document of the whole app, every edge's operations included (the app
factory registers them all), so it lives above the app in the layers.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Write the reference to the file named in `argv` (stdout without one)."""
    from broker.api.openapi import openapi_document
    from broker.api.reference import http_api_markdown
    from broker.app import create_app
    from broker.settings import Settings

    args = sys.argv[1:] if argv is None else argv
    create_app(Settings())  # registers every operation of every edge
    text = http_api_markdown(openapi_document())
    if args:
        Path(args[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
