"""Finding items by the ids of the STIX objects they hold, without naming those ids.

The index (`broker.store.stix_refs_repo`) holds, for each item, a keyed digest
of every STIX id it is served under (its bundle's objects, or the note of a
text-only item): HMAC-SHA256 under a key derived from the key ring. So an
object is found by id without opening a whole collection (TAXII 2.1 §5.6,
§5.8; `derived_from` naming STIX ids), and a reader of the database learns no
STIX id, which is content. The key derives from the oldest key-encryption
key, so `keys rotate` leaves it, and the index, unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import structlog

from broker import tlp
from broker.crypto import KeyRing, hmac_sha256
from broker.domain.stix_ids import EXTENSION_ID, object_ids
from broker.errors import IntegrityAlarm
from broker.services.keyring import Keys
from broker.services.sealing import open_content
from broker.store.uow import Store

__all__ = ["StixRefs", "index_key", "ref_of"]

log = structlog.get_logger("broker.stix_refs")

_PURPOSE = "stix-refs-v1"
_BATCH = 500  # items indexed per transaction when the broker starts
_REPORT_EVERY_S = 5.0
# Served once, first in every collection, never from an item (docs/taxii.md):
# indexing them would make a read of one open every item that carried a copy.
_SERVED_ONCE = frozenset({EXTENSION_ID, *tlp.TLP_MARKING_DEFINITIONS})


def index_key(ring: KeyRing) -> bytes:
    """The key of the index's digests, derived from `ring` (stable across rotations)."""
    return ring.derive_key(_PURPOSE)


def ref_of(key: bytes, stix_id: str) -> str:
    """The index's digest of `stix_id` under `key`."""
    return hmac_sha256(key, stix_id.encode("utf-8"))


class StixRefs:
    """Keyed digests of STIX ids, and the one-time indexing of older items."""

    def __init__(self, *, store: Store, keys: Keys) -> None:
        self._store = store
        self._keys = keys
        self._key: bytes | None = None

    def of(self, stix_id: str) -> str:
        """The index's digest of `stix_id`."""
        if self._key is None:
            self._key = index_key(self._keys.ring)
        return ref_of(self._key, stix_id)

    def of_all(self, stix_ids: Iterable[str]) -> list[str]:
        """The digests of `stix_ids`, in order."""
        return [self.of(i) for i in stix_ids]

    def of_item(self, item_id: str, stix: Mapping[str, Any] | None) -> frozenset[str]:
        """The digests of every STIX id item `item_id` (holding `stix`) is served under."""
        return frozenset(self.of(i) for i in object_ids(item_id, stix) - _SERVED_ONCE)

    async def backfill(self) -> int:
        """Index the items stored before the index existed; how many there were.

        Run when the broker starts, before it serves: a batch per transaction,
        so a restart goes on where it stopped, and two replicas doing it at
        once only write the same rows twice. An item whose content is gone
        (withdrawn) or fails its integrity check is marked with no objects;
        the second is logged, as every read of it alarms anyway.
        """
        total = 0
        started = reported = time.monotonic()
        while True:
            async with self._store.read() as uow:
                ids = await uow.stix_refs.unindexed(_BATCH)
                found = await uow.items.get_many(ids)
            if not ids:
                break
            rows: list[tuple[str, str]] = []
            for item_id in ids:
                stored = found.get(item_id)
                if stored is None or stored.ciphertext is None:
                    continue  # withdrawn: nothing of its content is indexed
                try:
                    content = open_content(self._keys, stored)
                except IntegrityAlarm:
                    log.error("stix_refs_integrity_alarm", item_id=item_id)
                    continue
                rows.extend((ref, item_id) for ref in sorted(self.of_item(item_id, content.stix)))
            async with self._store.write() as uow:
                await uow.stix_refs.index(ids, rows)
            total += len(ids)
            if time.monotonic() - reported >= _REPORT_EVERY_S:
                reported = time.monotonic()
                log.info("stix_refs_backfill_progress", items=total)
        if total:
            log.info(
                "stix_refs_backfilled", items=total, seconds=round(time.monotonic() - started, 1)
            )
        return total
