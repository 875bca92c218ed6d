"""In memory: items, scope versions, audiences and consents."""

from __future__ import annotations


class FakeItemRepository:
    """In memory: items, scope versions, audiences and consents."""
