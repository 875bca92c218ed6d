"""Every `council` command against a stopped broker and against a server that is not a
council broker: one clear line on stderr, the documented exit code 5, never a traceback."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import click
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from client_fakes import TOKEN

from clients.cli.main import EXIT_UNREACHABLE, council, run

# Arguments that make each command valid, so the failure is the broker's, not the usage's.
ARGS: dict[str, list[str]] = {
    "access-log": ["it-1"],
    "answer": ["it-1", "came"],
    "audit export": [],
    "audit keys": [],
    "audit search": [],
    "audit verify": [],
    "break-glass": ["it-1", "--reason", "incident 42 needs the content"],
    "consent": [],
    "consult": ["--title", "t", "--body", "b"],
    "consultations list": [],
    "consultations reply": ["c-1", "--body", "b"],
    "consultations reveal": ["c-1"],
    "consultations show": ["c-1"],
    "demo": [],
    "feedback": ["it-1"],
    "follow": [],
    "handlers add": ["m-1", "u-1"],
    "handlers list": ["m-1"],
    "handlers remove": ["m-1", "u-1"],
    "inbox": [],
    "ledger": [],
    "members add": ["Vendor X", "--category", "other"],
    "members list": [],
    "members roster": [],
    "members set": ["m-1", "--listed"],
    "members show": ["m-1"],
    "obligations": [],
    "recuse": ["r-1", "--reason", "we are the subject's parent company"],
    "report": ["leak", "--text", "our analysis was quoted outside"],
    "reports": [],
    "resolution": ["r-1"],
    "resolutions": [],
    "taxii": [],
    "vote": ["r-1", "yes"],
    "scope": ["it-1", "--group", "tier_two"],
    "show": ["it-1"],
    "submit": [
        *("--kind", "notice", "--title", "t", "--body", "b", "--tlp", "CLEAR", "--no-secret"),
    ],
    "users add": ["m-1", "Alice"],
    "users list": ["m-1"],
    "users revoke": ["m-1", "u-1"],
    "users rotate": ["m-1", "u-1"],
    "webhooks add": ["m-1", "https://siem.example/hook"],
    "webhooks list": ["m-1"],
    "webhooks remove": ["m-1", "w-1"],
    "withdraw": ["it-1", "--yes"],
}


def _leaves(group: click.Group, path: str = "") -> list[str]:
    names: list[str] = []
    for name, command in group.commands.items():
        full = f"{path} {name}".strip()
        names += _leaves(command, full) if isinstance(command, click.Group) else [full]
    return names


def test_every_command_is_covered() -> None:
    """A new command must be added here, so that it is run against a broken broker too."""
    assert sorted(_leaves(council)) == sorted(ARGS)


@pytest.fixture
def stopped_url() -> str:
    """A loopback URL where nothing listens (the port was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def _not_a_broker(request: web.Request) -> web.Response:
    return web.Response(status=404, text="<html><h1>Welcome to nginx</h1></html>")


@pytest.fixture
async def web_server_url() -> AsyncIterator[str]:
    """A real web server on loopback that is not a council broker (HTML 404 everywhere)."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _not_a_broker)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def _fails_cleanly(
    command: str, url: str, home: Path, capsys: pytest.CaptureFixture[str]
) -> str:
    env = {"COUNCIL_URL": url, "COUNCIL_TOKEN": TOKEN, "HOME": str(home), "COLUMNS": "80"}
    code = await run([*command.split(), *ARGS[command]], env=env)
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert code == EXIT_UNREACHABLE, (command, captured.err)
    assert len(lines) == 1 and lines[0].startswith("error: "), (command, captured.err)
    assert "Traceback" not in captured.out + captured.err
    return lines[0]


@pytest.mark.parametrize("command", sorted(ARGS))
async def test_a_stopped_broker(
    command: str, stopped_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing listening: `cannot reach the broker at URL: is it running?`, exit 5."""
    line = await _fails_cleanly(command, stopped_url, tmp_path, capsys)
    assert line == f"error: cannot reach the broker at {stopped_url}: is it running?"


@pytest.mark.parametrize("command", sorted(ARGS))
async def test_a_url_that_is_not_a_council_broker(
    command: str, web_server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another web server: `URL is not a council broker`, exit 5."""
    line = await _fails_cleanly(command, web_server_url, tmp_path, capsys)
    assert line.startswith(f"error: {web_server_url} is not a council broker (")
    assert line.endswith("check --url or COUNCIL_URL")
