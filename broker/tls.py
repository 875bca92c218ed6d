"""TLS on the broker: the server's SSL context, the client-certificate binding,
and the private CA `council-broker tls init` keeps in the data directory.

The binding (mutual TLS): a client certificate names its user by a URI in its
subjectAltName, `urn:council:user:<user id>` (`user_uri`). Only the URI
counts, never the subject's CN, so a CA that also issues certificates to
people cannot name a broker user by accident. The certificate is verified
against `client_ca` during the handshake (an unknown or invalid one ends the
handshake); the bearer token is still required and must be that user's.
"""

from __future__ import annotations

import os
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from broker.crypto import CertifiedKey, issue_certificate, new_certificate_authority

__all__ = [
    "USER_URI_PREFIX",
    "CertificateAuthority",
    "TlsFiles",
    "certificate_user",
    "server_context",
    "user_uri",
]

USER_URI_PREFIX = "urn:council:user:"

# TLS 1.2 suites: forward secrecy (ECDHE) and AEAD only. TLS 1.3 suites are all
# of that already and are not configured by this string.
_TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


def user_uri(user_id: str) -> str:
    """The subjectAltName URI that binds a client certificate to `user_id`."""
    return USER_URI_PREFIX + user_id


def server_context(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """The broker's SSL context: TLS 1.2 at least, 1.3 preferred (OpenSSL picks
    the highest both sides speak), 1.0 and 1.1 refused in the handshake.

    With `client_ca`, a client may present a certificate and it must verify
    against that CA (CERT_OPTIONAL: OpenSSL still refuses an invalid one). A
    client without one can reach the public endpoints (health, readiness,
    roster); every authenticated request then needs one (`certificate_user`).
    ValueError with a one-line reason when a file does not load.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(_TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.options |= ssl.OP_NO_RENEGOTIATION
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(
            f"cannot load the TLS certificate {cert} with key {key}: {_why(exc)}"
        ) from None
    if client_ca is not None:
        try:
            context.load_verify_locations(cafile=client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"cannot load the client CA {client_ca}: {_why(exc)}") from None
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc.args[-1] if exc.args else exc)


def certificate_user(transport: Any) -> str | None:
    """The user id the connection's verified client certificate names, or None.

    `transport` is the request's asyncio transport; without TLS, or without a
    certificate, there is none. A certificate naming several users names none.
    """
    if transport is None:
        return None
    peer = transport.get_extra_info("peercert")
    if not peer:
        return None
    users = {
        value.removeprefix(USER_URI_PREFIX)
        for kind, value in peer.get("subjectAltName", ())
        if kind == "URI" and value.startswith(USER_URI_PREFIX)
    }
    return users.pop() if len(users) == 1 else None


@dataclass(frozen=True)
class TlsFiles:
    """Where `tls init` keeps the CA and the server certificate: `<data dir>/tls/`."""

    root: Path

    @classmethod
    def of(cls, data_dir: Path) -> TlsFiles:
        """The TLS files of a data directory."""
        return cls(data_dir / "tls")

    @property
    def ca_cert(self) -> Path:
        """The CA certificate: what clients trust (`COUNCIL_CA`) and `--client-ca`."""
        return self.root / "ca.pem"

    @property
    def ca_key(self) -> Path:
        """The CA's private key (0600): it signs server and client certificates."""
        return self.root / "ca-key.pem"

    @property
    def server_cert(self) -> Path:
        """The server certificate (`--tls-cert`)."""
        return self.root / "server.pem"

    @property
    def server_key(self) -> Path:
        """The server's private key (`--tls-key`, 0600)."""
        return self.root / "server-key.pem"

    def client_cert(self, user_id: str) -> Path:
        """A user's client certificate (`COUNCIL_CLIENT_CERT`)."""
        return self.root / "clients" / f"{user_id}.pem"

    def client_key(self, user_id: str) -> Path:
        """A user's client key (`COUNCIL_CLIENT_KEY`, 0600)."""
        return self.root / "clients" / f"{user_id}-key.pem"


class CertificateAuthority:
    """The private CA of a data directory: made once, then signs certificates."""

    def __init__(self, files: TlsFiles) -> None:
        self.files = files

    def exists(self) -> bool:
        """Whether `tls init` has made the CA already."""
        return self.files.ca_cert.exists() or self.files.ca_key.exists()

    def init(self, *, dns_names: tuple[str, ...], ip_addresses: tuple[str, ...], days: int) -> None:
        """Make the CA and a server certificate for `dns_names` and `ip_addresses`."""
        now = datetime.now(UTC)
        authority = new_certificate_authority(
            f"Council broker CA ({socket.gethostname()})", now=now, days=max(days, 3650)
        )
        _write(self.files.ca_cert, authority.certificate_pem, secret=False)
        _write(self.files.ca_key, authority.key_pem, secret=True)
        server = issue_certificate(
            authority,
            dns_names[0] if dns_names else ip_addresses[0],
            now=now,
            days=days,
            server=True,
            dns_names=dns_names,
            ip_addresses=ip_addresses,
        )
        _write(self.files.server_cert, server.certificate_pem, secret=False)
        _write(self.files.server_key, server.key_pem, secret=True)

    def issue_client(self, user_id: str, *, days: int) -> tuple[Path, Path]:
        """A client certificate bound to `user_id`; returns its certificate and key paths."""
        authority = CertifiedKey(self.files.ca_cert.read_bytes(), self.files.ca_key.read_bytes())
        client = issue_certificate(
            authority,
            user_id,
            now=datetime.now(UTC),
            days=days,
            server=False,
            uris=(user_uri(user_id),),
        )
        cert, key = self.files.client_cert(user_id), self.files.client_key(user_id)
        _write(cert, client.certificate_pem, secret=False)
        _write(key, client.key_pem, secret=True)
        return cert, key


def _write(path: Path, data: bytes, *, secret: bool) -> None:
    """Write a new file (never over an existing one); keys 0600 from the start."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    mode = 0o600 if secret else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
