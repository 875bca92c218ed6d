"""Per-user rules: who may open an item, break the glass, and see its victim."""

from __future__ import annotations

import unicodedata
from typing import Literal

from broker.domain.model import BodyKind, ItemFacts, ItemStatus, MemberStatus, Reader, Tlp
from broker.tlp._decision import Decision, Reason
from broker.tlp._routing import receives

VictimView = Literal["full", "damage_only"]

WRITTEN_REASON_MIN = 10
"""The fewest visible characters a break-glass reason must have (art. 14(3))."""


def may_read(reader: Reader, item: ItemFacts) -> Decision:
    """Whether the signed-in `reader` may open `item` (and see it listed at all).

    The reader's body must receive the item, and secret and TLP:RED items open
    only to registered handlers. The secretariat reads nothing this way: it
    has break-glass access instead.
    """
    reasons: list[Reason] = []
    if reader.body.kind is BodyKind.SECRETARIAT:
        reasons.append(Reason.SECRETARIAT_NO_CONTENT)  # charter art. 14(3)
    reasons.extend(receives(item, reader.body).reasons)
    if _needs_handler(item) and not reader.is_handler:
        reasons.append(Reason.NOT_HANDLER)
    return Decision.from_reasons(reasons)


def may_break_glass(reader: Reader, item: ItemFacts) -> Decision:
    """Whether `reader` may open `item` through the secretariat's break-glass access.

    Charter art. 14(3): only the secretariat, only to settle a dispute or run
    general affairs (the services take the written reason and audit it), only
    on a live item; and a secret or TLP:RED item only by one of its handlers.
    """
    reasons: list[Reason] = []
    if reader.body.kind is not BodyKind.SECRETARIAT:
        reasons.append(Reason.NOT_SECRETARIAT)
    if reader.body.status is not MemberStatus.ACTIVE:
        reasons.append(Reason.INACTIVE_MEMBER)
    if item.status is not ItemStatus.ACTIVE:
        reasons.append(Reason.WITHDRAWN)  # nothing left to open: the data key is gone
    if _needs_handler(item) and not reader.is_handler:
        reasons.append(Reason.NOT_HANDLER)  # charter art. 13: binds the secretariat's staff
    return Decision.from_reasons(reasons)


def visible_length(text: str) -> int:
    """How many visible characters `text` has: after NFKC normalisation, without
    whitespace (spaces, newlines, ideographic spaces) and format characters
    (Unicode category Cf: zero-width spaces and joiners, bidi controls)."""
    normalised = unicodedata.normalize("NFKC", text)
    return sum(
        1 for ch in normalised if not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Cc")
    )


def is_written_reason(reason: str) -> Decision:
    """Whether `reason` is a written reason a break-glass read may rest on.

    Charter art. 14(3): the secretariat states why it opens an item; a reason
    of blanks or invisible characters states nothing, so it needs at least
    `WRITTEN_REASON_MIN` visible characters (`visible_length`).
    """
    if visible_length(reason) < WRITTEN_REASON_MIN:
        return Decision.deny(Reason.REASON_NOT_WRITTEN)
    return Decision.allow()


def victim_view(reader: Reader, item: ItemFacts) -> VictimView:
    """How much of `item`'s victim details `reader` sees.

    Charter annex: the victim's name is masked for everyone but the provider
    and the coordinator; all others learn only whether damage is present.
    """
    if reader.body.id == item.provider_id or reader.body.kind is BodyKind.COORDINATOR:
        return "full"
    return "damage_only"


def _needs_handler(item: ItemFacts) -> bool:
    """Whether only registered handlers may open `item`.

    Charter art. 18(4): secrets only to registered handlers. TLP 2.0: RED is
    for the individual recipients only, which inside a member means its
    registered handlers.
    """
    return item.effective_secret or item.effective_tlp is Tlp.RED
