"""TLP markings inside STIX content: an item is never labelled weaker than what it carries.

TLP 2.0: a label travels with the information. A STIX 2.1 bundle marks its
objects with `object_marking_refs` (the whole object) and `granular_markings`
(parts of it) that point to marking definitions; the TLP ones have fixed ids
(STIX 2.1 §7.2.1.4 for TLP 1.0, the FIRST/OASIS TLP 2.0 marking definitions
for TLP 2.0). A bundle may also carry its own TLP marking definitions (TLP 1.0
`definition_type: "tlp"`, or the TLP 2.0 property extension), which count too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from broker.domain.model import Tlp

# STIX 2.1 §7.2.1.4: the TLP 1.0 marking definitions (WHITE is CLEAR in TLP 2.0).
_TLP_1_0: dict[str, Tlp] = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": Tlp.CLEAR,
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": Tlp.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": Tlp.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": Tlp.RED,
}

# The TLP 2.0 marking definitions published for STIX 2.1 (FIRST TLP SIG / OASIS).
_TLP_2_0: dict[str, Tlp] = {
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": Tlp.CLEAR,
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": Tlp.GREEN,
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": Tlp.AMBER,
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": Tlp.AMBER_STRICT,
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": Tlp.RED,
}

TLP_MARKING_DEFINITIONS: Mapping[str, Tlp] = {**_TLP_1_0, **_TLP_2_0}
"""The well-known STIX marking-definition ids of TLP 1.0 and TLP 2.0, by label."""

# The TLP 2.0 property extension a bundle's own marking definition may carry.
_TLP_2_0_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

_BY_NAME: dict[str, Tlp] = {
    "white": Tlp.CLEAR,
    "clear": Tlp.CLEAR,
    "green": Tlp.GREEN,
    "amber": Tlp.AMBER,
    "amber+strict": Tlp.AMBER_STRICT,
    "red": Tlp.RED,
}


@dataclass(frozen=True, slots=True)
class Marking:
    """A TLP marking found on one object of a bundle.

    `index` is the object's position in `objects`, `object_id` its STIX id,
    `path` where the reference sits (`object_marking_refs` or
    `granular_markings`) and `tlp` the label it asserts.
    """

    index: int
    object_id: str
    path: str
    tlp: Tlp


def content_markings(stix: Mapping[str, Any] | None) -> tuple[Marking, ...]:
    """Every TLP marking a STIX bundle applies to its objects, in object order.

    References to marking definitions that are not TLP ones (copyright, terms
    of use, unknown ids) are ignored: they say nothing about TLP.
    """
    if not stix:
        return ()
    objects = stix.get("objects")
    if not isinstance(objects, list):
        return ()
    known = dict(TLP_MARKING_DEFINITIONS)
    known.update(_bundle_definitions(objects))
    return tuple(_markings(objects, known))


def stricter_markings(tlp: Tlp, stix: Mapping[str, Any] | None) -> tuple[Marking, ...]:
    """The markings of `stix` stricter than the item label `tlp` (TLP 2.0).

    Empty when the label is at least as strict as everything the content
    carries; otherwise the item would travel under a weaker label than its
    own content asks for, and must be refused.
    """
    return tuple(m for m in content_markings(stix) if m.tlp.rank > tlp.rank)


def _bundle_definitions(objects: Sequence[Any]) -> dict[str, Tlp]:
    """TLP marking definitions the bundle defines itself, by id."""
    found: dict[str, Tlp] = {}
    for obj in objects:
        if not isinstance(obj, Mapping) or obj.get("type") != "marking-definition":
            continue
        label = _definition_label(obj)
        if label is not None and isinstance(obj.get("id"), str):
            found[obj["id"]] = label
    return found


def _definition_label(obj: Mapping[str, Any]) -> Tlp | None:
    """The TLP label a marking-definition object declares, if it declares one."""
    definition = obj.get("definition")
    if obj.get("definition_type") == "tlp" and isinstance(definition, Mapping):
        name = definition.get("tlp")  # TLP 1.0 (STIX 2.1 §7.2.1.4)
        if isinstance(name, str) and name.lower() in _BY_NAME:
            return _BY_NAME[name.lower()]
    extensions = obj.get("extensions")
    if isinstance(extensions, Mapping):
        extension = extensions.get(_TLP_2_0_EXTENSION)
        if isinstance(extension, Mapping):
            name = extension.get("tlp_2_0")
            if isinstance(name, str) and name.lower() in _BY_NAME:
                return _BY_NAME[name.lower()]
    return None


def _markings(objects: Sequence[Any], known: Mapping[str, Tlp]) -> Iterator[Marking]:
    for index, obj in enumerate(objects):
        if not isinstance(obj, Mapping):
            continue
        object_id = str(obj.get("id", ""))
        refs = obj.get("object_marking_refs")
        if isinstance(refs, list):
            for ref in refs:
                if isinstance(ref, str) and ref in known:
                    yield Marking(index, object_id, "object_marking_refs", known[ref])
        granular = obj.get("granular_markings")
        if isinstance(granular, list):
            for entry in granular:
                ref = entry.get("marking_ref") if isinstance(entry, Mapping) else None
                if isinstance(ref, str) and ref in known:
                    yield Marking(index, object_id, "granular_markings", known[ref])
