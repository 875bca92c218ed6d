"""Typed application keys: the resources the app factory wires in."""

from __future__ import annotations

from aiohttp import web

from broker.api.metrics import Metrics
from broker.delivery.hub import Hub
from broker.domain.limits import Network
from broker.services import Services
from broker.services.sweeper import Sweeper
from broker.settings import Settings

__all__ = ["HUB", "METRICS", "SERVICES", "SETTINGS", "SWEEPER", "TRUSTED_PROXIES"]

SERVICES = web.AppKey("services", Services)
SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
HUB = web.AppKey("hub", Hub)
SWEEPER = web.AppKey("sweeper", Sweeper)
"""The app's obligation sweeper (run on the leader replica only: `broker.delivery.leader`)."""
TRUSTED_PROXIES = web.AppKey("trusted_proxies", tuple[Network, ...])
"""`trusted_proxies`, parsed: whose X-Forwarded-For names a request's source."""
