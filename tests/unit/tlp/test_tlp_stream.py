"""Who sees which live event: the stream never shows more than the inbox (docs/api.md "Delivery").

An item-wide event (`item`, `scope_changed`, `withdrawn`) is visible exactly
when its item was delivered to the reader's member and the reader may open
it now; a member event only to users of the member it names, and only if
they may open the item it is about.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from tlp_builders import (
    COORDINATOR,
    COORDINATOR_ID,
    ITEMS_OFTEN_OPEN,
    NAMES,
    READERS,
    SECRETARIAT,
    SECRETARIAT_ID,
    item,
    member,
    reader,
    ref_may_open,
    scope,
    subsets,
    tier_one,
    tier_two,
)

from broker.domain.model import (
    Group,
    ItemFacts,
    ItemKind,
    ItemStatus,
    MemberStatus,
    Reader,
)
from broker.tlp import ITEM_EVENTS, Decision, Reason, may_see_event

MEMBER_EVENTS = ("obligation", "reminder", "overdue", "consultation", "consultation_reply")
EVERYONE = frozenset({"vendor", "vendor-b", "utility", "town", COORDINATOR_ID})
SECRET = item(provider_id="vendor", secret=True)


def see(
    user: Reader,
    kind: str,
    *,
    member_id: str | None = None,
    audience: frozenset[str] = EVERYONE,
    facts: ItemFacts | None = None,
) -> Decision:
    """`may_see_event` with an audience of everyone and no item unless given."""
    return may_see_event(user, kind, member_id=member_id, audience=audience, facts=facts)


def withdrawn(facts: ItemFacts) -> ItemFacts:
    """`facts` after its provider withdrew it."""
    return dataclasses.replace(facts, status=ItemStatus.WITHDRAWN)


def test_the_item_wide_events_are_exactly_item_scope_changed_and_withdrawn() -> None:
    """Three kinds of event concern an item as a whole; every other kind names one member."""
    assert frozenset({"item", "scope_changed", "withdrawn"}) == ITEM_EVENTS


# --- item-wide events: the inbox, live ------------------------------------------------


@pytest.mark.parametrize("kind", ["item", "scope_changed"])
def test_an_item_event_reaches_a_delivered_reader_who_may_open_the_item(kind: str) -> None:
    """A reader whose member was in the audience and who may open the item sees its events."""
    assert see(reader(member("town")), kind, facts=item()) == Decision.allow()


@pytest.mark.parametrize("kind", sorted(ITEM_EVENTS))
def test_an_item_event_never_reaches_a_member_it_was_not_delivered_to(kind: str) -> None:
    """Outside the audience nothing is shown, not even to the coordinator (not in its inbox)."""
    audience = frozenset({"vendor"})
    for user in (reader(member("town")), reader(COORDINATOR, handler=True)):
        assert see(user, kind, audience=audience, facts=item()) == Decision.deny(
            Reason.NOT_DELIVERED
        )


def test_an_item_event_ignores_the_member_it_happens_to_name() -> None:
    """An item-wide event is decided by audience and item alone, whatever member it names."""
    assert see(reader(member("town")), "item", member_id="vendor", facts=item())


@pytest.mark.parametrize("kind", sorted(ITEM_EVENTS))
def test_an_item_event_for_an_item_that_is_gone_is_not_shown(kind: str) -> None:
    """When the item's facts are no longer there, its events are withheld as withdrawn."""
    assert see(reader(member("town")), kind, facts=None) == Decision.deny(Reason.WITHDRAWN)


@pytest.mark.parametrize("kind", ["item", "scope_changed"])
def test_an_item_event_queued_before_a_withdrawal_is_not_shown_after_it(kind: str) -> None:
    """SPEC rule 7 spirit: once withdrawn, earlier events about the item are no longer delivered."""
    assert see(reader(member("town")), kind, facts=withdrawn(item())) == Decision.deny(
        Reason.WITHDRAWN
    )


@pytest.mark.parametrize("kind", sorted(ITEM_EVENTS))
def test_art18_4_an_item_event_for_a_secret_item_only_to_registered_handlers(kind: str) -> None:
    """A user who may not open a secret item does not even learn of it (art. 18(4))."""
    facts = withdrawn(SECRET) if kind == "withdrawn" else SECRET
    town = member("town", has_handler=True)

    assert see(reader(town), kind, facts=facts) == Decision.deny(Reason.NOT_HANDLER)
    assert see(reader(town, handler=True), kind, facts=facts)


def test_art17_1_a_narrowed_scope_hides_later_events_from_those_cut_out() -> None:
    """A member delivered an earlier version sees no events once the provider narrowed it out."""
    narrowed = item(item_scope=scope(Group.ALL_MEMBERS, exclude=("town",)))

    assert see(reader(member("town")), "scope_changed", facts=narrowed) == Decision.deny(
        Reason.EXCLUDED_MEMBER
    )


