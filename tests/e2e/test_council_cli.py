"""The members' `council` command against a real broker."""

from __future__ import annotations

import json

import pytest

from clients.cli.main import run
from clients.sdk import CouncilClient
from tests.conftest import Broker
from tests.council import make_council


async def test_submit_inbox_show_round_trip(
    broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    """A vendor submits with `council submit`; another lists and opens it."""
    council = await make_council(broker)

    async def council_cmd(token: str, *argv: str) -> tuple[int, str]:
        code = await run(
            list(argv),
            client_factory=lambda url, tok: CouncilClient(url, tok),
            env={"COUNCIL_URL": broker.url, "COUNCIL_TOKEN": token},
        )
        return code, capsys.readouterr().out

    vendor_a = council.vendor_a.handler._token
    vendor_b = council.vendor_b.handler._token
    assert vendor_a and vendor_b
    code, out = await council_cmd(
        vendor_a,
        "submit",
        "--kind",
        "analysis",
        "--title",
        "worm on SMB",
        "--body",
        "patched two months ago",
        "--tlp",
        "AMBER",
        "--secret",
        "--group",
        "tier_one_group",
        "--json",
    )
    assert code == 0
    item_id = json.loads(out)["id"]
    code, out = await council_cmd(vendor_b, "inbox", "--json")
    assert code == 0 and item_id in out
    code, out = await council_cmd(vendor_b, "show", item_id)
    assert code == 0 and "worm on SMB" in out
    assert vendor_b not in out
    code, _ = await council_cmd(council.power.handler._token or "", "show", item_id)
    assert code == 3  # not found for those outside the scope


async def test_council_taxii_prints_what_a_platform_needs(
    broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    """`council taxii` gives the URLs, the user id and exactly the caller's collections."""
    council = await make_council(broker)

    async def council_cmd(token: str, *argv: str) -> tuple[int, str]:
        code = await run(
            list(argv),
            client_factory=lambda url, tok: CouncilClient(url, tok),
            env={"COUNCIL_URL": broker.url, "COUNCIL_TOKEN": token},
        )
        return code, capsys.readouterr().out

    code, out = await council_cmd(council.power.plain._token or "", "taxii", "--json")
    assert code == 0
    settings = json.loads(out)
    assert settings["discovery"] == f"{broker.url}/taxii2/"
    assert settings["api_root"] == f"{broker.url}/taxii2/council/"
    assert settings["user_id"] == council.power.plain_user_id
    assert [c["alias"] for c in settings["collections"]] == [
        "early-countermeasures",
        "countermeasures",
        "early-warnings",
        "inbox",
        "feedback",
    ]
    code, out = await council_cmd(council.vendor_a.plain._token or "", "taxii")
    assert code == 0
    assert council.vendor_a.plain_user_id in out and "tier-one-analysis" in out
