"""`council-broker backup` and `council-broker restore`.

A backup is taken while the broker serves (see `broker.store.backup` for how
each database gives a consistent snapshot) and is written to a new 0600 file
by an atomic rename, so a half-written backup never carries the final name.

**The key ring never goes into a backup.** The database holds only
ciphertext and data keys wrapped by the key ring's key-encryption keys; the
operator keeps the key ring in its secret store. So that a restore can say
exactly what is missing, the backup's manifest records which key versions its
records are wrapped under, each with a key check value
(`KeyRing.check_value`), and which audit signing keys signed its checkpoints,
each with its public key.

A restore goes into a new data directory that already holds the key ring
(`keyring.json`, or `COUNCIL_KEY_RING`): the ring is checked against the
manifest first, then the database is copied in and brought to the current
schema, then every data key is unwrapped and the audit chain verified.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from broker.crypto import IntegrityFailure, KeyRing, KeyRingError, rewrap
from broker.domain.timestamps import rfc3339
from broker.services.clock import utc_now
from broker.services.keys import SEALED
from broker.settings import Settings
from broker.store import Database
from broker.store.backup import (
    BackupFileError,
    Progress,
    backup_sqlite,
    is_empty,
    read_manifest,
    restore_postgres,
    restore_sqlite,
    snapshot_facts,
    snapshot_postgres,
    sqlite_file,
    write_manifest,
)
from broker.store.uow import Store

__all__ = [
    "BACKUP_FORMAT",
    "BackupError",
    "Manifest",
    "RestoreResult",
    "check_data_keys",
    "key_ring_problems",
    "restore_backup",
    "take_backup",
]

BACKUP_FORMAT = 1
_BATCH = 500
_SIDE = ("-wal", "-shm", "-journal")  # SQLite's files beside a database


class BackupError(Exception):
    """A backup or restore cannot go on; the message says why and how to fix it."""


@dataclass(frozen=True)
class Manifest:
    """What a backup holds and what it needs to be opened (never a key)."""

    format: int
    created_at: str
    source: str
    revision: str | None
    audit_size: int
    audit_head: str
    rows: dict[str, int]
    # KEK version -> key check value (None: the ring was not at hand to compute it).
    kek_check_values: dict[int, str | None]
    # Signing key id -> base64 raw Ed25519 public key (None: not at hand).
    signing_keys: dict[str, str | None]

    def to_json(self) -> str:
        """The manifest as stored in the backup file."""
        return json.dumps(
            {
                "format": self.format,
                "created_at": self.created_at,
                "source": self.source,
                "revision": self.revision,
                "audit": {"size": self.audit_size, "head": self.audit_head},
                "rows": self.rows,
                "keys": {
                    "kek_check_values": {str(v): c for v, c in self.kek_check_values.items()},
                    "signing_keys": self.signing_keys,
                },
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse a stored manifest, or BackupError."""
        try:
            doc = json.loads(text)
            if doc["format"] != BACKUP_FORMAT:
                raise BackupError(
                    f"backup format {doc['format']} is not supported (this broker reads "
                    f"format {BACKUP_FORMAT}): restore it with the broker version that took it"
                )
            return cls(
                format=doc["format"],
                created_at=str(doc["created_at"]),
                source=str(doc["source"]),
                revision=doc["revision"],
                audit_size=int(doc["audit"]["size"]),
                audit_head=str(doc["audit"]["head"]),
                rows={str(k): int(v) for k, v in doc["rows"].items()},
                kek_check_values={int(v): c for v, c in doc["keys"]["kek_check_values"].items()},
                signing_keys=dict(doc["keys"]["signing_keys"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise BackupError("the backup's manifest is damaged: it cannot be restored") from None


@dataclass
class RestoreResult:
    """What a restore did."""

    manifest: Manifest
    data_keys_opened: int = 0
    data_keys_failed: list[str] = field(default_factory=list)


def _ring(settings: Settings) -> KeyRing:
    if settings.key_ring is not None:
        return KeyRing.from_env(settings.key_ring.get_secret_value())
    return KeyRing.load(settings.key_ring_path)


async def take_backup(
    settings: Settings, out: Path, progress: Progress, *, warn: Callable[[str], None]
) -> Manifest:
    """Back the database up into the new file `out` while the broker serves."""
    url = settings.resolved_database_url
    source = sqlite_file(url)
    partial = _start_file(out, source)
    try:
        if source is not None:
            await asyncio.to_thread(backup_sqlite, source, partial, progress)
        else:
            await snapshot_postgres(url, partial, progress)
        facts = await snapshot_facts(partial)
        ring = None
        try:
            ring = _ring(settings)
        except KeyRingError as exc:
            warn(
                f"the key ring is not at hand ({exc}); the backup records which key "
                "versions it needs but not their check values"
            )
        public = {} if ring is None else ring.public_keys()
        manifest = Manifest(
            format=BACKUP_FORMAT,
            created_at=rfc3339(utc_now()),
            source="sqlite" if source is not None else "postgresql",
            revision=facts.revision,
            audit_size=facts.audit_size,
            audit_head=facts.audit_head,
            rows=facts.rows,
            kek_check_values={
                v: None if ring is None else ring.check_value(v) for v in sorted(facts.kek_versions)
            },
            signing_keys={
                key_id: (
                    base64.b64encode(public[key_id]).decode("ascii") if key_id in public else None
                )
                for key_id in sorted(facts.signing_key_ids)
            },
        )
        await asyncio.to_thread(write_manifest, partial, manifest.to_json())
        await asyncio.to_thread(_sync_file, partial)
        os.replace(partial, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    return manifest


def _start_file(out: Path, source: Path | None) -> Path:
    """The private file the backup is written to before it takes its name."""
    if out.exists():
        raise BackupError(f"{out} already exists; give a new file name (a backup never overwrites)")
    if not out.parent.is_dir():
        raise BackupError(f"{out.parent} is not a directory")
    if source is not None and not source.is_file():
        raise BackupError(
            f"there is no database at {source}: is --data-dir (or COUNCIL_DATABASE_URL) right?"
        )
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    # 0600 from the first byte: the backup holds the audit log and the members' metadata.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return partial


def _sync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def key_ring_problems(manifest: Manifest, ring: KeyRing) -> list[str]:
    """Every key the backup needs that `ring` lacks or holds differently; [] if none."""
    problems = []
    for version, needed in sorted(manifest.kek_check_values.items()):
        held = ring.check_value(version)
        if held is None:
            problems.append(
                f"key version {version} (check value {needed or 'unrecorded'}) "
                "is not in the key ring"
            )
        elif needed is not None and held != needed:
            problems.append(
                f"key version {version} in the key ring is another key (check value {held}; "
                f"the backup needs {needed})"
            )
    public = ring.public_keys()
    for key_id, needed_key in sorted(manifest.signing_keys.items()):
        held_key = public.get(key_id)
        if held_key is None:
            problems.append(f"audit signing key {key_id} is not in the key ring")
        elif needed_key is not None and base64.b64encode(held_key).decode("ascii") != needed_key:
            problems.append(f"audit signing key {key_id} in the key ring is another key")
    return problems


async def restore_backup(settings: Settings, backup: Path, progress: Progress) -> RestoreResult:
    """Restore `backup` into the empty database of `settings`' data directory."""
    try:
        manifest = Manifest.from_json(read_manifest(backup))
    except BackupFileError as exc:
        raise BackupError(str(exc)) from None
    try:
        ring = _ring(settings)
    except KeyRingError as exc:
        if settings.key_ring is not None:
            raise BackupError(f"COUNCIL_KEY_RING is not a usable key ring: {exc}") from None
        raise BackupError(
            f"{exc}: put the key ring from your secret store there (mode 0600), or give it "
            "in COUNCIL_KEY_RING, then restore again"
        ) from None
    problems = key_ring_problems(manifest, ring)
    if problems:
        raise BackupError("the key ring cannot open this backup: " + "; ".join(problems))
    url = settings.resolved_database_url
    target = sqlite_file(url)
    if target is not None:
        _check_target(target)
        try:
            await asyncio.to_thread(restore_sqlite, backup, target, progress)
        except BaseException:
            # Half a database is worse than none: the next attempt starts clean.
            for leftover in (target, *(target.with_name(target.name + x) for x in _SIDE)):
                leftover.unlink(missing_ok=True)
            raise
    else:
        if not await is_empty(url):
            raise BackupError("the database already holds broker data: restore into an empty one")
        await restore_postgres(backup, url, progress)
    db = Database(url)
    try:
        await db.migrate()  # a backup of an older schema comes up to date
    finally:
        await db.dispose()
    result = RestoreResult(manifest=manifest)
    store = Store(Database(url))
    try:
        result.data_keys_opened, result.data_keys_failed = await check_data_keys(store, ring)
    finally:
        await store.dispose()
    return result


def _check_target(target: Path) -> None:
    if target.exists():
        raise BackupError(
            f"{target} already exists: restore into a new data directory (only the key "
            "ring in it), never over a database"
        )
    if not target.parent.is_dir():
        raise BackupError(f"the data directory {target.parent} does not exist")


async def check_data_keys(store: Store, ring: KeyRing) -> tuple[int, list[str]]:
    """Unwrap every stored data key with `ring`: how many opened, and which did not."""
    opened = 0
    failed: list[str] = []
    for records in SEALED:
        after = ""
        while True:
            async with store.read() as uow:
                # Version 0 is never used: every record with a key is listed.
                keys = await uow.sealed.on_old_version(records.table, 0, after=after, limit=_BATCH)
                if not keys:
                    break
                aads: dict[str, Any] = await records.key_aads(uow, keys)
            for key in keys:
                try:
                    rewrap(ring, key.wrapped_key, key.kek_version, old_key_aad=aads[key.id])
                    opened += 1
                except (IntegrityFailure, KeyError):
                    failed.append(f"{records.label} {key.id}")
            after = keys[-1].id
    return opened, failed
