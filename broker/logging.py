"""The one logger setup: structlog, JSON lines on stderr.

Nothing secret is ever passed to a logger (tokens, keys, item content); as a
second line of defence, known-sensitive keys are redacted before rendering.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

__all__ = ["configure_logging"]

_SENSITIVE = frozenset(
    {"token", "authorization", "password", "secret_key", "key", "plaintext", "body", "title"}
)


def _redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in _SENSITIVE & event.keys():
        event[key] = "[redacted]"
    return event


def configure_logging(level: str = "info", stream: TextIO | None = None) -> None:
    """JSON logs with ISO timestamps, request context and redaction, on `stream`
    (standard error unless given)."""
    stream = stream or sys.stderr
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    # Libraries log through the standard library; below WARNING some of them
    # (database drivers) print statements with their parameters, so they stay
    # at WARNING whatever the broker's own level.
    logging.basicConfig(format="%(message)s", stream=stream, level=logging.WARNING, force=True)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
