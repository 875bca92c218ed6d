"""Who sees which live event: the stream and webhooks decide here (docs/api.md "Delivery").

The stream must never show more than the inbox does: an item-wide event is
visible exactly when its item is in the reader's inbox (delivered to the
reader's member and readable by this user now); a member event only to users
of the member it names, and only if they may read the item it is about.
"""

from __future__ import annotations

import dataclasses

from broker.domain import ITEM_EVENTS, EventKind, ItemFacts, ItemStatus, MemberStatus, Reader
from broker.tlp._decision import Decision, Reason
from broker.tlp._reading import may_read

__all__ = ["ITEM_EVENTS", "may_see_event"]


def may_see_event(
    reader: Reader,
    kind: str,
    *,
    member_id: str | None,
    audience: frozenset[str],
    facts: ItemFacts | None,
) -> Decision:
    """Whether one live event may be shown to `reader`."""
    # Events about an item as a whole; the rest are addressed to one member.
    if kind in ITEM_EVENTS:
        if reader.body.id not in audience:
            return Decision.deny(Reason.NOT_DELIVERED)
        if facts is None:
            return Decision.deny(Reason.WITHDRAWN)
        if kind == EventKind.WITHDRAWN:
            # Tell those who could open it that it is gone; the item itself is
            # already withdrawn, so ask as of just before.
            facts = dataclasses.replace(facts, status=ItemStatus.ACTIVE)
        return may_read(reader, facts)
    if member_id != reader.body.id:
        return Decision.deny(Reason.NOT_ADDRESSED)
    if facts is not None:
        return may_read(reader, facts)
    if reader.body.status is not MemberStatus.ACTIVE:
        return Decision.deny(Reason.INACTIVE_MEMBER)  # rule 7, art. 8(2): nothing at all
    return Decision.allow()
