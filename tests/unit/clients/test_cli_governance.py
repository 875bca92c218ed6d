"""`council report`, `reports`, `withdraw`, `resolutions`, `resolution`, `vote`, `recuse`
through main() against a fake broker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from client_fakes import FakeBroker, member_json
from test_cli_main import Cli

from clients.cli.main import EXIT_USAGE


@pytest.fixture
def cli(fake_broker: FakeBroker, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Cli:
    """The command wired to the fake broker."""
    return Cli(fake_broker, capsys, tmp_path)


def _report(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "r-1",
        "kind": "leak",
        "status": "received",
        "text": "quoted outside",
        "item_id": "it-1",
        "member_id": None,
        "note": None,
        "reporter": {"member_id": "m-1", "user_id": "u-1"},
        "created_at": "2024-05-01T00:00:00Z",
        "updated_at": "2024-05-01T00:00:00Z",
        **overrides,
    }


def _resolution(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "res-1",
        "kind": "restriction",
        "body": "committee",
        "title": "Restrict Vendor B",
        "subject_member_id": "m-2",
        "status": "open",
        "tally": {"yes": 3, "no": 0, "abstain": 0, "recused": 1, "seats": 5, "entitled": 4},
        **overrides,
    }


def test_report_sends_kind_text_item_and_member(cli: Cli, fake_broker: FakeBroker) -> None:
    """`council report leak --text ... --item ... --member ...` files one report."""
    fake_broker.on("POST", "/v1/reports", _report(), 201)
    code = cli("report", "leak", "--text", "quoted outside", "--item", "it-1", "--member", "m-2")
    assert code == 0, cli.err
    assert cli.requests[0].json == {
        "kind": "leak",
        "text": "quoted outside",
        "item_id": "it-1",
        "member_id": "m-2",
    }
    assert "report: r-1" in cli.out and "you and the secretariat only" in cli.out


def test_report_needs_a_known_kind_and_one_text(cli: Cli) -> None:
    """An unknown kind, or no text, is a usage error before anything is sent."""
    assert cli("report", "gossip", "--text", "x") == EXIT_USAGE
    assert cli("report", "leak") == EXIT_USAGE
    assert cli.requests == []


def test_reports_lists_status_and_note(cli: Cli, fake_broker: FakeBroker) -> None:
    """`council reports` shows each report's status and the secretariat's note."""
    page = {"items": [_report(status="investigating", note="asked B")], "next_cursor": None}
    fake_broker.on("GET", "/v1/reports", page)
    assert cli("reports") == 0, cli.err
    assert "investigating" in cli.out and "asked B" in cli.out


def test_withdraw_needs_yes_and_finds_the_own_member(cli: Cli, fake_broker: FakeBroker) -> None:
    """`council withdraw --member` refuses without --yes; with it, it withdraws the
    caller's member."""
    assert cli("withdraw", "--member") == EXIT_USAGE
    assert "--yes" in cli.err and cli.requests == []
    fake_broker.on("GET", "/v1/members", {"items": [member_json()], "next_cursor": None})
    fake_broker.on("POST", "/v1/members/m-1/withdrawal", member_json(status="withdrawn"))
    assert cli("withdraw", "--member", "--yes", "--reason", "merged") == 0, cli.err
    assert cli.requests[-1].json == {"reason": "merged"}
    assert "has withdrawn" in cli.out


def test_resolutions_vote_and_recuse(cli: Cli, fake_broker: FakeBroker) -> None:
    """`council resolutions`, `resolution ID`, `vote ID yes` and `recuse ID --reason`."""
    fake_broker.on("GET", "/v1/resolutions", {"items": [_resolution()], "next_cursor": None})
    fake_broker.on("GET", "/v1/resolutions/res-1", _resolution())
    fake_broker.on("POST", "/v1/resolutions/res-1/votes", _resolution(status="passed"))
    fake_broker.on("POST", "/v1/resolutions/res-1/recusal", _resolution())
    assert cli("resolutions", "--status", "open") == 0, cli.err
    assert "Restrict Vendor B" in cli.out and "yes 3" in cli.out
    assert cli("resolution", "res-1") == 0 and "about: m-2" in cli.out
    assert cli("vote", "res-1", "yes") == 0, cli.err
    assert "status: passed" in cli.out
    assert cli("recuse", "res-1", "--reason", "our subsidiary") == 0
    assert [(r.method, r.path, r.json) for r in cli.requests[2:]] == [
        ("POST", "/v1/resolutions/res-1/votes", {"vote": "yes"}),
        ("POST", "/v1/resolutions/res-1/recusal", {"reason": "our subsidiary"}),
    ]
    assert cli("vote", "res-1", "--json", "--proxy-to", "m-3") == 0
    assert json.loads(cli.out)["id"] == "res-1"
    assert cli.requests[-1].json == {"proxy_to": "m-3"}


def test_vote_needs_a_vote_or_a_proxy(cli: Cli) -> None:
    """Neither, both, or an unknown vote: a usage error, nothing sent."""
    assert cli("vote", "res-1") == EXIT_USAGE
    assert cli("vote", "res-1", "yes", "--proxy-to", "m-3") == EXIT_USAGE
    assert cli("vote", "res-1", "maybe") == EXIT_USAGE
    assert cli.requests == []
