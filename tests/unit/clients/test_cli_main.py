"""The `council` command, run through main() with the client factory seam and a fake broker."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from client_fakes import (
    TOKEN,
    FakeBroker,
    error_json,
    item_json,
    member_json,
    summary_json,
)

from clients.cli.main import (
    EXIT_AUTH,
    EXIT_ERROR,
    EXIT_NOT_FOUND,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    main,
    run,
)
from clients.sdk import CallableTransport, CouncilClient, Request, Response, TransportError

URL = "https://broker.test"
SUBMIT = [
    "submit",
    "--kind",
    "analysis",
    "--title",
    "Loader drops a signed DLL",
    "--body",
    "Seen on two customers.",
    "--tlp",
    "amber",
    "--confidence",
    "unconfirmed",
    "--group",
    "tier_one_group",
]
SUBMITTED = {
    "id": "it-9",
    "version": 1,
    "recipients": 4,
    "dropped": {"refuses_secrets": 1, "no_handler": 2},
    "pending_consents": [],
}


class Cli:
    """Runs main() against the fake broker and captures what it printed."""

    def __init__(
        self, fake_broker: FakeBroker, capsys: pytest.CaptureFixture[str], home: Path
    ) -> None:
        # A council broker answers /healthz (the command asks it to tell "not found"
        # from "not a council broker", and before following the stream).
        fake_broker.on("GET", "/healthz", {"status": "ok"})
        self.transport = CallableTransport(fake_broker)
        self.capsys = capsys
        self.env: dict[str, str] = {
            "COUNCIL_URL": URL,
            "COUNCIL_TOKEN": TOKEN,
            "HOME": str(home),
            "COLUMNS": "200",
        }
        self.connected: list[tuple[str, str]] = []
        self.out = ""
        self.err = ""

    def factory(self, url: str, token: str) -> CouncilClient:
        self.connected.append((url, token))
        return CouncilClient(url, token, transport=self.transport)

    def __call__(self, *argv: str, env: dict[str, str] | None = None) -> int:
        code = main(list(argv), client_factory=self.factory, env=self.env if env is None else env)
        captured = self.capsys.readouterr()
        self.out, self.err = captured.out, captured.err
        # Whatever happened, the token never reaches the person's screen.
        assert TOKEN not in self.out + self.err
        return code

    @property
    def requests(self) -> list[Request]:
        return self.transport.requests


@pytest.fixture
def cli(fake_broker: FakeBroker, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Cli:
    """The command wired to the fake broker, with COUNCIL_URL/COUNCIL_TOKEN set."""
    return Cli(fake_broker, capsys, tmp_path)


# -- submit ----------------------------------------------------------------------------


def test_submit_prints_id_recipients_and_dropped(cli: Cli, fake_broker: FakeBroker) -> None:
    """submit posts the item and prints its id, recipient count and drop reasons."""
    fake_broker.on("POST", "/v1/items", SUBMITTED, 201)
    assert cli(*SUBMIT, "--secret", "--exclude-attribute", "law_enforcement") == 0
    assert cli.out.splitlines() == [
        "id: it-9",
        "version: 1",
        "recipients: 4",
        "dropped: no_handler 2, refuses_secrets 1",
    ]
    assert cli.requests[0].json == {
        "kind": "analysis",
        "title": "Loader drops a signed DLL",
        "body": "Seen on two customers.",
        "tlp": "AMBER",
        "secret": True,
        "confidence": "unconfirmed",
        "scope": {
            "groups": ["tier_one_group"],
            "members": [],
            "exclude_members": [],
            "exclude_attributes": ["law_enforcement"],
        },
        "derived_from": [],
    }
    assert cli.connected == [(URL, TOKEN)]


def test_submit_no_secret_sends_false(cli: Cli, fake_broker: FakeBroker) -> None:
    """--no-secret states secret=false explicitly."""
    fake_broker.on("POST", "/v1/items", SUBMITTED, 201)
    assert cli(*SUBMIT, "--no-secret") == 0
    assert cli.requests[0].json is not None and cli.requests[0].json["secret"] is False


def test_submit_without_a_secrecy_flag_is_a_usage_error(cli: Cli) -> None:
    """Omitting both --secret and --no-secret exits 2 before anything is sent (art. 18)."""
    assert cli(*SUBMIT) == EXIT_USAGE
    assert "--secret" in cli.err
    assert cli.requests == []


def test_submit_refuses_both_secrecy_flags(cli: Cli) -> None:
    """--secret and --no-secret together is a usage error."""
    assert cli(*SUBMIT, "--secret", "--no-secret") == EXIT_USAGE
    assert cli.requests == []


def test_submit_with_every_scope_option(cli: Cli, fake_broker: FakeBroker, tmp_path: Path) -> None:
    """Members, exclusions, derived_from, due, STIX and a body file all reach the request."""
    fake_broker.on(
        "POST",
        "/v1/items",
        {**SUBMITTED, "pending_consents": [{"source_item_id": "it-0", "provider_id": "m-3"}]},
        201,
    )
    body = tmp_path / "body.txt"
    body.write_text("本文: patch before reboot\n", encoding="utf-8")
    stix = tmp_path / "bundle.json"
    stix.write_text(json.dumps({"type": "bundle", "objects": []}))
    argv = [
        "submit",
        "--kind",
        "countermeasure",
        "--title",
        "Patch X",
        "--body-file",
        str(body),
        "--stix-file",
        str(stix),
        "--tlp",
        "AMBER+STRICT",
        "--no-secret",
        "--group",
        "tier_two",
        "--group",
        "task_force",
        "--member",
        "m-7",
        "--exclude-member",
        "m-8",
        "--exclude-attribute",
        "regulator",
        "--derived-from",
        "it-0",
        "--due",
        "PT4H",
        "--idempotency-key",
        "k-1",
    ]
    assert cli(*argv) == 0
    sent = cli.requests[0]
    assert sent.headers["Idempotency-Key"] == "k-1"
    assert sent.json == {
        "kind": "countermeasure",
        "title": "Patch X",
        "body": "本文: patch before reboot\n",
        "stix": {"type": "bundle", "objects": []},
        "tlp": "AMBER+STRICT",
        "secret": False,
        "scope": {
            "groups": ["tier_two", "task_force"],
            "members": ["m-7"],
            "exclude_members": ["m-8"],
            "exclude_attributes": ["regulator"],
        },
        "derived_from": ["it-0"],
        "feedback": {"due": "PT4H"},
    }
    assert "waiting for consent: item it-0 (provider m-3)" in cli.out


def test_submit_json_prints_the_result(cli: Cli, fake_broker: FakeBroker) -> None:
    """--json prints the broker's result as JSON."""
    fake_broker.on("POST", "/v1/items", SUBMITTED, 201)
    assert cli(*SUBMIT, "--secret", "--json") == 0
    assert json.loads(cli.out) == SUBMITTED


