"""`council-broker audit verify`: check the live chain or an export, offline.

Signatures are checked against the public keys of the key ring in the data
directory, or, offline, against a public-key file (`--public-key`: the saved
`GET /v1/audit/keys` document); never against the keys line an export
carries, which a forger controls.
Exit status 0 means the chain and every checkpoint verified; 1 names the first
problem; 2 means the input could not be read.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from broker.audit import AuditEvent, Checkpoint, VerifyResult, from_json_line, verify_events
from broker.crypto import KeyRing, verify_signature
from broker.services.audit import ring_verifier, verify_store
from broker.settings import Settings
from broker.store import Database
from broker.store.uow import Store

__all__ = ["PublicKeyFileError", "load_public_keys", "verify_database", "verify_export"]


def _ring(settings: Settings) -> KeyRing:
    if settings.key_ring is not None:
        return KeyRing.from_env(settings.key_ring.get_secret_value())
    return KeyRing.load(settings.key_ring_path)


class PublicKeyFileError(ValueError):
    """The public-key file could not be read as a `GET /v1/audit/keys` document."""


def load_public_keys(path: Path) -> dict[str, bytes]:
    """The Ed25519 public keys by key id from a saved `GET /v1/audit/keys` document."""
    try:
        document = json.loads(path.read_bytes())
    except OSError as exc:
        raise PublicKeyFileError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, RecursionError) as exc:
        raise PublicKeyFileError(f"{path} is not JSON: {exc}") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise PublicKeyFileError(
            f"{path} holds no keys; save the output of GET /v1/audit/keys to it"
        )
    keys: dict[str, bytes] = {}
    for entry in entries:
        key_id = entry.get("key_id") if isinstance(entry, dict) else None
        encoded = entry.get("public_key") if isinstance(entry, dict) else None
        try:
            raw = base64.b64decode(encoded, validate=True) if isinstance(encoded, str) else b""
        except (binascii.Error, ValueError):
            raw = b""
        if not isinstance(key_id, str) or len(raw) != 32:
            raise PublicKeyFileError(
                f"{path}: every key needs a key_id and a base64 32-byte Ed25519 public_key"
            )
        keys[key_id] = raw
    return keys


def _key_verifier(public: dict[str, bytes]) -> Callable[[str, bytes, bytes], bool]:
    def verify(key_id: str, data: bytes, signature: bytes) -> bool:
        key = public.get(key_id)
        return key is not None and verify_signature(key, data, signature)

    return verify


def _report(result: VerifyResult, source: str) -> int:
    # Plain lines, never wrapped: operators grep this and scripts parse it.
    console = Console(stderr=False, highlight=False, soft_wrap=True)
    if result.ok:
        console.print(
            f"ok: {result.checked} events and {result.checkpoints_checked} signed checkpoints "
            f"verified in {source}; head {result.head}"
        )
        return 0
    problem = result.first_problem
    assert problem is not None
    console.print(
        f"TAMPERED: {problem.kind} at seq {problem.seq} (event {problem.event_id}): "
        f"{problem.message}"
    )
    return 1


def verify_export(settings: Settings, path: Path, public_key: Path | None = None) -> int:
    """Verify a JSON Lines export file.

    With `public_key` (a saved `GET /v1/audit/keys` document) no key ring is
    needed: the export can be checked on any machine.
    """
    if public_key is not None:
        try:
            verify = _key_verifier(load_public_keys(public_key))
        except PublicKeyFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    else:
        verify = ring_verifier(_ring(settings))
    events: list[AuditEvent] = []
    checkpoints: list[Checkpoint] = []
    try:
        with path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip() or (number == 1 and _is_keys_line(line)):
                    continue  # the keys line informs; it never vouches for itself
                try:
                    record = from_json_line(line)
                except (ValueError, json.JSONDecodeError) as exc:
                    print(
                        f"error: line {number} of {path} is not an audit record: {exc}",
                        file=sys.stderr,
                    )
                    return 2
                if isinstance(record, AuditEvent):
                    events.append(record)
                else:
                    checkpoints.append(record)
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    return _report(verify_events(events, checkpoints, verify), str(path))


def _is_keys_line(line: bytes) -> bool:
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return False
    return isinstance(obj, dict) and obj.get("type") == "keys"


async def verify_database(settings: Settings) -> int:
    """Verify the live database, streaming events to the checker in a thread."""
    store = Store(Database(settings.resolved_database_url))
    try:
        result = await verify_store(store, ring_verifier(_ring(settings)))
    finally:
        await store.dispose()
    return _report(result, "the database")
