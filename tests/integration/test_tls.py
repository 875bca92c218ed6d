"""TLS and mutual TLS on a real `council-broker serve` (README, "TLS").

One broker for the module: `tls init` makes its CA and server certificate,
`tls client` a certificate for the first admin and one for a user id that is
not the admin's, and it serves with `--tls-cert --tls-key --client-ca`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from broker.crypto import issue_certificate, new_certificate_authority
from broker.tls import TlsFiles, user_uri
from clients.cli._command import EXIT_ERROR, EXIT_OK
from clients.cli.main import run as council
from clients.sdk import CouncilClient, TlsOptions, TransportError, Unauthorized
from tests.procs import REPO_ROOT, BrokerProcess, Processes, broker_env, init_data_dir


@dataclass
class TlsBroker:
    """The module's broker and the files a client needs."""

    process: BrokerProcess
    files: TlsFiles
    token: str
    user_id: str
    other_cert: Path
    other_key: Path

    @property
    def port(self) -> int:
        """Where it listens, on 127.0.0.1."""
        return self.process.port

    @property
    def url(self) -> str:
        """Its https:// base URL."""
        return self.process.url

    def client_context(self, *, as_admin: bool = False) -> ssl.SSLContext:
        """A client context that trusts the broker's CA (with the admin's certificate)."""
        context = ssl.create_default_context(cafile=self.files.ca_cert)
        if as_admin:
            context.load_cert_chain(
                self.files.client_cert(self.user_id), self.files.client_key(self.user_id)
            )
        return context


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`council-broker ARGS`, to completion."""
    return subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "broker.cli", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    """A broker on HTTPS with mutual TLS, its first admin holding a client certificate."""
    root = tmp_path_factory.mktemp("tls")
    data = root / "data"
    env = broker_env()
    first = asyncio.run(init_data_dir(data, env))
    made = run_cli("tls", "init", "--data-dir", str(data), "--ip", "127.0.0.1", env=env)
    assert made.returncode == 0, made.stderr
    files = TlsFiles.of(data)
    issued = run_cli("tls", "client", "--data-dir", str(data), "--user", first["user_id"], env=env)
    assert issued.returncode == 0, issued.stderr
    other = run_cli("tls", "client", "--data-dir", str(data), "--user", "01OTHERUSER", env=env)
    assert other.returncode == 0, other.stderr
    for key in (files.ca_key, files.server_key, files.client_key(first["user_id"])):
        assert key.stat().st_mode & 0o077 == 0, f"{key} is readable by others"
    procs = Processes(root)
    args = ["--tls-cert", str(files.server_cert), "--tls-key", str(files.server_key)]
    args += ["--client-ca", str(files.ca_cert)]
    process = procs.broker(
        "tls", data, env, args=args, ssl_context=ssl.create_default_context(cafile=files.ca_cert)
    )
    asyncio.run(process.start())
    try:
        yield TlsBroker(
            process,
            files,
            first["token"],
            first["user_id"],
            files.client_cert("01OTHERUSER"),
            files.client_key("01OTHERUSER"),
        )
    finally:
        procs.close()


def https_get(
    broker: TlsBroker, context: ssl.SSLContext, path: str, token: str | None = None
) -> tuple[int, str, dict[str, object]]:
    """One GET over a fresh TLS connection: (status, TLS version, JSON body)."""
    with (
        socket.create_connection(("127.0.0.1", broker.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as conn,
    ):
        version = conn.version() or ""
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        conn.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n".encode()
        )
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    if not answer:
        raise ConnectionAbortedError("the broker closed the connection without an answer")
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, version, json.loads(body) if body else {}


@pytest.mark.parametrize(
    ("version", "name"),
    [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")],
)
def test_tls_1_2_and_1_3_handshakes_succeed(
    tls_broker: TlsBroker, version: ssl.TLSVersion, name: str
) -> None:
    """A client pinned to TLS 1.2, or to 1.3, gets through and is served."""
    context = tls_broker.client_context()
    context.minimum_version = context.maximum_version = version
    status, negotiated, body = https_get(tls_broker, context, "/healthz")
    assert (status, negotiated) == (200, name)
    assert body["status"] == "ok"


def test_tls_1_3_is_preferred(tls_broker: TlsBroker) -> None:
    """A client that speaks both gets TLS 1.3."""
    assert https_get(tls_broker, tls_broker.client_context(), "/healthz")[1] == "TLSv1.3"


def old_tls_client(version: ssl.TLSVersion) -> ssl.SSLContext:
    """A client that speaks only `version` (and does not check the server)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # OpenSSL 3 speaks TLS < 1.2 only at security level 0: let this client try.
    context.set_ciphers("ALL:@SECLEVEL=0")
    with warnings.catch_warnings():
        # Python deprecates these versions too: exactly what this client is for.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = context.maximum_version = version
    return context