def test_json_flag_also_works_before_the_command(cli: Cli, fake_broker: FakeBroker) -> None:
    """`council --json submit ...` is the same as `council submit ... --json`."""
    fake_broker.on("POST", "/v1/items", SUBMITTED, 201)
    assert cli("--json", *SUBMIT, "--secret") == 0
    assert json.loads(cli.out)["id"] == "it-9"


def test_submit_with_an_unreadable_body_file_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    """A body file that cannot be read exits 2 with the path, sending nothing."""
    missing = tmp_path / "nope.txt"
    argv = [a if a != "--body" else "--body-file" for a in SUBMIT]
    argv[argv.index("--body-file") + 1] = str(missing)
    assert cli(*argv, "--secret") == EXIT_USAGE
    assert f"error: cannot read body file {missing}" in cli.err
    assert cli.requests == []


def test_submit_with_a_stix_file_that_is_not_a_bundle(cli: Cli, tmp_path: Path) -> None:
    """A STIX file that is not a JSON object exits 2."""
    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    assert cli(*SUBMIT, "--secret", "--stix-file", str(bad)) == EXIT_USAGE
    assert "must hold a JSON object" in cli.err
    bad.write_text("{nope")
    assert cli(*SUBMIT, "--secret", "--stix-file", str(bad)) == EXIT_USAGE
    assert "is not JSON" in cli.err


def test_submit_refused_by_the_broker_names_the_field(cli: Cli, fake_broker: FakeBroker) -> None:
    """A 422 prints `error: <message> (--flag)`, naming the flag for the field, and exits 1."""
    fake_broker.on(
        "POST",
        "/v1/items",
        error_json("scope_too_wide", "analysis stays in the tier-one group", "scope.groups"),
        422,
    )
    assert cli(*SUBMIT, "--secret") == EXIT_ERROR
    assert cli.err == "error: analysis stays in the tier-one group (--group)\n"
    assert cli.out == ""


# -- inbox -----------------------------------------------------------------------------


INBOX_PAGE = {
    "items": [
        summary_json("it-1", secret=True, tlp="RED"),
        summary_json("it-2", title="Second one"),
    ],
    "next_cursor": None,
}


def test_inbox_prints_a_table(cli: Cli, fake_broker: FakeBroker) -> None:
    """inbox shows one row per item: id, time, TLP, secrecy, provider (by name when the
    caller may know it), kind, confidence, title."""
    fake_broker.on("GET", "/v1/inbox", INBOX_PAGE)
    fake_broker.on("GET", "/v1/roster", {"items": [{"id": "m-2", "name": "Vendor Two"}]})
    assert cli("inbox") == 0
    rule = "─" * 86
    assert cli.out == (
        "id     created (UTC)      TLP      provider     kind       confidence    title\n"
        f"{rule}\n"
        "it-1   2024-05-01 09:30   RED      Vendor Two   analysis   unconfirmed   Title of it-1\n"
        "                          secret\n"
        "it-2   2024-05-01 09:30   AMBER    Vendor Two   analysis   unconfirmed   Second one\n"
    )
    assert cli.requests[0].params == {"limit": "50"}


