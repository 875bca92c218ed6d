"""TAXII error objects (TAXII 2.1 §3.6.1): every failure under /taxii2/ is one."""

from __future__ import annotations

from typing import Any

__all__ = ["TaxiiError", "error_body"]


class TaxiiError(Exception):
    """A failure answered as a TAXII error object with its HTTP status."""

    def __init__(self, status: int, title: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.title = title
        self.description = description

    def body(self) -> dict[str, Any]:
        """The TAXII error object."""
        return error_body(self.status, self.title, self.description)


def error_body(status: int, title: str, description: str) -> dict[str, Any]:
    """A TAXII error object; `http_status` is a string matching the status (§3.6.1)."""
    return {"title": title, "description": description, "http_status": str(status)}