def handshake_with_a_permissive_server(files: TlsFiles, client: ssl.SSLContext) -> str:
    """The TLS version `client` gets from a server that accepts TLS 1.0 and up (the control)."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(files.server_cert, files.server_key)
    server.set_ciphers("ALL:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        server.minimum_version = ssl.TLSVersion.TLSv1
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def accept() -> None:
            conn, _ = listener.accept()
            with contextlib.suppress(OSError), server.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"ok")

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        port = listener.getsockname()[1]
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            client.wrap_socket(raw) as conn,
        ):
            version = conn.version() or ""
            conn.recv(2)
        thread.join(10)
    return version


@pytest.mark.parametrize(
    ("version", "name"), [(ssl.TLSVersion.TLSv1, "TLSv1"), (ssl.TLSVersion.TLSv1_1, "TLSv1.1")]
)
def test_tls_1_0_and_1_1_are_refused(
    tls_broker: TlsBroker, version: ssl.TLSVersion, name: str
) -> None:
    """A client that speaks only TLS 1.0 or 1.1 fails its handshake with the broker,
    though it completes one with a server that accepts that version."""
    client = old_tls_client(version)
    assert handshake_with_a_permissive_server(tls_broker.files, client) == name
    with pytest.raises((ssl.SSLError, ConnectionError)):
        https_get(tls_broker, client, "/healthz")


def test_mutual_tls_binds_a_certificate_to_its_user(tls_broker: TlsBroker) -> None:
    """The admin's token works with the admin's certificate only: without a certificate
    or with another user's it is 401; public endpoints need none; refusals are audited."""
    admin = tls_broker.client_context(as_admin=True)
    status, _, body = https_get(tls_broker, admin, "/v1/members", tls_broker.token)
    assert status == 200 and body["items"]

    plain = tls_broker.client_context()
    status, _, body = https_get(tls_broker, plain, "/v1/members", tls_broker.token)
    assert status == 401
    assert "client certificate" in str(body["error"])  # type: ignore[index]
    assert https_get(tls_broker, plain, "/healthz")[0] == 200

    other = tls_broker.client_context()
    other.load_cert_chain(tls_broker.other_cert, tls_broker.other_key)
    status, _, body = https_get(tls_broker, other, "/v1/members", tls_broker.token)
    assert status == 401
    assert "another user" in str(body["error"])  # type: ignore[index]

    status, _, audit = https_get(
        tls_broker, admin, "/v1/audit?action=auth.certificate", tls_broker.token
    )
    assert status == 200
    refusals = {
        (e["reason"], e["details"]["certificate_user"])  # type: ignore[index]
        for e in audit["items"]  # type: ignore[attr-defined]
    }
    assert {("no_certificate", None), ("other_user", "01OTHERUSER")} <= refusals