def test_inbox_on_a_narrow_terminal_keeps_id_tlp_and_title(
    cli: Cli, fake_broker: FakeBroker
) -> None:
    """Below 100 columns the inbox drops provider, kind and confidence, never the id."""
    fake_broker.on("GET", "/v1/inbox", INBOX_PAGE)
    assert cli("inbox", env={**cli.env, "COLUMNS": "80"}) == 0
    assert cli.out.splitlines()[0] == "id     created (UTC)      TLP      title"
    assert cli.out.splitlines()[2] == "it-1   2024-05-01 09:30   RED      Title of it-1"


def test_inbox_oldest_limit_and_cursor(cli: Cli, fake_broker: FakeBroker) -> None:
    """--oldest, --limit and --cursor become query parameters; a next page is announced."""
    fake_broker.on("GET", "/v1/inbox", {"items": [summary_json()], "next_cursor": "c-2"})
    assert cli("inbox", "--oldest", "--limit", "5", "--cursor", "c-1") == 0
    assert cli.requests[0].params == {"limit": "5", "order": "oldest", "cursor": "c-1"}
    assert "more: council inbox --cursor c-2" in cli.out


def test_inbox_empty(cli: Cli, fake_broker: FakeBroker) -> None:
    """An empty inbox says so instead of printing an empty table."""
    fake_broker.on("GET", "/v1/inbox", {"items": [], "next_cursor": None})
    assert cli("inbox") == 0
    assert cli.out == "inbox is empty\n"


def test_inbox_json(cli: Cli, fake_broker: FakeBroker) -> None:
    """inbox --json prints the page as JSON."""
    page = {"items": [summary_json()], "next_cursor": None}
    fake_broker.on("GET", "/v1/inbox", page)
    assert cli("inbox", "--json") == 0
    assert json.loads(cli.out)["items"][0]["id"] == "it-1"


@pytest.mark.parametrize("limit", ["0", "-1", "many"])
def test_inbox_limit_must_be_a_positive_number(cli: Cli, limit: str) -> None:
    """A limit below 1 or not a number is a usage error."""
    assert cli("inbox", "--limit", limit) == EXIT_USAGE
    assert cli.requests == []


# -- show ------------------------------------------------------------------------------


def test_show_prints_the_item_with_its_handling(cli: Cli, fake_broker: FakeBroker) -> None:
    """show prints the title, TLP, effective ceiling, provenance, masked victim, notes and body."""
    fake_broker.on("GET", "/v1/items/it-1", item_json())
    assert cli("show", "it-1") == 0
    assert cli.out == (
        "Block outbound SMB\n"
        "  id            it-1 (version 2)\n"
        "  kind          countermeasure\n"
        "  confidence    low\n"
        "  TLP           AMBER\n"
        "  secret        yes\n"
        "  effective     TLP AMBER+STRICT, secret yes\n"
        "  provider      m-2\n"
        "  status        active\n"
        "  created       2024-05-01 09:30 UTC\n"
        "  feedback due  2024-05-01 13:30 UTC\n"
        "  derived from  it-0 (analysis, TLP RED, from m-3)\n"
        "  victim        (masked), damage yes\n"
        "handling:\n"
        "  TLP AMBER+STRICT; may re-share: no\n"
        "  audience: your organisation only\n"
        "  - Inside your organisation only (TLP AMBER+STRICT)\n"
        "  - Handlers only\n"
        "STIX bundle: 1 object(s) (see --json)\n"
        "\n"
        "Apply the vendor patch before reboot.\n"
    )


def test_show_names_the_victim_for_the_provider(cli: Cli, fake_broker: FakeBroker) -> None:
    """When the broker sends the victim's name (provider, coordinator) it is shown."""
    fake_broker.on(
        "GET", "/v1/items/it-1", item_json(victim={"name": "Water Co.", "damage": False})
    )
    assert cli("show", "it-1") == 0
    assert "  victim        Water Co., damage no\n" in cli.out


def test_show_a_withdrawn_item(cli: Cli, fake_broker: FakeBroker) -> None:
    """A withdrawn item shows that its content is gone."""
    fake_broker.on(
        "GET",
        "/v1/items/it-1",
        item_json(body=None, stix=None, status="withdrawn", handling=None, victim=None),
    )
    assert cli("show", "it-1") == 0
    assert "(content withdrawn)" in cli.out
    assert "withdrawn" in cli.out


