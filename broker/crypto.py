"""The broker's cryptographic recipes: the only module that imports ``cryptography.hazmat``.

Everything else in the broker calls these few recipes and never chooses an
algorithm, a nonce or a key size itself: a safe recipe layer above hazmat, after
pyca/cryptography's Fernet and MultiFernet.

Recipes
-------
- **Envelope encryption** (SPEC §2: every submission is stored encrypted):
  :func:`seal` encrypts content under a fresh 256-bit data key with AES-256-GCM
  and wraps that data key with the key ring's current key-encryption key (KEK),
  again AES-256-GCM. :func:`open_envelope` reverses it; :func:`rewrap` moves a
  wrapped key to the current KEK (rotation) or re-binds it to new associated
  data (scope change) without touching the content ciphertext.
- **Key ring** (:class:`KeyRing`): versioned KEKs and Ed25519 signing keys for
  audit checkpoints (SPEC §5), kept outside the database in a 0600 JSON file or
  an environment variable.
- **Signatures**: :meth:`KeyRing.sign` and :func:`verify_signature` (Ed25519).
- **Tokens and secrets**: :func:`new_token`, :func:`hash_token`,
  :func:`constant_time_equals`, :func:`hmac_sha256`, :func:`random_secret`.
- **Canonical JSON** (:func:`canonical_json`): the one byte encoding used for
  associated data and hashing across the project.
- **Certificates** (:func:`new_certificate_authority`, :func:`issue_certificate`):
  a private CA and the server and client certificates it signs, for TLS and
  mutual TLS on a closed network (`council-broker tls`).

Errors
------
::

    Exception
     +-- IntegrityFailure   something did not authenticate: tampered ciphertext,
     |                      associated data or wrapped key, wrong or unknown KEK
     +-- KeyRingError       the key ring cannot be created, loaded, parsed or rotated

Neither ever carries key material or plaintext in its message, and neither is
chained to a lower-level exception that might (``raise ... from None``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import stat
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CertifiedKey",
    "Envelope",
    "IntegrityFailure",
    "KeyRing",
    "KeyRingError",
    "canonical_json",
    "constant_time_equals",
    "hash_token",
    "hmac_sha256",
    "issue_certificate",
    "new_certificate_authority",
    "new_token",
    "open_envelope",
    "random_secret",
    "rewrap",
    "seal",
    "verify_signature",
]

_KEY_BYTES: Final = 32  # AES-256 and Ed25519 private/public keys alike
_NONCE_BYTES: Final = 12  # 96-bit GCM nonce: the size GCM is specified and analysed for
_TAG_BYTES: Final = 16
_WRAPPED_KEY_BYTES: Final = _NONCE_BYTES + _KEY_BYTES + _TAG_BYTES
_KEYRING_FORMAT: Final = 1
# A key ring is a few hundred bytes; refusing anything huge stops a mistyped
# path (a log file, a device) from being slurped into memory.
_MAX_KEYRING_FILE_BYTES: Final = 1 << 20
_TOKEN_PREFIX: Final = "cbt_"  # noqa: S105 - a public prefix for secret scanners, not a secret
_TOKEN_BYTES: Final = 32
_MIN_SECRET_BYTES: Final = 16
_CHECK_VALUE_LABEL: Final = b"council-broker key check value v1"


class IntegrityFailure(Exception):
    """Something failed to authenticate: ciphertext, associated data, wrapped key or key.

    Raised by :func:`open_envelope` and :func:`rewrap`. The message says which
    stage failed but never contains key material or plaintext. The project's
    error tree wraps or subclasses it.
    """


class KeyRingError(Exception):
    """The key ring cannot be created, loaded, parsed or rotated; the message says why.

    Messages name the file and the problem, never key material.
    """


# --------------------------------------------------------------------------
# Key ring
# --------------------------------------------------------------------------


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _b64decode_key(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise KeyRingError(f"{what} must be a base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        # from None: the binascii error is harmless, but a chained traceback is
        # the usual way secret strings leak into logs, so chain nothing here.
        raise KeyRingError(f"{what} is not valid base64") from None
    if len(raw) != _KEY_BYTES:
        raise KeyRingError(f"{what} must be {_KEY_BYTES} bytes, got {len(raw)}")
    return raw


def _parse_versioned(section: object, what: str) -> dict[int, bytes]:
    if not isinstance(section, dict) or not section:
        raise KeyRingError(f"{what!r} must be a non-empty object of version -> key")
    keys: dict[int, bytes] = {}
    for name, value in section.items():
        if not (isinstance(name, str) and name.isascii() and name.isdigit() and int(name) > 0):
            raise KeyRingError(f"{what!r} has a version that is not a positive integer")
        keys[int(name)] = _b64decode_key(value, f"{what} version {int(name)}")
    return keys


def _parse_current(doc: Mapping[str, Any], field: str, versions: Mapping[int, bytes]) -> int:
    current = doc.get(field)
    # bool is an int subclass; "current_kek": true is a typo, not version 1.
    if not isinstance(current, int) or isinstance(current, bool) or current not in versions:
        raise KeyRingError(f"{field!r} must name a version present in the key ring")
    return current


class KeyRing:
    """Versioned key-encryption keys and Ed25519 signing keys, kept outside the database.

    A KEK is a 256-bit AES key, identified by a positive integer version; the
    highest-numbered one added by :meth:`rotate` is current and wraps every new
    data key, while older versions stay to unwrap existing envelopes until
    :func:`rewrap` has moved them. Signing keys sign audit checkpoints
    (SPEC §5) and are published by :meth:`public_keys` for offline
    verification.

    Build one with :meth:`create` (new 0600 file), :meth:`load` (existing
    file), :meth:`from_env` (read-only, from an environment variable) or
    :meth:`generate` (in memory, for tests). The storage format is::

        {"format": 1,
         "keks": {"1": "<base64>", ...}, "current_kek": 1,
         "signing_keys": {"1": "<base64 raw Ed25519 seed>"}, "current_signing": 1}

    ``repr`` and ``str`` reveal versions and the file path, never key material.
    """

    def __init__(
        self,
        *,
        keks: Mapping[int, bytes],
        current_kek: int,
        signing_keys: Mapping[int, bytes],
        current_signing: int,
        path: Path | None,
        source: Literal["file", "env", "memory"],
    ) -> None:
        """Build a ring from already-validated raw keys; use the class-method constructors."""
        self._kek_bytes: dict[int, bytes] = dict(keks)
        # AESGCM objects are built once per version, not per seal: key setup is
        # a measurable share of a 4 KiB seal.
        self._keks: dict[int, AESGCM] = {v: AESGCM(k) for v, k in keks.items()}
        self._current_kek = current_kek
        self._signing: dict[int, Ed25519PrivateKey] = {
            v: Ed25519PrivateKey.from_private_bytes(k) for v, k in signing_keys.items()
        }
        self._current_signing = current_signing
        self._path = path
        self._source: Literal["file", "env", "memory"] = source
        # Serialises rotate() within the process; _locked_directory() does so
        # across processes sharing the file.
        self._lock = threading.Lock()

    # -- constructors ---------------------------------------------------------

    @classmethod
    def generate(cls) -> KeyRing:
        """Return a new in-memory ring with KEK version 1 and signing key 1 (for tests)."""
        return cls(
            keks={1: AESGCM.generate_key(bit_length=256)},
            current_kek=1,
            signing_keys={1: Ed25519PrivateKey.generate().private_bytes_raw()},
            current_signing=1,
            path=None,
            source="memory",
        )

    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> KeyRing:
        """Create a new ring and store it at ``path`` with mode 0600.

        Raises :class:`KeyRingError` if ``path`` already exists: an existing
        ring holds the only keys that open existing items, so it is never
        overwritten.
        """
        target = Path(path)
        ring = cls.generate()
        try:
            # O_EXCL claims the name atomically, so two concurrent `init`s cannot
            # both believe they created the ring; the content then arrives by an
            # atomic replace, so no reader ever sees a half-written file.
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            raise KeyRingError(
                f"key ring {target} already exists; refusing to overwrite it"
            ) from None
        os.close(fd)
        ring._path, ring._source = target, "file"
        try:
            _write_atomically(target, _encode_document(ring._document(), pretty=True))
        except BaseException:
            target.unlink(missing_ok=True)  # do not leave an empty placeholder behind
            raise
        return ring

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> KeyRing:
        """Load the ring stored at ``path``; it can rotate and persist back there.

        Raises :class:`KeyRingError` if the file is missing, is not a regular
        file, grants any permission to group or others (it must be 0600 or
        stricter), or is not a valid key ring.
        """
        target = Path(path)
        try:
            # O_NONBLOCK: a FIFO at this path would otherwise block the open
            # forever; it is then refused as not a regular file.
            fd = os.open(target, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except FileNotFoundError:
            raise KeyRingError(f"key ring {target} does not exist") from None
        except PermissionError:
            raise KeyRingError(f"key ring {target} is not readable by this process") from None
        try:
            # fstat on the open descriptor, not stat on the name: the file
            # checked is then the file read, with no window to swap it.
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise KeyRingError(f"key ring {target} is not a regular file")
            mode = stat.S_IMODE(info.st_mode)
            if mode & 0o077:
                raise KeyRingError(
                    f"key ring {target} has mode {mode:#o}; it must not be accessible "
                    f"to group or others (run: chmod 600 {target})"
                )
            raw = _read_at_most(fd, _MAX_KEYRING_FILE_BYTES + 1)
        finally:
            os.close(fd)
        if len(raw) > _MAX_KEYRING_FILE_BYTES:
            raise KeyRingError(f"key ring {target} is too large to be a key ring")
        return cls._from_document(raw, path=target, source="file", origin=f"key ring {target}")

    @classmethod
    def from_env(cls, value: str) -> KeyRing:
        """Load a read-only ring from an environment variable's value (see :meth:`to_env_value`).

        ``value`` is the key-ring JSON, base64-encoded. A ring from the
        environment cannot :meth:`rotate`: there is nowhere to persist the new
        key. Raises :class:`KeyRingError` on malformed input, without echoing it.
        """
        try:
            raw = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise KeyRingError("key ring environment value is not valid base64") from None
        return cls._from_document(raw, path=None, source="env", origin="key ring environment value")

    @classmethod
    def _from_document(
        cls,
        raw: bytes,
        *,
        path: Path | None,
        source: Literal["file", "env", "memory"],
        origin: str,
    ) -> KeyRing:
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            # from None: both exceptions keep the whole document (all the keys)
            # in attributes, and would print it with the traceback.
            raise KeyRingError(f"{origin} is not valid UTF-8 JSON") from None
        if not isinstance(doc, dict):
            raise KeyRingError(f"{origin} must be a JSON object")
        if doc.get("format") != _KEYRING_FORMAT:
            raise KeyRingError(f"{origin} has an unsupported format (expected {_KEYRING_FORMAT})")
        try:
            keks = _parse_versioned(doc.get("keks"), "keks")
            signing = _parse_versioned(doc.get("signing_keys"), "signing_keys")
            current_kek = _parse_current(doc, "current_kek", keks)
            current_signing = _parse_current(doc, "current_signing", signing)
        except KeyRingError as exc:
            raise KeyRingError(f"{origin} is invalid: {exc}") from None
        return cls(
            keks=keks,
            current_kek=current_kek,
            signing_keys=signing,
            current_signing=current_signing,
            path=path,
            source=source,
        )

    # -- serialisation --------------------------------------------------------

    def _document(self, *, extra_kek: tuple[int, bytes] | None = None) -> dict[str, object]:
        """The storage document; ``extra_kek`` adds a KEK version and makes it current."""
        keks = dict(self._kek_bytes)
        current_kek = self._current_kek
        if extra_kek is not None:
            current_kek, new_key = extra_kek
            keks[current_kek] = new_key
        return {
            "format": _KEYRING_FORMAT,
            "keks": {str(v): _b64encode(k) for v, k in sorted(keks.items())},
            "current_kek": current_kek,
            "signing_keys": {
                str(v): _b64encode(k.private_bytes_raw()) for v, k in sorted(self._signing.items())
            },
            "current_signing": self._current_signing,
        }

    def to_env_value(self) -> str:
        """Return the whole ring as one base64 string for an environment variable.

        The value IS the key material: put it only in a secret store.
        """
        return _b64encode(_encode_document(self._document(), pretty=False))

    # -- KEKs -----------------------------------------------------------------

    @property
    def current_kek_version(self) -> int:
        """The KEK version that wraps new data keys."""
        return self._current_kek

    @property
    def kek_versions(self) -> tuple[int, ...]:
        """Every KEK version held, ascending: those below the current one await rewrap."""
        return tuple(sorted(self._keks))

    def check_value(self, kek_version: int) -> str | None:
        """A key check value for KEK `kek_version` (None if the ring lacks it).

        16 hex digits of HMAC-SHA256(KEK, a fixed label): equal values mean the
        same key, and the value reveals nothing usable about the key. Backups
        record the values of the versions they need, so a restore can say
        exactly which key is missing or wrong without the key being copied.
        """
        key = self._kek_bytes.get(kek_version)
        if key is None:
            return None
        return hmac.new(key, _CHECK_VALUE_LABEL, hashlib.sha256).hexdigest()[:16]

    def derive_key(self, purpose: str) -> bytes:
        """A 256-bit key for `purpose` (e.g. ``"taxii-next"``), derived by HKDF-SHA256.

        Derived from the oldest KEK held, so it stays the same across rotations
        until that KEK is retired; distinct purposes give independent keys, and
        none of them reveals the KEK (RFC 5869).
        """
        oldest = self._kek_bytes[min(self._kek_bytes)]
        hkdf = HKDF(algorithm=SHA256(), length=_KEY_BYTES, salt=None, info=_utf8(purpose))
        return hkdf.derive(oldest)

    def rotate(self) -> int:
        """Add a new KEK version, make it current and return it.

        Older versions are kept so existing envelopes still open. A file-backed
        ring is persisted atomically (temp file + ``os.replace``, mode 0600)
        before the new version is used, so no data key is ever wrapped under a
        KEK that could be lost in a crash. Raises :class:`KeyRingError` for a
        ring loaded from the environment, and for a file-backed ring whose file
        changed since it was loaded (another process rotated it: load again).
        """
        if self._source == "env":
            raise KeyRingError(
                "a key ring loaded from the environment cannot rotate: there is nowhere to "
                "persist the new key; rotate the file-backed ring and re-export it"
            )
        with self._lock:
            version = max(self._keks) + 1
            key = AESGCM.generate_key(bit_length=256)
            if self._path is not None:
                with _locked_directory(self._path.parent):
                    self._check_file_unchanged(self._path)
                    document = self._document(extra_kek=(version, key))
                    _write_atomically(self._path, _encode_document(document, pretty=True))
            # Only now, with the key safely persisted, does the ring change.
            self._kek_bytes[version] = key
            self._keks[version] = AESGCM(key)
            # Switch last: seal() reads current_kek without the lock, and the
            # version it reads must already have its key in self._keks.
            self._current_kek = version
            return version

    def _check_file_unchanged(self, path: Path) -> None:
        # Two processes that loaded the same ring and both rotate would each
        # mint a different "version N+1"; the second write would drop the
        # first one's KEK and with it every item sealed under it. Refusing to
        # write over a file that is not what we loaded prevents that loss.
        if KeyRing.load(path)._document() != self._document():
            raise KeyRingError(
                f"key ring {path} changed on disk since it was loaded (rotated by another "
                "process?); load it again before rotating"
            )

    def _wrap(self, data_key: bytes, key_aad: bytes) -> tuple[bytes, int]:
        version = self._current_kek
        # Random 96-bit nonces under one KEK are safe for 2**32 wraps (NIST
        # SP 800-38D §8.3); each seal wraps once, so rotate long before that.
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._keks[version].encrypt(nonce, data_key, key_aad), version

    def _unwrap(self, wrapped_key: bytes, kek_version: int, key_aad: bytes) -> bytes:
        kek = self._keks.get(kek_version)
        if kek is None:
            raise IntegrityFailure(f"no KEK version {kek_version!r} in the key ring")
        if len(wrapped_key) != _WRAPPED_KEY_BYTES:
            raise IntegrityFailure("wrapped data key has the wrong length")
        try:
            data_key = kek.decrypt(wrapped_key[:_NONCE_BYTES], wrapped_key[_NONCE_BYTES:], key_aad)
        except InvalidTag:
            raise IntegrityFailure(
                "data key did not unwrap: wrong KEK, wrong key_aad or tampered wrapped key"
            ) from None
        return data_key

    # -- signing --------------------------------------------------------------

    @property
    def signing_key_id(self) -> str:
        """Identifier of the current signing key, e.g. ``"ed25519-1"``; stored with signatures."""
        return _signing_key_id(self._current_signing)

    def sign(self, data: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``data`` by the current signing key."""
        return self._signing[self._current_signing].sign(data)

    def public_keys(self) -> dict[str, bytes]:
        """Return every raw 32-byte Ed25519 public key, by key id, for offline verification."""
        return {
            _signing_key_id(v): k.public_key().public_bytes_raw()
            for v, k in sorted(self._signing.items())
        }

    # -- presentation ---------------------------------------------------------

    def __repr__(self) -> str:
        """Describe the ring by source, versions and key ids only: never key material."""
        where = f", path={str(self._path)!r}" if self._path is not None else ""
        return (
            f"KeyRing(source={self._source!r}{where}, kek_versions={list(self.kek_versions)}, "
            f"current_kek={self._current_kek}, signing_key_id={self.signing_key_id!r})"
        )


