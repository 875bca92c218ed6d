"""In memory: obligations."""

from __future__ import annotations


class FakeObligationRepository:
    """In memory: obligations."""
