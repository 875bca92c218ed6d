"""The item use cases against the attack on the broker: live source ceilings,
what a submitter learns, break-glass reasons, idempotency keys, content
markings, the provider's own secret items, and denials that do the same work
whether an item exists or not."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from broker.domain import (
    Actor,
    AuditAction,
    BodyKind,
    Confidence,
    EventKind,
    ExcludableAttribute,
    Group,
    ItemKind,
    MemberStatus,
    Scope,
    Tier,
    Tlp,
)
from broker.domain.items import PendingConsent, VersionChange
from broker.errors import InvalidInput, NotFound
from tests.service.test_items import REASON, World, _actor, _body

TLP2_RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
TLP1_AMBER = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
TIER_ONE = Scope(groups=frozenset({Group.TIER_ONE_GROUP}))
ALL = Scope(groups=frozenset({Group.ALL_MEMBERS}))


@pytest.fixture
def world() -> World:
    world = World()
    extra = {
        "vendor-d": _body("vendor-d"),
        "general": _body("general", Tier.NONE),
        "police": _body("police", Tier.NONE, law_enforcement=True),
        "refuser": _body("refuser", Tier.NONE, refuses_secrets=True),
        "gone": _body("gone", Tier.NONE, status=MemberStatus.RESTRICTED),
        "nohandler": dataclasses.replace(_body("nohandler", Tier.NONE), has_handler=False),
    }
    world.store.uow.members.bodies.update(extra)
    return world


def _of(world: World, body_id: str, *, handler: bool = True) -> Actor:
    return _actor(world.store.uow.members.bodies[body_id], handler=handler)


async def _opens(world: World, actor: Actor, item_id: str) -> bool:
    try:
        await world.items.read(actor, item_id)
    except NotFound:
        return False
    return True


# -- SPEC §3 rule 2: a source's ceiling is live ---------------------------------


async def test_narrowing_a_source_narrows_every_item_derived_from_it(world: World) -> None:
    """SPEC §3 rule 2, charter art. 17(3): a narrowed source narrows every item built
    on it, transitively, as new audited scope versions; its readers lose access at once."""
    a, b, c, d = (_of(world, m) for m in ("vendor-a", "vendor-b", "vendor-c", "vendor-d"))
    source = await world.submit(a)
    derived = await world.submit(b, derived_from=(source.id,))
    further = await world.submit(c, derived_from=(derived.id,))
    assert await _opens(world, d, derived.id) and await _opens(world, d, further.id)

    await world.items.change_scope(
        a, source.id, Scope(groups=TIER_ONE.groups, exclude_members=frozenset({"vendor-d"}))
    )

    assert not await _opens(world, d, source.id)
    assert not await _opens(world, d, derived.id)  # built on the source
    assert not await _opens(world, d, further.id)  # built on what was built on it
    assert await _opens(world, c, derived.id)  # the others keep their access
    repo = world.store.uow.items
    for item_id in (derived.id, further.id):
        assert repo.items[item_id].scope_version == 2
        assert repo.versions[(item_id, 2)].change is VersionChange.CEILING
        assert "vendor-d" not in repo.audiences[repo.items[item_id].audience_id]
    changes = [
        e
        for e in world.audit
        if e.action is AuditAction.ITEM_SCOPE_CHANGE and e.outcome == "allowed"
    ]
    assert {e.item_id for e in changes} == {source.id, derived.id, further.id}
    # The source's change is by its provider; what follows from it is by the system,
    # so a derived item's access log does not name who is behind its ceilings.
    by = {e.item_id: e.actor_user_id for e in changes}
    assert by == {source.id: a.user_id, derived.id: None, further.id: None}
    assert repo.versions[(derived.id, 2)].by_user_id == a.user_id
    events = [e for e in world.store.uow.feed.events if e.kind is EventKind.SCOPE_CHANGED]
    assert {e.item_id for e in events} == {source.id, derived.id, further.id}


async def test_a_consented_ceiling_is_not_put_back_by_a_later_narrowing(world: World) -> None:
    """Charter art. 17(3): a consent lifts that source's ceiling for good; only the
    ceilings still in force follow the source."""
    a, b = _of(world, "vendor-a"), _of(world, "vendor-b")
    source, derived = await _wider_derived(world, a, b)
    await world.items.consent(a, source.id, derived.id)
    await world.items.change_scope(a, source.id, Scope(members=frozenset({"vendor-c"})))
    assert world.store.uow.items.items[derived.id].scope_version == 2  # the consent only
    assert await _opens(world, _of(world, "power"), derived.id)


async def _wider_derived(world: World, a: Actor, b: Actor) -> tuple[Any, Any]:
    source = await world.submit(a)
    derived = await world.submit(
        b,
        kind=ItemKind.COUNTERMEASURE,
        confidence=Confidence.LOW,
        derived_from=(source.id,),
        scope=Scope(groups=frozenset({Group.TIER_TWO})),
    )
    return source, derived


# -- SPEC §3 rule 10: a submitter learns only what it may know ------------------


async def test_a_submitter_is_not_told_why_members_it_cannot_see_were_left_out(
    world: World,
) -> None:
    """SPEC §3 rule 10, charter art. 19(2): `dropped` counts only bodies the submitter
    may see (itself; every body for the coordinator): a member's restriction, law
    enforcement, missing handler or refusal of secrets is not the submitter's to learn."""
    a = _of(world, "vendor-a")
    scope = Scope(
        groups=ALL.groups, exclude_attributes=frozenset({ExcludableAttribute.LAW_ENFORCEMENT})
    )
    result = await world.submit(
        a,
        kind=ItemKind.COUNTERMEASURE,
        confidence=Confidence.HIGH,
        secret=True,
        scope=scope,
    )
    assert result.dropped == {}
    assert result.recipients > 0  # the total it reached is its to know
    submitted = [e for e in world.audit if e.action is AuditAction.ITEM_SUBMIT][-1]
    assert submitted.details["dropped"] == {}  # its access log shows the same