def test_a_certificate_from_an_unknown_ca_is_refused(tls_broker: TlsBroker) -> None:
    """A certificate naming the admin but signed by another CA never gets an answer."""
    now = datetime.now(UTC)
    stranger_ca = new_certificate_authority("Stranger CA", now=now, days=30)
    forged = issue_certificate(
        stranger_ca,
        tls_broker.user_id,
        now=now,
        days=30,
        server=False,
        uris=(user_uri(tls_broker.user_id),),
    )
    cert = tls_broker.files.root / "forged.pem"
    key = tls_broker.files.root / "forged-key.pem"
    cert.write_bytes(forged.certificate_pem)
    key.write_bytes(forged.key_pem)
    context = tls_broker.client_context()
    context.load_cert_chain(cert, key)
    # TLS 1.3 verifies the client after the handshake: the alert comes on the first read.
    with pytest.raises((ssl.SSLError, ConnectionError)):
        https_get(tls_broker, context, "/v1/members", tls_broker.token)


async def test_the_sdk_trusts_council_ca_and_presents_its_client_certificate(
    tls_broker: TlsBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """COUNCIL_CA, COUNCIL_CLIENT_CERT and COUNCIL_CLIENT_KEY are all the SDK needs;
    without the CA it refuses the broker's certificate; without its certificate the
    broker refuses it."""
    files = tls_broker.files
    monkeypatch.setenv("COUNCIL_CA", str(files.ca_cert))
    monkeypatch.setenv("COUNCIL_CLIENT_CERT", str(files.client_cert(tls_broker.user_id)))
    monkeypatch.setenv("COUNCIL_CLIENT_KEY", str(files.client_key(tls_broker.user_id)))
    async with CouncilClient(tls_broker.url, tls_broker.token) as council:
        members = await council.list_members()
        assert members.items

    trust_only = TlsOptions(ca_file=str(files.ca_cert))
    async with CouncilClient(tls_broker.url, tls_broker.token, tls=trust_only) as council:
        assert (await council.health())["status"] == "ok"
        with pytest.raises(Unauthorized):
            await council.list_members()

    monkeypatch.delenv("COUNCIL_CA")
    monkeypatch.delenv("COUNCIL_CLIENT_CERT")
    monkeypatch.delenv("COUNCIL_CLIENT_KEY")
    async with CouncilClient(tls_broker.url, tls_broker.token) as council:
        with pytest.raises(TransportError, match="certificate"):
            await council.health()


def test_serve_refuses_half_a_tls_configuration_in_one_line(tmp_path: Path) -> None:
    """`--client-ca` without a certificate, or a certificate without its key: exit 2,
    one line that says what to add."""
    env = broker_env(DATA_DIR=str(tmp_path))
    result = run_cli("serve", "--client-ca", str(tmp_path / "ca.pem"), env=env)
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "error: --client-ca needs TLS: give --tls-cert and --tls-key too"
    )
    result = run_cli("serve", "--tls-cert", str(tmp_path / "missing.pem"), env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: TLS needs both --tls-cert and --tls-key"


async def test_the_council_command_presents_its_client_certificate(
    tls_broker: TlsBroker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`council` with COUNCIL_CA, COUNCIL_CLIENT_CERT and COUNCIL_CLIENT_KEY signs in under
    mutual TLS; without the certificate the broker's 401 says what is missing."""
    files = tls_broker.files
    env = {
        "COUNCIL_URL": tls_broker.url,
        "COUNCIL_TOKEN": tls_broker.token,
        "COUNCIL_CA": str(files.ca_cert),
        "HOME": str(tmp_path),
    }
    assert await council(["obligations"], env=env) == EXIT_ERROR
    assert "client certificate" in capsys.readouterr().err
    with_cert = {
        **env,
        "COUNCIL_CLIENT_CERT": str(files.client_cert(tls_broker.user_id)),
        "COUNCIL_CLIENT_KEY": str(files.client_key(tls_broker.user_id)),
    }
    assert await council(["obligations"], env=with_cert) == EXIT_OK, capsys.readouterr().err