@pytest.mark.parametrize("kind", sorted(ITEM_EVENTS))
def test_rule7_art8_2_an_item_event_never_reaches_a_restricted_member(kind: str) -> None:
    """Pushes already queued stop for a member the moment its restriction takes effect."""
    facts = withdrawn(item()) if kind == "withdrawn" else item()
    restricted = tier_one("town", status=MemberStatus.RESTRICTED)

    assert see(reader(restricted, handler=True), kind, facts=facts) == Decision.deny(
        Reason.INACTIVE_MEMBER
    )


def test_art14_3_the_secretariat_sees_no_item_event_even_when_delivered() -> None:
    """The secretariat reads no contents, so even an audience naming it shows it nothing."""
    audience = EVERYONE | {SECRETARIAT_ID}
    naming = item(item_scope=scope(Group.ALL_MEMBERS, members=(SECRETARIAT_ID,)))

    assert see(reader(SECRETARIAT, handler=True), "item", audience=audience, facts=naming) == (
        Decision.deny(Reason.SECRETARIAT_NO_CONTENT)
    )


def test_a_withdrawal_is_told_to_those_who_could_open_the_item() -> None:
    """The `withdrawn` event is decided as of just before: recipients learn the item is gone."""
    gone = withdrawn(item(kind=ItemKind.ANALYSIS, item_scope=scope(Group.TIER_ONE_GROUP)))

    assert see(reader(tier_one("vendor-b")), "withdrawn", facts=gone) == Decision.allow()
    assert see(reader(COORDINATOR), "withdrawn", facts=gone) == Decision.allow()


def test_rule6_a_withdrawal_is_not_told_to_those_who_could_not_open_the_item() -> None:
    """A tier-two member in the audience of an analysis learns nothing of its withdrawal."""
    gone = withdrawn(item(kind=ItemKind.ANALYSIS, item_scope=scope(Group.TIER_ONE_GROUP)))

    assert see(reader(tier_two("utility")), "withdrawn", facts=gone) == Decision.deny(
        Reason.OUT_OF_SCOPE, Reason.TIER_TWO_NO_ANALYSIS
    )


# --- member events ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", MEMBER_EVENTS)
def test_a_member_event_reaches_only_the_member_it_names(kind: str) -> None:
    """An obligation, reminder or consultation notice goes to its member alone."""
    assert see(reader(tier_two("utility")), kind, member_id="utility") == Decision.allow()
    for user in (reader(tier_two("town")), reader(COORDINATOR, handler=True)):
        assert see(user, kind, member_id="utility") == Decision.deny(Reason.NOT_ADDRESSED)


def test_a_member_event_naming_no_member_reaches_no_one() -> None:
    """A member event that names no member is shown to nobody, even with an audience."""
    assert see(reader(member("town")), "reminder", member_id=None) == Decision.deny(
        Reason.NOT_ADDRESSED
    )


def test_a_member_event_ignores_the_audience() -> None:
    """A member event is decided by the member it names, not by any audience."""
    assert see(reader(member("town")), "consultation", member_id="town", audience=frozenset())


def test_art18_4_a_member_event_about_an_item_needs_read_access_to_it() -> None:
    """An obligation about a secret item reaches only the member's registered handlers."""
    utility = tier_two("utility", has_handler=True)
    secret = item(provider_id="vendor", secret=True, item_scope=scope(Group.TIER_TWO))

    assert see(reader(utility), "obligation", member_id="utility", facts=secret) == (
        Decision.deny(Reason.NOT_HANDLER)
    )
    assert see(reader(utility, handler=True), "obligation", member_id="utility", facts=secret)


def test_a_member_event_about_a_withdrawn_item_is_withheld() -> None:
    """A reminder about an item withdrawn since it was queued is not delivered."""
    assert see(
        reader(tier_two("utility")), "reminder", member_id="utility", facts=withdrawn(item())
    ) == Decision.deny(Reason.WITHDRAWN)


@pytest.mark.parametrize("status", [MemberStatus.RESTRICTED, MemberStatus.APPLICANT])
def test_rule7_art8_2_a_member_event_without_an_item_never_reaches_an_inactive_member(
    status: MemberStatus,
) -> None:
    """A restricted member, which may still sign in, is pushed nothing, item or not."""
    restricted = tier_one("vendor", status=status)

    assert see(reader(restricted), "consultation", member_id="vendor") == Decision.deny(
        Reason.INACTIVE_MEMBER
    )


# --- against a plain reference model ------------------------------------------------------


def ref_may_see(
    user: Reader,
    kind: str,
    member_id: str | None,
    audience: frozenset[str],
    facts: ItemFacts | None,
) -> tuple[bool, Reason | None]:
    """Reference: the inbox rule, live. Whether shown, and the event-level reason if not.

    The reason is None when the refusal is the item's own (whether the
    reader may open it), whose reasons the reading policy gives.
    """
    body = user.body
    if kind in ("item", "scope_changed", "withdrawn"):
        if body.id not in audience:
            return False, Reason.NOT_DELIVERED
        if facts is None:
            return False, Reason.WITHDRAWN
        if kind == "withdrawn":
            facts = dataclasses.replace(facts, status=ItemStatus.ACTIVE)  # as of just before
        return ref_may_open(user, facts), None
    if member_id is None or member_id != body.id:
        return False, Reason.NOT_ADDRESSED
    if facts is None:
        return body.status == MemberStatus.ACTIVE, None  # SPEC rule 7: nothing to the inactive
    return ref_may_open(user, facts), None


