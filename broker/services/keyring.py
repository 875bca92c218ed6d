"""The key ring in use, picked up again when `keys rotate` made a newer version."""

from __future__ import annotations

from pathlib import Path

import structlog

from broker.crypto import KeyRing

__all__ = ["Keys"]

log = structlog.get_logger("broker.services")


class Keys:
    """Holds the process's key ring; reloads it from its file when a data key
    names a key-encryption version this process has not loaded yet."""

    def __init__(self, ring: KeyRing, *, ring_file: Path | None = None) -> None:
        self.ring = ring
        self._ring_file = ring_file

    def ring_for(self, kek_version: int | None) -> KeyRing:
        """The key ring, reloaded if `kek_version` is newer than what is loaded.

        `council-broker keys rotate` runs beside serving brokers: the first
        data key they meet under the new version makes them pick it up.
        """
        if (
            kek_version is not None
            and kek_version not in self.ring.kek_versions
            and self._ring_file is not None
        ):
            self.ring = KeyRing.load(self._ring_file)
            log.info("key_ring_reloaded", kek_versions=list(self.ring.kek_versions))
        return self.ring
