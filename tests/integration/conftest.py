"""Fixtures shared by the tests that run real broker processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.procs import Processes


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Processes]:
    """Broker processes, killed at the end of the test whatever happened."""
    processes = Processes(tmp_path)
    try:
        yield processes
    finally:
        processes.close()
