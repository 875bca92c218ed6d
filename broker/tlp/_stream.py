"""Who sees which live event: the stream and webhooks decide here (docs/api.md "Delivery").

The stream must never show more than the inbox does: an item-wide event is
visible exactly when its item is in the reader's inbox (delivered to the
reader's member and readable by this user now); a member event only to users
of the member it names, and only if they may read the item it is about.

An open connection keeps the reader it was opened with, so it must not outlive
a change of that reader's rights (SPEC §3 rules 3, 7): a change announced in
the feed closes the connections it concerns (`rights_changed`), and a change
that comes by itself with time (a handler registration ending or starting; a
token's expiry, when tokens get one) closes it when it falls due
(`rights_until`, `may_keep_stream`). The client reconnects and is decided
afresh.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime

from broker.domain import ITEM_EVENTS, EventKind, ItemFacts, ItemStatus, MemberStatus, Reader
from broker.domain.members import HandlerRegistration
from broker.tlp._decision import Decision, Reason
from broker.tlp._reading import may_read

__all__ = ["ITEM_EVENTS", "may_keep_stream", "may_see_event", "rights_changed", "rights_until"]


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


def rights_changed(
    reader: Reader, kind: str, *, member_id: str | None, user_id: str | None
) -> bool:
    """Whether an internal feed event changes what `reader`'s open connections may be
    sent, so they must close at once: its member's status changed (rule 7, art. 7,
    8), or this user's own rights did (revoked, handler registration added or
    ended, role changed; rules 3, 7). A user change naming no user concerns every
    user of the member."""
    if member_id != reader.body.id:
        return False
    if kind == EventKind.MEMBER_STATUS:
        return True
    if kind == EventKind.USER_ACCESS:
        return user_id is None or user_id == reader.user_id
    return False


def rights_until(
    reader: Reader,
    *,
    now: datetime,
    revoked: bool,
    registrations: Iterable[HandlerRegistration],
    token_expires_at: datetime | None = None,
) -> datetime | None:
    """When `reader`'s rights next change by themselves, as its connection must know:
    `now` if they are already less than the reader's (revoked, or no longer a
    handler since it signed in), else the earliest of its handler registrations'
    starts and ends still to come and its token's expiry; None if never."""
    if token_expires_at is not None:
        token_expires_at = _utc(token_expires_at)
    if revoked or (token_expires_at is not None and token_expires_at <= now):
        return now
    spans = [
        (_utc(r.effective_from), None if r.effective_until is None else _utc(r.effective_until))
        for r in registrations
        if r.user_id == reader.user_id
    ]
    handler_now = any(start <= now and (end is None or now < end) for start, end in spans)
    if reader.is_handler and not handler_now:
        # Lost since sign-in: close. (Gained: the connection shows less than it
        # may, which leaks nothing; the next connection gets it.)
        return now
    upcoming = [start for start, _ in spans if start > now]
    upcoming += [end for _, end in spans if end is not None and end > now]
    if token_expires_at is not None:
        upcoming.append(token_expires_at)
    return min(upcoming, default=None)


def may_keep_stream(until: datetime | None, now: datetime) -> bool:
    """Whether a connection whose rights hold `until` (see `rights_until`) may still be
    sent anything at `now`: not from the moment they change (SPEC §3 rule 7)."""
    return until is None or now < until


def _utc(moment: datetime) -> datetime:
    # Stored times are UTC; some databases hand them back without a zone.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
