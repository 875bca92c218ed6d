"""The STIX ids an item's objects are served under (docs/taxii.md).

A bundle's objects keep their own ids; a text-only item is served as a STIX
`note` whose id is derived from the item id (UUIDv5), so it is the same on
every read and every replica.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

__all__ = ["EXTENSION_ID", "NAMESPACE", "note_id_for", "object_ids"]

NAMESPACE = uuid.UUID("0ab61d92-cb3d-4acf-92de-5c2233c3325f")
"""The council's UUIDv5 namespace (the council extension-definition's UUID)."""

EXTENSION_ID = f"extension-definition--{NAMESPACE}"
"""The council extension (docs/taxii.md), a STIX 2.1 property extension."""


def note_id_for(item_id: str) -> str:
    """The STIX id of the note a text-only item is served as."""
    return f"note--{uuid.uuid5(NAMESPACE, item_id)}"


def object_ids(item_id: str, stix: Mapping[str, Any] | None) -> frozenset[str]:
    """The ids of the STIX objects item `item_id` holding `stix` is served as."""
    if stix is None:
        return frozenset({note_id_for(item_id)})
    objects = stix.get("objects")
    if not isinstance(objects, list):
        return frozenset()
    return frozenset(
        str(o["id"]) for o in objects if isinstance(o, Mapping) and isinstance(o.get("id"), str)
    )
