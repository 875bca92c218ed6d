"""The README's council setup, driven through the `council` command alone (no SDK, no curl),
against a real broker: members, users, handlers, an analysis, a derived countermeasure,
answers, the ledger, an audit search and an audit verification (and a tampered export)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clients.cli.main import EXIT_ERROR, EXIT_OK, run
from tests.conftest import Broker


class Council:
    """Runs `council` as one token or another against the broker, capturing its output."""

    def __init__(self, broker: Broker, capsys: pytest.CaptureFixture[str], home: Path) -> None:
        self.broker = broker
        self.capsys = capsys
        self.home = home
        self.err = ""

    async def __call__(self, token: str, *argv: str, expect: int = EXIT_OK) -> str:
        env = {
            "COUNCIL_URL": self.broker.url,
            "COUNCIL_TOKEN": token,
            "HOME": str(self.home),
            "COLUMNS": "80",
        }
        code = await run(list(argv), env=env)
        captured = self.capsys.readouterr()
        self.err = captured.err
        assert code == expect, (argv, captured.out, captured.err)
        assert "Traceback" not in captured.out + captured.err
        return captured.out

    async def json(self, token: str, *argv: str) -> dict:  # type: ignore[type-arg]
        out = await self(token, *argv, "--json")
        data = json.loads(out)
        assert isinstance(data, dict)
        return data


async def _member(council: Council, coordinator: str, name: str, *flags: str) -> dict[str, str]:
    """Admit a member, its first admin (by the coordinator), a handler and a plain user."""
    member = await council.json(coordinator, "members", "add", name, *flags)
    first = await council.json(
        coordinator, "users", "add", member["id"], f"{name} admin", "--role", "member_admin"
    )
    admin = first["token"]
    # From here on the member administers itself, naming itself and its users by name.
    handler = await council.json(admin, "users", "add", name, f"{name} handler")
    plain = await council.json(admin, "users", "add", name, f"{name} staff")
    out = await council(admin, "handlers", "add", name, f"{name} handler")
    assert out.startswith("handler ")
    listed = await council(admin, "handlers", "list", name)
    assert f"{name} handler" in listed
    return {
        "id": member["id"],
        "admin": admin,
        "handler": handler["token"],
        "plain": plain["token"],
    }


async def test_the_whole_council_setup_through_council_alone(
    broker: Broker, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Every step of the README's setup is a `council` command, and each one's output says
    what a person needs: names, not ids, where names are known."""
    council = Council(broker, capsys, tmp_path)
    coordinator = broker.admin_token
    vendor_a = await _member(
        council, coordinator, "Vendor A", "--category", "cyber_business", "--tier", "tier_one"
    )
    vendor_b = await _member(
        council,
        coordinator,
        "Vendor B",
        "--category",
        "cyber_business",
        "--tier",
        "tier_one",
        "--listed",
    )
    power = await _member(
        council,
        coordinator,
        "Power Co",
        "--category",
        "critical_infrastructure",
        "--tier",
        "tier_two",
    )
    listing = await council(coordinator, "members", "list")
    for name in ("Vendor A", "Vendor B", "Power Co"):
        assert name in listing
    assert max(len(line) for line in listing.splitlines()) <= 80
    shown = await council(coordinator, "members", "show", "Power Co")
    assert power["id"] in shown and "tier_two" in shown

    # Vendor A's unconfirmed analysis, for the tier-one group, secret.
    analysis = await council.json(
        vendor_a["handler"],
        "submit",
        "--kind",
        "analysis",
        "--title",
        "worm-like spread over SMB",
        "--body",
        "two customers, patched two months ago",
        "--tlp",
        "amber",
        "--secret",
        "--group",
        "tier_one_group",
    )
    inbox = await council(vendor_b["handler"], "inbox")
    assert analysis["id"] in inbox and "worm-like spread" in inbox
    # A plain user of Vendor B is not a handler: the secret analysis is not for it.
    await council(vendor_b["plain"], "show", analysis["id"], expect=3)
    owed = await council(vendor_b["handler"], "obligations")
    assert analysis["id"] in owed
    await council(vendor_b["handler"], "answer", analysis["id"], "confirm", "--comment", "seen")

    # The derived early countermeasure for the task force, with a short due time.
    countermeasure = await council.json(
        vendor_a["handler"],
        "submit",
        "--kind",
        "countermeasure",
        "--title",
        "block outbound SMB",
        "--body",
        "at the perimeter, now",
        "--tlp",
        "AMBER",
        "--secret",
        "--group",
        "task_force",
        "--derived-from",
        analysis["id"],
        "--due",
        "PT4H",
    )
    for pending in countermeasure["pending_consents"]:
        await council(
            vendor_a["handler"],
            "consent",
            pending["source_item_id"],
            "--derived",
            countermeasure["id"],
        )
    opened = await council(power["handler"], "show", countermeasure["id"])
    assert "block outbound SMB" in opened
    assert vendor_a["id"] in opened
    # Power Co may not open the tier-one analysis the countermeasure was derived from.
    assert "derived from  a source you cannot read" in opened
    assert analysis["id"] not in opened
    mine = await council(vendor_a["handler"], "show", countermeasure["id"])
    assert f"provider      Vendor A ({vendor_a['id']})" in mine
    assert f"derived from  {analysis['id']} (analysis, TLP AMBER, from Vendor A)" in mine
    owed = await council(power["handler"], "obligations")
    assert countermeasure["id"] in owed
    assert await council(power["handler"], "answer", countermeasure["id"], "came") == (
        f"answered {countermeasure['id']}: came\n"
    )

    # The provider reads the answers by member name.
    answers = await council(vendor_a["handler"], "feedback", analysis["id"])
    assert "Vendor B" in answers and "confirm" in answers
    answers = await council(vendor_a["handler"], "feedback", countermeasure["id"])
    assert "Power Co" in answers and "came" in answers

    # The coordinator's ledger and audit log, readable at 80 columns like every table.
    ledger = await council(coordinator, "ledger")
    tables = [
        ledger,
        inbox,
        owed,
        answers,
        await council(coordinator, "inbox"),
        await council(coordinator, "audit", "search"),
        await council(vendor_a["admin"], "users", "list", "Vendor A"),
    ]
    assert max(len(line) for text in tables for line in text.splitlines()) <= 80
    assert "Vendor A" in ledger and "Power Co" in ledger
    assert json.loads(await council(coordinator, "ledger", "--json"))["items"]
    search = await council(coordinator, "audit", "search", "--item", analysis["id"])
    assert "item." in search and "Vendor B" in search
    verified = await council(coordinator, "audit", "verify")
    assert verified.startswith("audit log verified: ")
    assert "pin them with --public-key" in council.err

    # An export saved with its keys verifies offline; a tampered copy does not.
    keys = tmp_path / "keys.json"
    keys.write_text(await council(coordinator, "audit", "keys"))
    export = tmp_path / "audit.jsonl"
    await council(coordinator, "audit", "export", "--output", str(export))
    offline = ["audit", "verify", "--export", str(export), "--public-key", str(keys)]
    assert (await council(coordinator, *offline)).startswith("audit log verified: ")
    original = export.read_text().splitlines()
    lines = list(original)
    index = next(i for i, line in enumerate(lines) if json.loads(line)["type"] == "event")
    record = json.loads(lines[index + 2])
    record["outcome"] = "denied" if record["outcome"] != "denied" else "allowed"
    lines[index + 2] = json.dumps(record)
    export.write_text("\n".join(lines) + "\n")
    await council(coordinator, *offline, expect=EXIT_ERROR)
    assert council.err.startswith(
        f"error: audit log fails verification: event {record['seq']} ({record['id']}) was modified"
    )
    # An event deleted from the middle is named too.
    first = next(i for i, line in enumerate(original) if json.loads(line)["type"] == "event")
    deleted = json.loads(original[first + 3])
    export.write_text("\n".join(original[: first + 3] + original[first + 4 :]) + "\n")
    await council(coordinator, *offline, expect=EXIT_ERROR)
    assert council.err.startswith(
        f"error: audit log fails verification: event {deleted['seq']} is missing"
    )