def test_show_json(cli: Cli, fake_broker: FakeBroker) -> None:
    """show --json prints the whole item, unknown fields included."""
    fake_broker.on("GET", "/v1/items/it-1", item_json(reactions=3))
    assert cli("show", "it-1", "--json") == 0
    printed = json.loads(cli.out)
    assert printed["handling"]["notes"][1] == "Handlers only" and printed["reactions"] == 3


def test_show_not_found_exits_3(cli: Cli, fake_broker: FakeBroker) -> None:
    """An item the caller may not see prints the broker's message and exits 3."""
    assert cli("show", "it-404") == EXIT_NOT_FOUND
    assert cli.err == "error: not found\n"
    assert cli.out == ""


def test_broker_text_cannot_drive_the_terminal(cli: Cli, fake_broker: FakeBroker) -> None:
    """Escape sequences, bidi overrides and rich markup from the broker are printed inert."""
    hostile = "[red]fake[/red] \x1b]8;;https://evil.test\x07click\x1b[2J \u202eevil"
    fake_broker.on("GET", "/v1/items/it-1", item_json(title=hostile, body=hostile))
    fake_broker.on(
        "GET", "/v1/inbox", {"items": [summary_json(title=hostile)], "next_cursor": None}
    )
    for argv in (("show", "it-1"), ("inbox",), ("show", "it-1", "--json")):
        assert cli(*argv) == 0
        assert "\x1b" not in cli.out and "\x07" not in cli.out and "\u202e" not in cli.out
    assert cli("show", "it-1") == 0
    assert "[red]fake[/red]" in cli.out
    assert "\\u001b]8;;https://evil.test\\u0007click" in cli.out


# -- obligations, answer, feedback, consult --------------------------------------------


def test_obligations_table(cli: Cli, fake_broker: FakeBroker) -> None:
    """obligations lists what is owed with its due time."""
    fake_broker.on(
        "GET",
        "/v1/obligations",
        {
            "items": [
                {
                    "item_id": "it-5",
                    "due": "2024-05-01T13:30:00Z",
                    "kind": "answer",
                    "status": "open",
                    "title": "Block outbound SMB",
                }
            ],
            "next_cursor": None,
        },
    )
    assert cli("obligations") == 0
    assert cli.out.splitlines() == [
        "item   due (UTC)          kind     status   title",
        "─" * 62,
        "it-5   2024-05-01 13:30   answer   open     Block outbound SMB",
    ]


def test_obligations_none_and_json(cli: Cli, fake_broker: FakeBroker) -> None:
    """With nothing owed the command says so; --json prints a list."""
    fake_broker.on("GET", "/v1/obligations", {"items": [], "next_cursor": None})
    assert cli("obligations") == 0
    assert cli.out == "nothing owed\n"
    assert cli("obligations", "--json") == 0
    assert json.loads(cli.out) == []


def test_answer_sends_verdict_and_comment(cli: Cli, fake_broker: FakeBroker) -> None:
    """answer posts the verdict and the comment to the item's feedback."""
    fake_broker.on("POST", "/v1/items/it-5/feedback", {"verdict": "not_came"}, 201)
    assert cli("answer", "it-5", "not_came", "--comment", "nothing in our logs") == 0
    assert cli.requests[0].json == {"verdict": "not_came", "comment": "nothing in our logs"}
    assert cli.out == "answered it-5: not_came\n"


def test_answer_refuses_an_unknown_verdict(cli: Cli) -> None:
    """A verdict outside the six known ones is a usage error."""
    assert cli("answer", "it-5", "maybe") == EXIT_USAGE
    assert "invalid choice" in cli.err


def test_answer_the_broker_refuses(cli: Cli, fake_broker: FakeBroker) -> None:
    """A 409 from the broker (already answered) exits 1 with its message."""
    fake_broker.on(
        "POST", "/v1/items/it-5/feedback", error_json("already_answered", "already answered"), 409
    )
    assert cli("answer", "it-5", "came") == EXIT_ERROR
    assert cli.err == "error: already answered\n"


def test_feedback_renders_answers_and_counts(cli: Cli, fake_broker: FakeBroker) -> None:
    """feedback shows individual answers as a table and counts as lines."""
    fake_broker.on(
        "GET",
        "/v1/items/it-1/feedback",
        {
            "item_id": "it-1",
            "counts": {"came": 2, "not_came": 1},
            "answers": [
                {"member_id": "m-4", "verdict": "came", "comment": None, "on_time": True},
                {"member_id": "m-5", "verdict": "not_came", "comment": "clean", "on_time": False},
            ],
            "tags": ["urgent"],
        },
    )
    assert cli("feedback", "it-1") == 0
    out = cli.out
    assert "item_id: it-1" in out
    assert "  came: 2" in out
    assert next(line for line in out.splitlines() if "m-5" in line).count("clean") == 1
    assert "  - urgent" in out
    assert cli("feedback", "it-1", "--json") == 0
    assert json.loads(cli.out)["counts"] == {"came": 2, "not_came": 1}


