"""The Click frame of `council`: version, help with defaults and variables, the command
registry, TLP spelling, and `--ca`/COUNCIL_CA trusting a council's own CA over real TLS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from client_fakes import TOKEN, FakeBroker
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from test_cli_main import SUBMIT, SUBMITTED, Cli, cli  # noqa: F401 - `cli` is the fixture

from clients.cli.commands import register
from clients.cli.main import EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, council, run


def test_version(cli: Cli) -> None:  # noqa: F811
    """`council --version` prints the installed package's version and exits 0."""
    assert cli("--version") == EXIT_OK
    assert cli.out.startswith("council, version ")


def test_help_shows_defaults_environment_and_exit_codes(cli: Cli) -> None:  # noqa: F811
    """Help names each variable an option reads, each default, and the exit codes."""
    assert cli("--help") == EXIT_OK
    for name in ("COUNCIL_URL", "COUNCIL_TOKEN", "COUNCIL_CA", "Exit codes"):
        assert name in cli.out
    assert cli("inbox", "--help") == EXIT_OK
    assert "[default: 50; x>=1]" in cli.out


def _leaves(group: click.Group, path: str) -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _leaves(command, f"{path} {name}")
        else:
            found.append((f"{path} {name}", command))
    return found


def test_every_command_takes_json() -> None:
    """--json is accepted after every command's name (and before it, at the top level)."""
    leaves = _leaves(council, "council")
    assert len(leaves) > 20
    for name, command in leaves:
        assert any("--json" in p.opts for p in command.params), name


def test_a_command_registered_twice_is_refused() -> None:
    """Two modules offering the same command name fail at start-up, not by shadowing."""
    with pytest.raises(RuntimeError, match=r"two `council [a-z-]+` commands"):
        register(council)


def test_register_fills_an_empty_group() -> None:
    """register() adds every module's commands to a group."""
    group = click.Group("council")
    register(group)
    assert set(group.commands) == set(council.commands)


@pytest.mark.parametrize("spelling", ["TLP:AMBER", "amber", " Amber "])
def test_tlp_in_any_spelling(cli: Cli, fake_broker: FakeBroker, spelling: str) -> None:  # noqa: F811
    """TLP names are case-insensitive and may carry the `TLP:` prefix."""
    fake_broker.on("POST", "/v1/items", SUBMITTED, 201)
    argv = [*SUBMIT, "--secret"]
    argv[argv.index("--tlp") + 1] = spelling
    assert cli(*argv) == EXIT_OK
    assert cli.requests[0].json is not None and cli.requests[0].json["tlp"] == "AMBER"


def test_white_is_sent_as_clear_with_a_note(cli: Cli, fake_broker: FakeBroker) -> None:  # noqa: F811
    """TLP 1.0's WHITE is sent as CLEAR, and the command says so."""
    fake_broker.on("POST", "/v1/items", SUBMITTED, 201)
    argv = [*SUBMIT, "--secret"]
    argv[argv.index("--tlp") + 1] = "TLP:WHITE"
    assert cli(*argv) == EXIT_OK
    assert cli.requests[0].json is not None and cli.requests[0].json["tlp"] == "CLEAR"
    assert "warning: TLP:WHITE is TLP 1.0; sending its TLP 2.0 name, CLEAR" in cli.err


def test_an_unknown_tlp_is_a_usage_error(cli: Cli) -> None:  # noqa: F811
    """A TLP outside the five labels exits 2, naming the flag and the choices."""
    argv = [*SUBMIT, "--secret"]
    argv[argv.index("--tlp") + 1] = "PURPLE"
    assert cli(*argv) == EXIT_USAGE
    assert "'--tlp'" in cli.err and "CLEAR, GREEN, AMBER, AMBER+STRICT, RED" in cli.err
    assert cli.requests == []


def test_an_unreadable_ca_file_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
    """A CA file that does not exist or is not PEM exits 2 with its path, sending nothing."""
    missing = tmp_path / "missing.pem"
    assert cli("--ca", str(missing), "inbox") == EXIT_USAGE
    assert f"cannot use CA file {missing}" in cli.err
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    assert cli("inbox", env={**cli.env, "COUNCIL_CA": str(garbage)}) == EXIT_USAGE
    assert f"cannot use CA file {garbage}" in cli.err
    assert cli.requests == []


# -- --ca against a real TLS server ----------------------------------------------------


@dataclass
class Tls:
    """A loopback https server whose certificate a private CA signed."""

    url: str
    ca_file: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_pki(root: Path) -> tuple[Path, Path, Path]:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("council test CA"))
        .issuer_name(_name("council test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = root / "ca.pem", root / "cert.pem", root / "key.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


async def _obligations(request: web.Request) -> web.Response:
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    return web.json_response({"items": [], "next_cursor": None})


@pytest.fixture
async def tls(tmp_path: Path) -> AsyncIterator[Tls]:
    """An https server on 127.0.0.1 answering GET /v1/obligations."""
    ca_file, cert_file, key_file = _write_pki(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    app = web.Application()
    app.router.add_get("/v1/obligations", _obligations)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(ssl=context)
    try:
        yield Tls(f"https://127.0.0.1:{server.port}", ca_file)
    finally:
        await server.close()


async def test_ca_file_makes_the_broker_trusted(
    tls: Tls, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the CA the certificate is refused (exit 5, saying how to fix it); with --ca
    or COUNCIL_CA it works."""
    env = {"COUNCIL_URL": tls.url, "COUNCIL_TOKEN": TOKEN, "HOME": str(tmp_path)}
    assert await run(["obligations"], env=env) == EXIT_UNREACHABLE
    assert capsys.readouterr().err.splitlines() == [
        f"error: cannot trust the broker at {tls.url}: its TLS certificate is not signed by a "
        "CA this client trusts (unable to get local issuer certificate)",
        "  fix: give the council's CA certificate with --ca FILE or COUNCIL_CA",
    ]
    assert await run(["--ca", str(tls.ca_file), "obligations"], env=env) == EXIT_OK
    assert capsys.readouterr().out == "nothing owed\n"
    assert await run(["obligations"], env={**env, "COUNCIL_CA": str(tls.ca_file)}) == EXIT_OK
    assert capsys.readouterr().out == "nothing owed\n"


def test_summaries_are_not_cut_at_the_charters_abbreviations(cli: Cli) -> None:  # noqa: F811
    """`council --help` lists each command's first sentence whole, "art. 7" included."""
    assert cli("--help") == EXIT_OK
    for line in cli.out.splitlines():
        assert not line.rstrip().endswith("(art."), line
