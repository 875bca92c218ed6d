"""`council-broker keys rotate`: a new key version, every data key re-wrapped.

Only wrapped data keys change (a few dozen bytes per record); ciphertext is
untouched. Every sealed record is re-wrapped: items, feedback comments,
consultations and their messages, violation reports, resolution texts, and
webhook signing secrets, so that once the rotation is done nothing depends on
an older key version any more.
Records are re-wrapped in small transactions so a broker serving the same
database keeps going; a broker that meets a key version it has not loaded
yet reloads the ring (`Keys.ring_for`). The pass repeats until no record is
left on an old version, catching records sealed under the old version by
brokers that had not reloaded yet.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial

from rich.progress import Progress

from broker.crypto import IntegrityFailure, KeyRing, rewrap
from broker.services.consultations import consultation_key_aad, message_key_aad
from broker.services.feedback import comment_key_aad
from broker.services.reports import report_key_aad
from broker.services.resolution_texts import resolution_key_aad
from broker.services.sealing import key_aad
from broker.services.webhooks import secret_aad
from broker.settings import Settings
from broker.store import Database
from broker.store.sealed_repo import SealedKey, SealedTable
from broker.store.uow import Store, UnitOfWork

__all__ = ["SEALED", "SealedRecords", "rotate_and_rewrap"]

_BATCH = 200

# The associated data each record's data key is wrapped with, by record id.
KeyAads = Callable[[UnitOfWork, Sequence[SealedKey]], Awaitable[dict[str, bytes]]]


@dataclass(frozen=True)
class SealedRecords:
    """One table of sealed records: its label in the progress and what binds its keys."""

    label: str
    table: SealedTable
    key_aads: KeyAads


async def _item_aads(uow: UnitOfWork, keys: Sequence[SealedKey]) -> dict[str, bytes]:
    # An item's key binds its routing facts (broker.services.sealing).
    stored = await uow.items.get_many([key.id for key in keys])
    return {
        key.id: key_aad(stored[key.id].facts, key.scope_version) for key in keys if key.id in stored
    }


def _from_record(aad: Callable[[SealedKey], bytes]) -> KeyAads:
    async def aads(_uow: UnitOfWork, keys: Sequence[SealedKey]) -> dict[str, bytes]:
        return {key.id: aad(key) for key in keys}

    return aads


SEALED: tuple[SealedRecords, ...] = (
    SealedRecords("items", SealedTable.ITEMS, _item_aads),
    SealedRecords(
        "feedback comments", SealedTable.FEEDBACK_COMMENTS, _from_record(comment_key_aad)
    ),
    SealedRecords("consultations", SealedTable.CONSULTATIONS, _from_record(consultation_key_aad)),
    SealedRecords(
        "consultation messages",
        SealedTable.CONSULTATION_MESSAGES,
        _from_record(message_key_aad),
    ),
    SealedRecords(
        "violation reports",
        SealedTable.REPORTS,
        _from_record(lambda key: report_key_aad(key.id, str(key.member_id), str(key.user_id))),
    ),
    SealedRecords(
        "resolution texts",
        SealedTable.RESOLUTIONS,
        _from_record(lambda key: resolution_key_aad(key.id)),
    ),
    SealedRecords(
        "webhook secrets",
        SealedTable.WEBHOOK_SECRETS,
        _from_record(lambda key: secret_aad(key.id, str(key.member_id))),
    ),
)


async def rotate_and_rewrap(settings: Settings) -> int:
    """Rotate the file-backed key ring and move every data key to the new version."""
    if settings.key_ring is not None:
        print(
            "error: COUNCIL_KEY_RING is set, and a ring from the environment cannot be "
            "rotated in place: write it to DATA_DIR/keyring.json (mode 0600), unset "
            "COUNCIL_KEY_RING, rotate, then store the new file's base64 in your secret store",
            file=sys.stderr,
        )
        return 1
    ring = KeyRing.load(settings.key_ring_path)
    version = ring.rotate()
    print(f"key ring rotated: new key version {version}")
    store = Store(Database(settings.resolved_database_url))
    failed: list[str] = []
    try:
        for records in SEALED:
            await _rewrap_all(store, ring, version, records, failed)
    finally:
        await store.dispose()
    if failed:
        print(
            f"error: {len(failed)} record(s) failed their integrity check and were left as "
            f"they were: {', '.join(failed[:10])}; run `council-broker audit verify` and "
            "restore them from a backup",
            file=sys.stderr,
        )
        return 1
    print("every data key is wrapped with the new key version")
    return 0


async def _rewrap_all(
    store: Store, ring: KeyRing, version: int, records: SealedRecords, failed: list[str]
) -> None:
    while True:
        async with store.read() as uow:
            remaining = await uow.sealed.count_on_old_version(records.table, version)
        stuck = sum(1 for entry in failed if entry.startswith(f"{records.label} "))
        if remaining == 0 or remaining <= stuck:
            return
        with Progress() as progress:
            task = progress.add_task(f"re-wrapping {records.label}", total=remaining)
            await _pass(store, ring, version, records, failed, partial(progress.advance, task))


async def _pass(
    store: Store,
    ring: KeyRing,
    version: int,
    records: SealedRecords,
    failed: list[str],
    advance: Callable[[int], None],
) -> None:
    after = ""
    while True:
        async with store.write() as uow:
            keys = await uow.sealed.on_old_version(
                records.table, version, after=after, limit=_BATCH
            )
            if not keys:
                return
            aads = await records.key_aads(uow, keys)
            for key in keys:
                try:
                    wrapped, new_version = rewrap(
                        ring, key.wrapped_key, key.kek_version, old_key_aad=aads[key.id]
                    )
                except (IntegrityFailure, KeyError):
                    entry = f"{records.label} {key.id}"
                    if entry not in failed:
                        failed.append(entry)
                    continue
                # Only if unchanged meanwhile (a comment edited, an item withdrawn).
                await uow.sealed.replace_key(records.table, key, wrapped, new_version)
            after = keys[-1].id
        advance(len(keys))
