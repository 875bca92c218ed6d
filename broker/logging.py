"""The one logger setup: structlog, JSON lines on stderr.

Nothing secret is ever passed to a logger (tokens, keys, item content); as a
second line of defence, known-sensitive keys are redacted before rendering.
Libraries log through the standard library; their records are rendered as
the same JSON lines, a traceback included as one field, never as loose text.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from aiohttp.http_exceptions import HttpProcessingError

__all__ = ["configure_logging"]

_SENSITIVE = frozenset(
    {"token", "authorization", "password", "secret_key", "key", "plaintext", "body", "title"}
)


def _redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in _SENSITIVE & event.keys():
        event[key] = "[redacted]"
    return event


class _MalformedRequests(logging.Filter):
    """aiohttp logs a request it could not parse (an over-long or malformed header,
    too many headers) as an error with a traceback and the offending bytes. The
    fault is the client's, and the bytes may hold its token (an over-long
    `Authorization` line): one warning naming the kind of problem, nothing of
    the request."""

    def filter(self, record: logging.LogRecord) -> bool:
        problem = record.exc_info[1] if record.exc_info else None
        if isinstance(problem, HttpProcessingError):
            address = record.args[0] if isinstance(record.args, tuple) and record.args else None
            record.msg, record.args, record.exc_info, record.exc_text = (
                "malformed_request",
                (),
                None,
                None,
            )
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.status, record.problem, record.address = (
                problem.code,
                type(problem).__name__,
                address,
            )
        return True


def configure_logging(level: str = "info", stream: TextIO | None = None) -> None:
    """JSON logs with ISO timestamps, request context and redaction, on `stream`
    (standard error unless given)."""
    stream = stream or sys.stderr
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    handler = logging.StreamHandler(stream)
    handler.addFilter(_MalformedRequests())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ExtraAdder(allow=["status", "problem", "address"]),
                *shared,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    # Below WARNING some libraries (database drivers) print statements with
    # their parameters, so they stay at WARNING whatever the broker's own level.
    logging.basicConfig(handlers=[handler], level=logging.WARNING, force=True)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
