"""The handling a recipient is allowed: what it may do with what it read (SPEC rule 8)."""

from __future__ import annotations

from dataclasses import dataclass

from broker.domain.model import BodyKind, ItemFacts, Reader, Tier, Tlp
from broker.tlp._deriving import may_derive

# TLP 2.0: who may hear of information under each label.
_AUDIENCE: dict[Tlp, str] = {
    Tlp.CLEAR: "public",
    Tlp.GREEN: "community",
    Tlp.AMBER: "organisation_and_clients",
    Tlp.AMBER_STRICT: "organisation",
    Tlp.RED: "named_recipients",
}

_TLP_NOTE: dict[Tlp, str] = {
    Tlp.CLEAR: "TLP:CLEAR: no TLP limit on disclosure, but the council scope still applies.",
    Tlp.GREEN: "TLP:GREEN: may be shared within the community, not published.",
    Tlp.AMBER: (
        "TLP:AMBER: only within your organisation and its clients, on a need-to-know basis."
    ),
    Tlp.AMBER_STRICT: "TLP:AMBER+STRICT: only within your organisation, not with its clients.",
    Tlp.RED: "TLP:RED: for you, the named recipient, only; it cannot be passed on.",
}

# TLP 2.0: these labels stop information at the recipient organisation.
_STAYS_INSIDE = frozenset({Tlp.AMBER_STRICT, Tlp.RED})


@dataclass(frozen=True, slots=True)
class Handling:
    """What a reader may do with an item, shown with the item (SPEC rule 8).

    `tlp` is the label the item travels under, `audience` a short snake_case
    name for who may hear of it, `may_reshare` whether the reader may derive
    from it, and `notes` the rules in plain sentences, each citing its source.
    """

    tlp: str
    may_reshare: bool
    audience: str
    notes: tuple[str, ...]


def handling_for(reader: Reader, item: ItemFacts) -> Handling:
    """The handling `reader` is allowed for `item`."""
    tlp = item.effective_tlp
    notes = [
        _TLP_NOTE[tlp],
        "Never share it beyond its scope without the provider's consent (charter art. 17(1)); "
        "pass it on only by deriving a new item, which keeps its ceiling (art. 17(3)).",
    ]
    if item.effective_secret:
        notes.append(
            "It contains secrets under the statutory duty of confidentiality: only "
            "registered handlers may handle it (charter art. 18(4))."
        )
    notes.extend(_third_party_use(reader, tlp))
    return Handling(
        tlp=tlp.value,
        may_reshare=may_derive(reader, item).allowed,
        audience=_AUDIENCE[tlp],
        notes=tuple(notes),
    )


def _third_party_use(reader: Reader, tlp: Tlp) -> list[str]:
    """Notes on using the item to protect others than the reader's own organisation."""
    body = reader.body
    if body.kind is BodyKind.SECRETARIAT:
        return [
            "The secretariat may use it only for the council's own affairs (charter art. 19(1))."
        ]
    uses: list[str] = []
    if body.kind is BodyKind.COORDINATOR or body.tier is Tier.TIER_ONE:
        uses.append(
            "As a member of the tier-one group you may use it to protect your customers, "
            "within the duty of confidentiality (charter art. 24(4), Task Force Rules art. 8)."
        )
    if body.mutual_aid:
        uses.append(
            "As a mutual-aid body you may use it to protect your constituent organisations, "
            "within the scope and the duty of confidentiality (charter art. 19(4))."
        )
    if uses and tlp in _STAYS_INSIDE:
        # TLP 2.0 binds tighter than art. 19(4) and 24(4): these labels never leave
        # the organisation, let alone reach customers or constituents.
        return [
            "The charter would let you use council information for your customers or "
            f"constituents (art. 19(4), 24(4)), but TLP:{tlp.value} keeps this item inside "
            "your organisation."
        ]
    return uses or ["Use it only to secure your own organisation (charter art. 19(2))."]
