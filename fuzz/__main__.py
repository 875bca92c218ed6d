"""`python -m fuzz [--seconds N]`: fuzz the HTTP API against a real broker on 127.0.0.1.

Starts `council-broker serve` on a fresh SQLite data directory, seeds a small
council (the coordinator, two members with a user each, an item), then runs
schemathesis over the broker's own `/openapi.json` once with a member's
token and once with the coordinator's, with the checks that make the
document a contract: no 5xx, bodies and content types as documented, and
only documented statuses. Exit status 0 when both runs pass.

Not part of `make test` (it takes minutes and needs schemathesis); CI runs it
through `make fuzz-api`. Excluded, because a request would leave the machine
or never end: registering a webhook (the dispatcher then posts to whatever
URL the fuzzer made up) and the live stream (a connection that stays open);
and a member's notice of withdrawal, which would end the fuzzing member's
own tokens for the rest of the run (charter art. 7: effective at once).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

CHECKS = (
    "not_a_server_error",
    "response_schema_conformance",
    "content_type_conformance",
    "status_code_conformance",
)
# Operations a fuzzed request must not reach (see the module docstring).
EXCLUDED_OPERATION_IDS = ("post_v1_members_id_webhooks", "post_v1_members_id_withdrawal")
EXCLUDED_PATHS = ("/v1/stream",)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _call(url: str, method: str, path: str, token: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - our own broker on 127.0.0.1
        url + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read() or b"null")


def _wait_ready(url: str, broker: subprocess.Popen[bytes], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if broker.poll() is not None:
            raise SystemExit(f"the broker exited with {broker.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2):  # noqa: S310
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise SystemExit("the broker did not become ready in time")


def _seed(url: str, coordinator: str) -> dict[str, str]:
    """A small council: two members, each with a user; one item shared with the tier-one group."""
    tokens = {"coordinator": coordinator}
    for name, tier in (("Vendor A", "tier_one"), ("Power Co", "tier_one")):
        member = _call(
            url,
            "POST",
            "/v1/members",
            coordinator,
            {"name": name, "category": "cyber_business", "tier": tier},
        )
        user = _call(
            url,
            "POST",
            f"/v1/members/{member['id']}/users",
            coordinator,
            {"name": f"{name} analyst", "role": "member_admin"},
        )
        tokens.setdefault("member", user["token"])
    _call(
        url,
        "POST",
        "/v1/items",
        tokens["member"],
        {
            "kind": "analysis",
            "title": "worm-like spread through a file-sharing service",
            "body": "a known CVE; unpatched hosts infected on boot",
            "tlp": "AMBER",
            "secret": False,
            "scope": {"groups": ["tier_one_group"]},
        },
    )
    return tokens


def _schemathesis(url: str, token: str, seconds: int, report: Path) -> int:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{url}/openapi.json",
        "--url",
        url,
        "--checks",
        ",".join(CHECKS),
        "--header",
        f"Authorization: Bearer {token}",
        "--max-time",
        str(seconds),
        "--request-timeout",
        "20",
        "--continue-on-failure",
        "--seed",
        "20261202",
        # Nothing written into the repository: found examples live with the run.
        "--generation-database",
        ":memory:",
        "--report",
        "junit",
        "--report-dir",
        str(report),
    ]
    for operation_id in EXCLUDED_OPERATION_IDS:
        command += ["--exclude-operation-id", operation_id]
    for path in EXCLUDED_PATHS:
        command += ["--exclude-path", path]
    print(
        "$",
        " ".join(c if "Bearer" not in c else "--header 'Authorization: ***'" for c in command),
        flush=True,
    )
    return subprocess.run(command, check=False).returncode  # noqa: S603 - fixed arguments


def main() -> int:
    """Run the fuzzer; 0 when no check failed with either token."""
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__)
    parser.add_argument("--seconds", type=int, default=90, help="time budget per token")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="council-fuzz-"))
    data_dir = workdir / "data"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "COUNCIL_METRICS_TOKEN": secrets.token_urlsafe(24),
        "COUNCIL_LOG_LEVEL": "warning",
        # The fuzzer is one client sending as fast as it can, unauthenticated
        # probes included: limits tuned against guessing and scraping would
        # answer most of its run 429 and leave the operations untested.
        "COUNCIL_TOKEN_REQUESTS_PER_SECOND": "0",
        "COUNCIL_AUTH_FAILURES_PER_MINUTE": "1000000",
    }
    cli = str(Path(sys.executable).with_name("council-broker"))
    init = subprocess.run(  # noqa: S603 - our own command, fixed arguments
        [cli, "init", "--data-dir", str(data_dir), "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    coordinator = json.loads(init.stdout.strip().splitlines()[-1])["token"]
    log = (workdir / "broker.log").open("wb")
    broker = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
        [cli, "serve", "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        _wait_ready(url, broker)
        tokens = _seed(url, coordinator)
        results = {}
        for who in ("member", "coordinator"):
            print(f"== schemathesis as the {who} ==", flush=True)
            results[who] = _schemathesis(url, tokens[who], args.seconds, workdir / who)
    finally:
        broker.terminate()
        try:
            broker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            broker.kill()
        log.close()
    print(f"fuzz-api: {results}; broker log and reports in {workdir}", flush=True)
    if all(code == 0 for code in results.values()):
        shutil.rmtree(workdir, ignore_errors=True)
        return 0
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