def test_consult_stays_anonymous_unless_asked(cli: Cli, fake_broker: FakeBroker) -> None:
    """consult sends reveal_identity=false by default and true with --reveal-identity."""
    fake_broker.on("POST", "/v1/consultations", {"id": "c-1"}, 201)
    assert cli("consult", "--title", "odd DNS", "--body", "something feels off") == 0
    assert "consultation: c-1" in cli.out and "coordinator only" in cli.out
    assert cli("consult", "--title", "odd DNS", "--body", "x", "--reveal-identity") == 0
    assert [r.json for r in cli.requests] == [
        {"title": "odd DNS", "body": "something feels off", "reveal_identity": False},
        {"title": "odd DNS", "body": "x", "reveal_identity": True},
    ]
    assert cli("consult", "--title", "t", "--body", "b", "--json") == 0
    assert json.loads(cli.out)["id"] == "c-1"


# -- configuration, errors and the token -----------------------------------------------


def _write_config(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_config_file_supplies_url_and_token(
    cli: Cli, fake_broker: FakeBroker, tmp_path: Path
) -> None:
    """Without env or flags, url and token come from the file named by COUNCIL_CONFIG."""
    config = _write_config(
        tmp_path / "c.toml", f'url = "https://file.test"\ntoken = "{TOKEN}-file"\n'
    )
    fake_broker.on("GET", "/v1/obligations", {"items": []})
    assert cli("obligations", env={"COUNCIL_CONFIG": str(config), "HOME": str(tmp_path)}) == 0
    assert cli.connected == [("https://file.test", f"{TOKEN}-file")]
    assert cli.err == ""


def test_default_config_path_is_under_home(
    cli: Cli, fake_broker: FakeBroker, tmp_path: Path
) -> None:
    """Without COUNCIL_CONFIG the file is ~/.config/council/config.toml."""
    (tmp_path / ".config" / "council").mkdir(parents=True)
    _write_config(
        tmp_path / ".config" / "council" / "config.toml",
        f'url = "https://home.test"\ntoken = "{TOKEN}"\n',
    )
    fake_broker.on("GET", "/v1/obligations", {"items": []})
    assert cli("obligations", env={"HOME": str(tmp_path)}) == 0
    assert cli.connected == [("https://home.test", TOKEN)]


def test_env_beats_the_file_and_flags_beat_env(
    cli: Cli, fake_broker: FakeBroker, tmp_path: Path
) -> None:
    """Flags override the environment, which overrides the config file."""
    config = _write_config(tmp_path / "c.toml", 'url = "https://file.test"\ntoken = "file-token"\n')
    fake_broker.on("GET", "/v1/obligations", {"items": []})
    env = {"COUNCIL_CONFIG": str(config), "COUNCIL_URL": "https://env.test", "HOME": str(tmp_path)}
    assert cli("obligations", env=env) == 0
    assert cli("--url", "https://flag.test", "--token", "flag-token-1", "obligations", env=env) == 0
    assert cli("obligations", "--url", "https://late.test", env=env) == 0
    assert cli.connected == [
        ("https://env.test", "file-token"),
        ("https://flag.test", "flag-token-1"),
        ("https://late.test", "file-token"),
    ]


def test_missing_url_or_token_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    """With no URL the command exits 2, with no token 4 (not signed in); each says where
    to put it."""
    assert cli("inbox", env={"HOME": str(tmp_path)}) == EXIT_USAGE
    assert cli.err.startswith("error: no broker URL")
    assert cli("inbox", env={"HOME": str(tmp_path), "COUNCIL_URL": URL}) == EXIT_AUTH
    assert cli.err.startswith("error: not signed in (no token): set COUNCIL_TOKEN")
    assert cli.connected == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("url = [", "not valid TOML"),
        ("url = 5\n", "url must be a string"),
        (None, "does not exist"),
    ],
)
def test_a_bad_config_file_is_a_usage_error(
    cli: Cli, tmp_path: Path, content: str | None, message: str
) -> None:
    """An explicit config file that is missing, malformed or mistyped exits 2."""
    path = tmp_path / "c.toml"
    if content is not None:
        _write_config(path, content)
    assert cli("inbox", env={"COUNCIL_CONFIG": str(path), "HOME": str(tmp_path)}) == EXIT_USAGE
    assert message in cli.err


def test_a_config_others_can_read_draws_a_warning(
    cli: Cli, fake_broker: FakeBroker, tmp_path: Path
) -> None:
    """A token file readable by group or others works but warns to chmod 600."""
    config = _write_config(tmp_path / "c.toml", f'url = "{URL}"\ntoken = "{TOKEN}"\n', 0o644)
    fake_broker.on("GET", "/v1/obligations", {"items": []})
    assert cli("obligations", env={"COUNCIL_CONFIG": str(config)}) == 0
    assert f"warning: config file {config} is readable by others" in cli.err


