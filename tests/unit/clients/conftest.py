"""Fixtures for the client tests: a fake broker behind a CallableTransport, and a client on it."""

from __future__ import annotations

import pytest
from client_fakes import BASE_URL, TOKEN, FakeBroker

from clients.sdk import CallableTransport, CouncilClient


@pytest.fixture
def fake_broker() -> FakeBroker:
    """An empty fake broker to add routes to."""
    return FakeBroker()


@pytest.fixture
def transport(fake_broker: FakeBroker) -> CallableTransport:
    """A transport that sends every request to the fake broker."""
    return CallableTransport(fake_broker)


@pytest.fixture
def client(transport: CallableTransport) -> CouncilClient:
    """An SDK client holding TOKEN, talking to the fake broker."""
    return CouncilClient(BASE_URL, TOKEN, transport=transport)