async def test_a_scope_change_tells_the_provider_nothing_of_members_it_cannot_see(
    world: World,
) -> None:
    """SPEC §3 rule 10: a new scope version's `dropped` follows the same rule."""
    a = _of(world, "vendor-a")
    item = await world.submit(
        a, kind=ItemKind.COUNTERMEASURE, confidence=Confidence.HIGH, scope=ALL
    )
    changed = await world.items.change_scope(
        a,
        item.id,
        Scope(
            groups=ALL.groups,
            exclude_attributes=frozenset({ExcludableAttribute.LAW_ENFORCEMENT}),
        ),
    )
    assert changed.dropped == {}


async def test_pending_consents_name_only_sources_the_deriver_may_see(world: World) -> None:
    """Charter art. 17(3), SPEC §3 rule 10: a derive answer names the provider of a
    source only if the caller may open that source; a ceiling inherited from a source
    it cannot see is not named."""
    a, b, general = _of(world, "vendor-a"), _of(world, "vendor-b"), _of(world, "general")
    # The source reaches all members by scope, but a general member gets only
    # high-confidence countermeasures: the general member cannot open it.
    source = await world.submit(
        a, kind=ItemKind.COUNTERMEASURE, confidence=Confidence.LOW, scope=ALL
    )
    assert not await _opens(world, general, source.id)
    confirmed = await world.submit(
        b,
        kind=ItemKind.COUNTERMEASURE,
        confidence=Confidence.HIGH,
        derived_from=(source.id,),
        scope=ALL,
    )
    assert await _opens(world, general, confirmed.id)
    relabelled = await world.submit(
        general,
        kind=ItemKind.COUNTERMEASURE,
        confidence=Confidence.HIGH,
        tlp=Tlp.GREEN,  # laxer than both sources' AMBER: both providers are asked
        derived_from=(confirmed.id,),
        scope=ALL,
    )
    assert relabelled.pending_consents == (PendingConsent(confirmed.id, "vendor-b"),)
    derived_audit = [e for e in world.audit if e.action is AuditAction.ITEM_SUBMIT][-1]
    assert derived_audit.details["pending_consents"] == ["vendor-b"]
    # The source's provider is still asked: only the answer is limited.
    assert "vendor-a" in await world.store.uow.items.pending_consent_providers(relabelled.id)