@settings(deadline=None, database=None)  # examples: the dev or ci profile (tests/conftest.py)
@given(
    user=READERS,
    kind=st.sampled_from(("item", "scope_changed", "withdrawn", *MEMBER_EVENTS)),
    member_id=st.sampled_from((None, *NAMES)),
    audience=st.sampled_from(subsets(NAMES, 3)),
    facts=st.one_of(st.none(), ITEMS_OFTEN_OPEN, ITEMS_OFTEN_OPEN),
)
def test_may_see_event_agrees_with_the_reference_model(
    user: Reader,
    kind: str,
    member_id: str | None,
    audience: frozenset[str],
    facts: ItemFacts | None,
) -> None:
    """Every event is shown exactly when the naive inbox model says so, for the same reason."""
    decision = may_see_event(user, kind, member_id=member_id, audience=audience, facts=facts)

    shown, reason = ref_may_see(user, kind, member_id, audience, facts)
    event(f"shown: {shown}, event-level reason: {reason}")
    assert decision.allowed is shown
    if reason is not None:
        assert decision.reasons == (reason,)


# --- open connections after a change of rights ----------------------------------------

RIGHTS_CHANGES = ("revoked", "handler_removed", "handler_added")


def _after(user: Reader, change: str) -> Reader | None:
    """Reference: the user as it now is (None: revoked, it may open nothing)."""
    if change == "revoked":
        return None
    if change == "handler_removed":
        return dataclasses.replace(user, is_handler=False)
    body = dataclasses.replace(user.body, has_handler=True)
    return dataclasses.replace(user, body=body, is_handler=True)


@settings(deadline=None, database=None)  # examples: the dev or ci profile (tests/conftest.py)
@given(
    users=st.lists(READERS, min_size=1, max_size=4),
    target=st.integers(min_value=0, max_value=3),
    change=st.sampled_from(RIGHTS_CHANGES),
    events=st.lists(
        st.tuples(
            st.sampled_from(("item", "scope_changed", "withdrawn", *MEMBER_EVENTS)),
            st.sampled_from((None, *NAMES)),
            st.sampled_from(subsets(NAMES, 3)),
            st.one_of(st.none(), ITEMS_OFTEN_OPEN),
        ),
        max_size=6,
    ),
)
def test_rule3_rule7_after_a_rights_change_a_connection_is_sent_what_the_user_may_now_open(
    users: list[Reader],
    target: int,
    change: str,
    events: list[tuple[str, str | None, frozenset[str], ItemFacts | None]],
) -> None:
    """SPEC §3 rules 3, 7: for generated councils, once a user is revoked, loses or
    gains its handler registration, what its open connection (or, closed, its new one)
    is still sent is exactly what the user may now open; others are unaffected."""
    from broker.delivery.hub import Hub
    from broker.delivery.model import FeedEvent
    from broker.domain import EventKind

    users = [dataclasses.replace(u, user_id=f"u{n}") for n, u in enumerate(users)]
    changed = users[target % len(users)]
    hub = Hub()
    connections = [hub.subscribe(u) for u in users]
    announced = FeedEvent(
        seq=1,
        kind=EventKind.USER_ACCESS,
        item_id=None,
        member_id=changed.body.id,
        audience=frozenset(),
        facts=None,
        payload={"user_id": changed.user_id},
    )
    hub.publish([announced])
    now = _after(changed, change)
    reconnected = hub.subscribe(now) if now is not None else None
    feed = [
        FeedEvent(seq=n, kind=EventKind(kind), item_id=None if facts is None else facts.id,
                  member_id=member_id, audience=audience, facts=facts)
        for n, (kind, member_id, audience, facts) in enumerate(events, start=2)
    ]  # fmt: skip
    hub.publish(feed)

    def sent(subscription: object) -> set[int]:
        queue = getattr(subscription, "queue")  # noqa: B009 - typed loosely here
        out = set()
        while not queue.empty():
            message = queue.get_nowait()
            if isinstance(message, FeedEvent):
                out.add(message.seq)
        return out

    def may_now(user: Reader | None) -> set[int]:
        if user is None:
            return set()
        return {
            e.seq for e in feed if ref_may_see(user, e.kind, e.member_id, e.audience, e.facts)[0]
        }

    for user, connection in zip(users, connections, strict=True):
        if user is changed:
            still = sent(connection) | (sent(reconnected) if reconnected is not None else set())
            event(f"change: {change}, closed: {connection.closed is not None}")
            assert still == may_now(now), change
        else:
            assert sent(connection) == may_now(user)
