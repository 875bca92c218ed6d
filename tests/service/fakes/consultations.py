"""In memory: consultations and their messages."""

from __future__ import annotations


class FakeConsultationRepository:
    """In memory: consultations and their messages."""