# -- charter art. 14(3): a written reason ---------------------------------------


@pytest.mark.parametrize(
    "reason",
    [
        " " * 40,
        "\u200b" * 40,
        "\n\t\n" * 10,
        "\u3000" * 20,
        "short \u200b\u200b\u200b reason"[:9],
        "a\u200bb\u200bc\u200bd\u200be\u200bf\u200bg\u200bh\u200bi\u200b",
    ],
)
async def test_break_glass_needs_ten_visible_characters(world: World, reason: str) -> None:
    """Charter art. 14(3): a break-glass reason of blanks, zero-width or format
    characters is no written reason; it is refused (422 on `reason`) and audited."""
    item = await world.submit(_of(world, "vendor-a"))
    sec = _of(world, "sec")
    with pytest.raises(InvalidInput) as refused:
        await world.items.break_glass(sec, item.id, reason)
    assert refused.value.field == "reason"
    denial = world.audit[-1]
    assert (denial.action, denial.outcome, denial.reason) == (
        AuditAction.ITEM_BREAK_GLASS,
        "denied",
        "reason_not_written",
    )
    opened = await world.items.break_glass(sec, item.id, REASON)
    assert opened.content is not None


# -- docs/api.md: a bounded, visible-ASCII Idempotency-Key ----------------------


@pytest.mark.parametrize("key", ["clé", "キー", "a b", "tab\there", "x" * 201, "", "\udcff"])
async def test_an_idempotency_key_outside_visible_ascii_is_refused(world: World, key: str) -> None:
    """docs/api.md `POST /v1/items`: an Idempotency-Key is 1 to 200 visible ASCII
    characters; any other is a 422 naming the header, and nothing is stored."""
    with pytest.raises(InvalidInput) as refused:
        await world.submit(_of(world, "vendor-a"), key=key)
    assert refused.value.field == "Idempotency-Key"
    assert world.store.uow.items.items == {}


# -- TLP 2.0: content markings bind the item's label ----------------------------


def _bundle(*objects: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "bundle",
        "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
        "objects": list(objects),
    }


INDICATOR = {
    "type": "indicator",
    "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
}


@pytest.mark.parametrize(
    ("tlp", "marked", "path"),
    [
        (Tlp.CLEAR, {"object_marking_refs": [TLP2_RED]}, "object_marking_refs"),
        (Tlp.AMBER, {"object_marking_refs": [TLP2_RED]}, "object_marking_refs"),
        (
            Tlp.GREEN,
            {"granular_markings": [{"marking_ref": TLP1_AMBER, "selectors": ["pattern"]}]},
            "granular_markings",
        ),
    ],
)
async def test_an_item_is_never_labelled_weaker_than_a_marking_in_its_content(
    world: World, tlp: Tlp, marked: dict[str, Any], path: str
) -> None:
    """TLP 2.0: a STIX bundle marked TLP:RED (or AMBER) is not accepted under a weaker
    label; the 422 names the object, the refusal is audited and nothing is stored."""
    bundle = _bundle(
        {"type": "note", "id": "note--1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b"},
        {
            **INDICATOR,
            **marked,
        },
    )
    with pytest.raises(InvalidInput) as refused:
        await world.submit(
            _of(world, "vendor-a"),
            kind=ItemKind.COUNTERMEASURE,
            confidence=Confidence.HIGH,
            tlp=tlp,
            scope=ALL,
            stix=bundle,
        )
    assert refused.value.field == f"stix.objects[1].{path}"
    assert INDICATOR["id"] in str(refused.value)
    denial = world.audit[-1]
    assert (denial.action, denial.outcome, denial.reason) == (
        AuditAction.ITEM_SUBMIT,
        "denied",
        "content_marked_stricter",
    )
    assert world.store.uow.items.items == {}