def test_plain_http_to_a_remote_host_draws_a_warning(cli: Cli, fake_broker: FakeBroker) -> None:
    """A token sent over plain http to another machine warns; loopback does not."""
    fake_broker.on("GET", "/v1/obligations", {"items": []})
    assert cli("obligations", env={**cli.env, "COUNCIL_URL": "http://broker.test"}) == 0
    assert "plain http" in cli.err
    assert cli("obligations", env={**cli.env, "COUNCIL_URL": "http://127.0.0.1:8080"}) == 0
    assert cli.err == ""


def test_a_url_that_is_not_http_is_a_usage_error(cli: Cli) -> None:
    """A broker URL without http(s) exits 2."""
    assert cli("inbox", env={**cli.env, "COUNCIL_URL": "broker.test"}) == EXIT_USAGE
    assert "base_url must be an http(s) URL" in cli.err


def test_unauthorized_exits_4_and_says_how_to_sign_in(cli: Cli, fake_broker: FakeBroker) -> None:
    """A 401 exits 4 (not signed in), with the broker's fix or the command's own."""
    fake_broker.on("GET", "/v1/inbox", error_json("unauthorized", "token revoked"), 401)
    assert cli("inbox") == EXIT_AUTH
    assert cli.err == (
        "error: the broker refused the token: token revoked\n"
        "  fix: set COUNCIL_TOKEN to a valid token; your member's administrator makes new "
        "ones (council users add)\n"
    )
    body = error_json("unauthorized", "token expired")
    body["error"]["fix"] = "ask for a new token"
    fake_broker.on("GET", "/v1/inbox", body, 401)
    assert cli("inbox") == EXIT_AUTH
    assert cli.err.splitlines()[1] == "  fix: ask for a new token"


def test_a_broker_error_exits_1_and_a_proxy_page_exits_5(cli: Cli, fake_broker: FakeBroker) -> None:
    """A 5xx from the broker exits 1; a proxy's 503 page means the broker is not reachable."""
    fake_broker.on("GET", "/v1/inbox", error_json("internal", "internal error"), 500)
    assert cli("inbox") == EXIT_ERROR
    assert cli.err == "error: internal error\n"
    fake_broker.on("GET", "/v1/inbox", Response(503, body=b"<html>down</html>"))
    assert cli("inbox") == EXIT_UNREACHABLE
    assert cli.err == (
        f"error: cannot reach the broker at {URL}: the proxy in front of it answered "
        "503 Service Unavailable: is the broker running?\n"
    )


def test_a_refusal_shows_the_broker_fix(cli: Cli, fake_broker: FakeBroker) -> None:
    """When the error body carries a fix, it is printed under the message."""
    body = error_json("forbidden", "only registered handlers may submit secret items")
    body["error"]["fix"] = "register this user as a handler (council handlers add MEMBER USER)"
    fake_broker.on("POST", "/v1/items", body, 403)
    assert cli(*SUBMIT, "--secret") == EXIT_ERROR
    assert cli.err == (
        "error: only registered handlers may submit secret items\n"
        "  fix: register this user as a handler (council handlers add MEMBER USER)\n"
    )


def test_every_problem_is_named_by_its_flag(cli: Cli, fake_broker: FakeBroker) -> None:
    """A 422 listing several problems prints each, named by the flag that fills the field."""
    body = error_json("invalid", "scope.groups.0: bad; feedback.due: bad", "scope.groups.0")
    body["error"]["problems"] = [
        {"field": "scope.groups.0", "message": "not a group"},
        {"field": "feedback.due", "message": "not an ISO 8601 duration or time"},
    ]
    fake_broker.on("POST", "/v1/items", body, 422)
    assert cli(*SUBMIT, "--secret") == EXIT_ERROR
    assert cli.err == (
        "error: 2 problems:\n  --group: not a group\n  --due: not an ISO 8601 duration or time\n"
    )


def test_not_a_council_broker(cli: Cli, fake_broker: FakeBroker) -> None:
    """A server that is not a council broker is named so (exit 5), whatever it answers."""
    fake_broker.on("GET", "/v1/inbox", Response(404, body=b"<h1>Not Found</h1>"))
    assert cli("inbox") == EXIT_UNREACHABLE
    assert cli.err == (
        f"error: {URL} is not a council broker (HTTP 404 Not Found, without the broker's "
        "error body): check --url or COUNCIL_URL\n"
    )
    fake_broker.on("GET", "/v1/inbox", Response(200, body=b"<html>welcome</html>"))
    assert cli("inbox") == EXIT_UNREACHABLE
    assert "is not a council broker (the broker's answer is not JSON" in cli.err
    # A JSON 404 on every path, /healthz included: a broker's API is not at this URL.
    del fake_broker.routes[("GET", "/healthz")]
    assert cli("show", "it-1") == EXIT_UNREACHABLE
    assert cli.err == (
        f"error: {URL} is not a council broker (no /healthz there): check --url or COUNCIL_URL\n"
    )


