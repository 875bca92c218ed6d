"""Use cases: the only place that orchestrates store, crypto, policy and audit.

Each service method takes the authenticated `Actor`, decides through the pure
policy (`broker.tlp`), writes its audit events in the same transaction as its
effect, and returns JSON-ready views.
"""

from broker.domain import Actor
from broker.services.registry import Services

__all__ = ["Actor", "Services"]
