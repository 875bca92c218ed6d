"""Typed application keys: the resources the app factory wires in."""

from __future__ import annotations

from aiohttp import web

from broker.api.metrics import Metrics
from broker.delivery.hub import Hub
from broker.services import Services
from broker.settings import Settings

SERVICES = web.AppKey("services", Services)
SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
HUB = web.AppKey("hub", Hub)