def test_an_unreachable_broker_exits_5(cli: Cli, fake_broker: FakeBroker) -> None:
    """A transport failure prints the transport's one line and exits 5, no traceback."""

    def down(request: Request) -> Response:
        raise TransportError(
            "cannot reach the broker at https://broker.test: is it running?", "unreachable"
        )

    fake_broker.on("GET", "/v1/inbox", down)
    assert cli("inbox") == EXIT_UNREACHABLE
    assert cli.err == "error: cannot reach the broker at https://broker.test: is it running?\n"


ECHOES: list[Callable[[Cli, FakeBroker], int]] = [
    lambda cli, fake_broker: cli("show", "it-1"),
    lambda cli, fake_broker: cli("show", "it-1", "--json"),
    lambda cli, fake_broker: cli("inbox"),
    lambda cli, fake_broker: cli("answer", "it-1", "came"),
    lambda cli, fake_broker: cli("feedback", "it-1"),
]


@pytest.mark.parametrize("run", ECHOES)
def test_the_token_is_redacted_even_when_the_broker_echoes_it(
    cli: Cli, fake_broker: FakeBroker, run: Callable[[Cli, FakeBroker], int]
) -> None:
    """Output that would contain the token shows [redacted] instead (Cli asserts its absence)."""
    echo = f"debug: Bearer {TOKEN}"
    fake_broker.on("GET", "/v1/items/it-1", item_json(title=echo, body=echo))
    fake_broker.on("GET", "/v1/inbox", {"items": [summary_json(title=echo)], "next_cursor": None})
    fake_broker.on("POST", "/v1/items/it-1/feedback", error_json("bad", echo), 409)
    fake_broker.on("GET", "/v1/items/it-1/feedback", {"note": echo})
    run(cli, fake_broker)
    assert "[redacted]" in cli.out + cli.err


def test_a_token_given_on_the_command_line_never_echoes(cli: Cli) -> None:
    """Even a usage error that repeats argv hides a --token value."""
    assert cli("--token", TOKEN, "inbox", "--bogus", TOKEN) == EXIT_USAGE
    assert "--bogus" in cli.err  # and not the token (Cli asserts)
    assert cli("--token", TOKEN, "inbox", "--oldest", TOKEN) == EXIT_USAGE
    assert "[redacted]" in cli.err
    assert cli(f"--token={TOKEN}", "inbox", TOKEN) == EXIT_USAGE
    assert "[redacted]" in cli.err


def test_a_token_from_the_config_file_never_echoes(
    cli: Cli, fake_broker: FakeBroker, tmp_path: Path
) -> None:
    """A token read from the config file is redacted like one from the environment."""
    config = _write_config(tmp_path / "c.toml", f'url = "{URL}"\ntoken = "{TOKEN}"\n')
    fake_broker.on("GET", "/v1/items/it-1", item_json(title=TOKEN))
    assert cli("show", "it-1", env={"COUNCIL_CONFIG": str(config)}) == 0
    assert cli.out.startswith("[redacted]\n")


def test_help_exits_0_and_lists_the_commands(cli: Cli) -> None:
    """--help prints usage with every command and exits 0."""
    assert cli("--help") == 0
    for command in ("submit", "inbox", "show", "obligations", "answer", "feedback", "consult"):
        assert command in cli.out


def test_no_command_is_a_usage_error(cli: Cli) -> None:
    """Running without a command exits 2 with usage on stderr."""
    assert cli() == EXIT_USAGE
    assert cli.err.startswith("usage: council")


def test_abbreviated_flags_are_not_accepted(cli: Cli) -> None:
    """`--tok` is not taken to mean --token."""
    assert cli("--tok", "x", "inbox") == EXIT_USAGE


def test_main_reads_sys_argv_and_os_environ_by_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Called with no arguments, main uses sys.argv and the process environment."""
    monkeypatch.setattr("sys.argv", ["council", "inbox"])
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("COUNCIL_URL", raising=False)
    monkeypatch.delenv("COUNCIL_TOKEN", raising=False)
    monkeypatch.delenv("COUNCIL_CONFIG", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert main() == EXIT_USAGE
    assert "no broker URL" in capsys.readouterr().err


def test_body_file_dash_reads_stdin(
    cli: Cli, fake_broker: FakeBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--body-file - takes the text from standard input."""
    monkeypatch.setattr("sys.stdin", io.StringIO("piped analysis\n"))
    fake_broker.on("POST", "/v1/consultations", {"id": "c-1"}, 201)
    assert cli("consult", "--title", "t", "--body-file", "-") == 0
    assert cli.requests[0].json is not None
    assert cli.requests[0].json["body"] == "piped analysis\n"


