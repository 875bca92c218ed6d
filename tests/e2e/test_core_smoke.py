"""The secure core end to end, through the SDK against a real broker."""

from __future__ import annotations

import pytest

from clients.sdk import NotFound
from tests.conftest import Broker
from tests.council import draft, make_council


async def test_analysis_reaches_tier_one_only(broker: Broker) -> None:
    """An analysis scoped to the tier-one group opens for tier one, 404s for everyone else."""
    council = await make_council(broker)
    result = await council.vendor_a.handler.submit(draft())
    assert result.recipients == 4  # A, B, C and the coordinator
    for reader in (council.vendor_b.plain, council.vendor_c.handler, council.coordinator):
        item = await reader.get_item(result.id)
        assert item.title.startswith("file-sharing")
    for outsider in (
        council.power.handler,
        council.general.handler,
        council.police.handler,
        council.secretariat_handler,
    ):
        with pytest.raises(NotFound):
            await outsider.get_item(result.id)
