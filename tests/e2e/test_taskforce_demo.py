"""`council demo` plays the whole scenario against a running broker."""

from __future__ import annotations

import io

from rich.console import Console

from clients.cli.demo import play
from tests.conftest import Broker


async def test_the_demo_plays_every_step_and_can_run_again(broker: Broker) -> None:
    """The demo admits its own uniquely named members, so it runs twice on one broker; its
    timeline shows who received, answered and saw what, step by step."""

    async def let_time_pass(seconds: float) -> None:
        """Instead of sleeping, move the broker's clock (no sleeping in tests)."""
        broker.clock.advance(seconds=seconds)

    outputs = []
    for _ in range(2):
        out = io.StringIO()
        console = Console(file=out, width=140, color_system=None)
        cast = await play(broker.admin, console, wait=let_time_pass)
        outputs.append(out.getvalue())
        assert len(cast.tier_one) == 3 and len(cast.tier_two) == 5 and len(cast.general) == 5
    text = outputs[1]
    for step in range(11):
        assert f"Step {step}" in text
    # The last act (art. 29, 8(2)): reported, restricted at three quarters, stream closed.
    assert "reports a suspected leak to the secretariat" in text
    assert "cannot see the report, nor who filed it (404)" in text
    assert "is not warned: the open resolution is a 404 to it" in text
    assert "votes yes: 3 of 4 -> passed" in text
    assert "its open stream was closed at once (access_changed)" in text
    assert "can no longer open the analysis it had received" in text
    assert "late=True" in text
    assert "Water Works=overdue" in text
    assert "sees only counts: came 2, not came 1, unknown 1, missing 1, late 1" in text
    assert "alone knows who asked:" in text and "Maker D" in text
    assert "no_original_submissions" in text  # Vendors B and C: free riders this week
    members = await broker.admin.list_members()
    assert len({m.name for m in members.items}) == len(members.items)  # unique per run