async def test_run_is_the_command_as_a_coroutine(
    fake_broker: FakeBroker, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """run() does what main() does, inside an event loop that is already running."""
    transport = CallableTransport(fake_broker)
    fake_broker.on("GET", "/v1/obligations", {"items": [], "next_cursor": None})
    code = await run(
        ["obligations"],
        client_factory=lambda url, token: CouncilClient(url, token, transport=transport),
        env={"COUNCIL_URL": URL, "COUNCIL_TOKEN": TOKEN, "HOME": str(tmp_path)},
    )
    assert code == 0
    assert capsys.readouterr().out == "nothing owed\n"


def test_follow_prints_each_event_until_the_broker_ends_the_stream(
    cli: Cli, fake_broker: FakeBroker
) -> None:
    """`council follow` prints one line per event and says why the stream ended."""
    frame = {"id": "7", "event": "item", "data": {"id": "it-1", "tlp": "AMBER\x1b[2J"}}
    body = (
        f"id: 7\nevent: item\ndata: {json.dumps(frame)}\n\nevent: closed\ndata: access_changed\n\n"
    ).encode()
    fake_broker.on("GET", "/v1/stream", Response(200, {"content-type": "text/event-stream"}, body))
    assert cli("follow", "--cursor", "6") == EXIT_ERROR
    assert cli.requests[-1].params == {"cursor": "6"}
    assert "7  item  id=it-1  tlp=AMBER" in cli.out
    assert "\x1b" not in cli.out  # broker values never drive the terminal
    assert "access_changed" in cli.err


def test_follow_says_it_retries_and_backs_off(cli: Cli, fake_broker: FakeBroker) -> None:
    """A dropped stream is retried after a pause, and the command says so on stderr."""
    frame = {"id": "8", "event": "item", "data": {"id": "it-2"}}
    body = (
        f"id: 8\nevent: item\ndata: {json.dumps(frame)}\n\nevent: closed\ndata: access_changed\n\n"
    ).encode()
    attempts: list[int] = []

    def flaky(request: Request) -> Response:
        attempts.append(1)
        if len(attempts) == 1:
            raise TransportError(
                "cannot reach the broker at https://broker.test: is it running?", "unreachable"
            )
        return Response(200, {"content-type": "text/event-stream"}, body)

    fake_broker.on("GET", "/v1/stream", flaky)
    assert cli("follow", "--retries", "3") == EXIT_ERROR
    assert cli.err.splitlines()[0] == (
        "warning: cannot reach the broker at https://broker.test: is it running?; "
        "retrying in 1 s (attempt 1 of 3)"
    )
    assert "8  item  id=it-2" in cli.out


def test_withdraw_asks_first(
    cli: Cli, fake_broker: FakeBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Withdrawal destroys content: without --yes it asks, and a refusal changes nothing."""
    fake_broker.on("POST", "/v1/items/it-1/withdraw", {"id": "it-1", "status": "withdrawn"})
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert cli("withdraw", "it-1") == EXIT_USAGE
    assert "not withdrawn (give --yes to withdraw without asking)" in cli.err
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli("withdraw", "it-1") == EXIT_USAGE
    assert cli.err.endswith("error: stopped: nothing was changed\n")
    assert [r.path for r in cli.requests if r.method == "POST"] == []
    assert cli("withdraw", "it-1", "--yes") == 0
    assert cli.out == "withdrawn: it-1 (its content is destroyed)\n"


def test_commands_refuse_half_given_combinations(cli: Cli) -> None:
    """What Click cannot express is still a usage error (exit 2) before anything is sent."""
    assert cli("members", "set", "m-1") == EXIT_USAGE
    assert "nothing to change" in cli.err
    assert cli("consent", "it-1") == EXIT_USAGE
    assert "give both SOURCE and --derived ITEM" in cli.err
    assert cli("scope", "it-1") == EXIT_USAGE
    assert "--group or --member" in cli.err
    assert cli("submit", *SUBMIT[1:], "--secret", "--body-file", "x") == EXIT_USAGE
    assert "give only one of --body or --body-file" in cli.err
    assert [r for r in cli.requests if r.method != "GET"] == []


def test_members_by_name_and_names_in_tables(cli: Cli, fake_broker: FakeBroker) -> None:
    """A member named by name is found by its id; a table shows names and shortened ids."""
    long_id = "01J9ZC7Q4X6W2M8R5T3V1K0ABC"
    fake_broker.on(
        "GET",
        "/v1/members",
        {"items": [member_json(id=long_id, name="Vendor One")], "next_cursor": None},
    )
    fake_broker.on("GET", f"/v1/members/{long_id}", member_json(id=long_id, name="Vendor One"))
    assert cli("members", "show", "vendor one") == 0
    assert cli.out.startswith(f"Vendor One\n  id               {long_id}\n")
    assert cli("members", "list") == 0
    assert "Vendor One" in cli.out and "…3V1K0ABC" in cli.out and long_id not in cli.out