async def test_an_item_labelled_at_least_as_strictly_as_its_content_is_accepted(
    world: World,
) -> None:
    """TLP 2.0: a label as strict as the content's marking, or stricter, is fine."""
    bundle = _bundle({**INDICATOR, "object_marking_refs": [TLP1_AMBER]})
    for tlp in (Tlp.AMBER, Tlp.RED):
        result = await world.submit(_of(world, "vendor-a"), tlp=tlp, stix=bundle)
        assert result.version == 1


# -- SPEC §2: the provider's handlers keep access to its own items --------------


async def test_a_member_refusing_secrets_still_opens_its_own_secret_item(world: World) -> None:
    """SPEC §2, charter art. 17(1), 18(5): refusing secrets is about receiving others';
    the provider's handlers always keep access to what their own body submitted."""
    refuser = _of(world, "refuser")
    item = await world.submit(
        refuser,
        kind=ItemKind.COUNTERMEASURE,
        confidence=Confidence.HIGH,
        secret=True,
        scope=ALL,
    )
    opened = await world.items.read(refuser, item.id)
    assert opened.content is not None
    # Still a secret: a user of the same body who is no handler does not open it.
    assert not await _opens(world, _of(world, "refuser", handler=False), item.id)


# -- SPEC §3 rule 10: a denial does the same work for absent and forbidden ids ---


async def test_a_forbidden_and_an_absent_id_are_denied_with_the_same_work(
    world: World,
) -> None:
    """SPEC §3 rule 10 (docs/api.md: 404 reveals nothing): a read of an item one may
    not see and of an id that does not exist make the same store calls and the same
    audit event, so neither the answer nor its timing tells them apart."""
    a, b = _of(world, "vendor-a"), _of(world, "vendor-b")
    source = await world.submit(a)
    derived = await world.submit(
        b, derived_from=(source.id,), scope=Scope(members=frozenset({"vendor-b"}))
    )
    outsider = _of(world, "power")
    calls: list[str] = []
    repo = world.store.uow.items
    for name in ("get", "get_many", "facts", "delivered_to"):
        original = getattr(repo, name, None)
        if original is None:
            continue

        def spy(*args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
            calls.append(_name)
            return _original(*args, **kw)

        setattr(repo, name, spy)

    def denied(item_id: str) -> tuple[list[str], tuple[Any, ...]]:
        event = world.audit[-1]
        shape = (event.action, event.outcome, event.item_id == item_id, sorted(event.details))
        return list(calls), shape

    with pytest.raises(NotFound):
        await world.items.read(outsider, derived.id)
    forbidden = denied(derived.id)
    calls.clear()
    with pytest.raises(NotFound):
        await world.items.read(outsider, "0" * len(derived.id))
    absent = denied("0" * len(derived.id))
    assert forbidden == absent


async def test_the_coordinator_sees_every_bodys_dropped_reason(world: World) -> None:
    """docs/api.md `GET /v1/members`: the coordinator sees every body, so it is told
    why each addressed body was left out."""
    coordinator = _of(world, "coord")
    assert coordinator.body.kind is BodyKind.COORDINATOR
    told = await world.submit(
        coordinator,
        kind=ItemKind.COUNTERMEASURE,
        confidence=Confidence.HIGH,
        scope=ALL,
        secret=True,
    )
    assert told.dropped.get("refuses_secrets") == 1
    assert told.dropped.get("inactive_member") == 1