def _signing_key_id(version: int) -> str:
    return f"ed25519-{version}"


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = os.read(fd, remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _encode_document(document: dict[str, object], *, pretty: bool) -> bytes:
    if pretty:
        # Nobody edits the file, but operators do read its shape.
        return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("ascii")
    return canonical_json(document)


@contextlib.contextmanager
def _locked_directory(directory: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``directory`` (the ring file itself is replaced)."""
    # The lock sits on the directory, not the file: os.replace swaps the file's
    # inode, so a lock on the file would not exclude a process that opened the
    # new one.
    fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _write_atomically(path: Path, content: bytes) -> None:
    """Replace ``path`` with ``content`` so readers see the old file or the new, never a mix."""
    # Same directory as the target: os.replace is only atomic within one file system.
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        # The umask can only narrow the mode given to os.open; fchmod makes the
        # result exactly 0600 whatever the umask, before any key byte is written.
        os.fchmod(fd, 0o600)
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
        # fsync before replace: otherwise a crash can leave the new name
        # pointing at an empty file, i.e. every key lost.
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        temp.unlink(missing_ok=True)
        raise
    os.close(fd)
    try:
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    # Persist the rename itself.
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# --------------------------------------------------------------------------
# Envelope encryption
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    """An encrypted item as stored: content ciphertext plus its wrapped data key.

    ``nonce`` and ``ciphertext`` are the AES-256-GCM encryption of the content
    under a one-off data key (``ciphertext`` ends with the 16-byte tag);
    ``wrapped_key`` is that data key encrypted under KEK ``kek_version``, laid
    out as ``nonce (12) || ciphertext (32) || tag (16)``. None of the fields is
    secret; all four must reach :func:`open_envelope` unchanged.
    """

    nonce: bytes
    ciphertext: bytes
    wrapped_key: bytes
    kek_version: int


def seal(ring: KeyRing, plaintext: bytes, *, content_aad: bytes, key_aad: bytes) -> Envelope:
    """Encrypt ``plaintext`` under a fresh data key wrapped by the ring's current KEK.

    ``content_aad`` is authenticated with the content; ``key_aad`` with the
    wrapped key, and should bind what must not change silently (item id, scope
    version, TLP, secret flag), so that changing any of it makes
    :func:`open_envelope` fail until :func:`rewrap` re-binds it. Both are
    usually :func:`canonical_json` output. Plaintext is limited to 2 GiB by
    the underlying AES-GCM implementation.
    """
    # One urandom call for key and nonce: a syscall is a visible share of a
    # 4 KiB seal. A fresh key per item means a key compromise exposes one item
    # and the nonce can never repeat under it.
    fresh = os.urandom(_KEY_BYTES + _NONCE_BYTES)
    data_key, nonce = fresh[:_KEY_BYTES], fresh[_KEY_BYTES:]
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, content_aad)
    wrapped_key, kek_version = ring._wrap(data_key, key_aad)
    return Envelope(
        nonce=nonce, ciphertext=ciphertext, wrapped_key=wrapped_key, kek_version=kek_version
    )


def open_envelope(ring: KeyRing, env: Envelope, *, content_aad: bytes, key_aad: bytes) -> bytes:
    """Return the plaintext sealed in ``env``, given the same associated data as :func:`seal`.

    Raises :class:`IntegrityFailure` if anything fails to authenticate: any
    field of ``env`` altered, different ``content_aad`` or ``key_aad``, or a
    KEK version the ring does not hold.
    """
    data_key = ring._unwrap(env.wrapped_key, env.kek_version, key_aad)
    if len(env.nonce) != _NONCE_BYTES:
        raise IntegrityFailure("content nonce has the wrong length")
    try:
        return AESGCM(data_key).decrypt(env.nonce, env.ciphertext, content_aad)
    except InvalidTag:
        raise IntegrityFailure(
            "content did not authenticate: wrong content_aad or tampered nonce or ciphertext"
        ) from None


def rewrap(
    ring: KeyRing,
    env_or_wrapped: Envelope | bytes,
    kek_version: int | None = None,
    *,
    old_key_aad: bytes,
    new_key_aad: bytes | None = None,
) -> tuple[bytes, int]:
    """Re-wrap a data key under the current KEK; return ``(wrapped_key, kek_version)``.

    Pass an :class:`Envelope` (its own ``kek_version`` is used; a different
    ``kek_version`` argument is a ``ValueError``), or a bare wrapped key with
    its ``kek_version``. The key is unwrapped with ``old_key_aad`` and wrapped
    again with ``new_key_aad`` (default: the same), which serves both KEK
    rotation and a scope-version change that re-binds the associated data. The
    content ciphertext is not touched: store the result with
    ``dataclasses.replace(env, wrapped_key=..., kek_version=...)``.

    Raises :class:`IntegrityFailure` if the key does not unwrap.
    """
    if isinstance(env_or_wrapped, Envelope):
        if kek_version is not None and kek_version != env_or_wrapped.kek_version:
            raise ValueError("kek_version contradicts the envelope's own kek_version")
        wrapped, version = env_or_wrapped.wrapped_key, env_or_wrapped.kek_version
    else:
        if kek_version is None:
            raise ValueError("kek_version is required when rewrapping a bare wrapped key")
        wrapped, version = env_or_wrapped, kek_version
    data_key = ring._unwrap(wrapped, version, old_key_aad)
    return ring._wrap(data_key, old_key_aad if new_key_aad is None else new_key_aad)


# --------------------------------------------------------------------------
# Signatures
# --------------------------------------------------------------------------


def verify_signature(public_key: bytes, data: bytes, signature: bytes) -> bool:
    """Return whether ``signature`` is a valid Ed25519 signature of ``data`` by ``public_key``.

    A bad signature or a malformed key or signature gives ``False``, never an
    exception: an offline verifier reports, it does not crash.
    """
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


# --------------------------------------------------------------------------
# Tokens, secrets, MACs
# --------------------------------------------------------------------------


def _utf8(text: str) -> bytes:
    # surrogatepass: text from HTTP headers may hold lone surrogates; encoding
    # must not raise in an authentication path, and must stay deterministic.
    return text.encode("utf-8", "surrogatepass")


def new_token() -> str:
    """Return a new bearer token: ``"cbt_"`` + 32 random bytes (256 bits), unpadded urlsafe base64.

    The prefix lets secret scanners recognise a leaked broker token.
    """
    body = base64.urlsafe_b64encode(secrets.token_bytes(_TOKEN_BYTES)).rstrip(b"=")
    return _TOKEN_PREFIX + body.decode("ascii")


def hash_token(token: str) -> str:
    """Return the hex SHA-256 of ``token``: what the database stores instead of the token."""
    # A fast unsalted hash is right here: tokens are 256 bits from the CSPRNG,
    # so there is no dictionary to precompute and brute force is 2**256 work;
    # salts and slow KDFs defend low-entropy passwords, and would only cost a
    # KDF per request and forbid lookup by hash.
    return hashlib.sha256(_utf8(token)).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    """Return whether ``a == b`` in time independent of where they differ."""
    # compare_digest on str accepts ASCII only and raises TypeError otherwise;
    # comparing the UTF-8 bytes works for any input.
    return hmac.compare_digest(_utf8(a), _utf8(b))


def hmac_sha256(key: bytes, data: bytes) -> str:
    """Return the hex HMAC-SHA256 of ``data`` under ``key`` (e.g. webhook signatures)."""
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def random_secret(nbytes: int = 32) -> str:
    """Return ``nbytes`` random bytes as unpadded urlsafe base64 text.

    Raises ``ValueError`` below 16 bytes (128 bits), the least that is safe
    against guessing.
    """
    if nbytes < _MIN_SECRET_BYTES:
        raise ValueError(f"a secret needs at least {_MIN_SECRET_BYTES} bytes, got {nbytes}")
    return secrets.token_urlsafe(nbytes)


# --------------------------------------------------------------------------
# Canonical JSON
# --------------------------------------------------------------------------


def canonical_json(obj: object) -> bytes:
    """Return ``obj`` as canonical JSON: sorted keys, no whitespace, raw UTF-8.

    Equal JSON values give equal bytes, so the result can be authenticated as
    associated data or hashed. Only JSON types are accepted; ``NaN`` and
    infinities raise ``ValueError`` because JSON has no such numbers and other
    parsers would not read them back. Keys sort by code point, which differs
    from RFC 8785 only for keys holding characters beyond the BMP.
    """
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


# --------------------------------------------------------------------------
# Certificates (TLS on a closed network)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class CertifiedKey:
    """A certificate and its private key, both PEM (the key unencrypted: keep it 0600)."""

    certificate_pem: bytes
    key_pem: bytes


def new_certificate_authority(common_name: str, *, now: datetime, days: int) -> CertifiedKey:
    """A self-signed CA that may sign end-entity certificates only (path length 0).

    ECDSA P-256 with SHA-256: every TLS 1.2 and 1.3 client takes it, and
    signing and verifying are cheap.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertifiedKey(_certificate_pem(certificate), _key_pem(key))


def issue_certificate(
    authority: CertifiedKey,
    common_name: str,
    *,
    now: datetime,
    days: int,
    server: bool,
    dns_names: tuple[str, ...] = (),
    ip_addresses: tuple[str, ...] = (),
    uris: tuple[str, ...] = (),
) -> CertifiedKey:
    """An end-entity certificate signed by `authority`: for a server (its names
    and addresses) or for a client (its URIs name who it is).

    ValueError when the authority's files do not load or a name is malformed.
    """
    try:
        ca_certificate = x509.load_pem_x509_certificate(authority.certificate_pem)
        ca_key = serialization.load_pem_private_key(authority.key_pem, password=None)
    except (ValueError, TypeError):
        raise ValueError("the CA certificate or key is not a readable PEM file") from None
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the CA key is not the ECDSA key `tls init` makes")
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    try:
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    except ValueError:
        raise ValueError(f"not an IP address among {', '.join(ip_addresses)}") from None
    names += [x509.UniformResourceIdentifier(uri) for uri in uris]
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_certificate.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(min(now + timedelta(days=days), ca_certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    certificate = builder.sign(ca_key, hashes.SHA256())
    return CertifiedKey(_certificate_pem(certificate), _key_pem(key))


def _certificate_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
