"""Pure rules the attack on the broker added: TLP markings in STIX content, what a
written break-glass reason is, and which dropped reasons a submitter may learn."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from broker.api.models import BreakGlassIn
from broker.domain.model import BodyKind, ExcludableAttribute, Group, MemberStatus, Tlp
from broker.tlp import (
    TLP_MARKING_DEFINITIONS,
    content_markings,
    dropped_seen_by,
    is_written_reason,
    may_see_member,
    recipients_for,
    stricter_markings,
    visible_length,
)
from tests.unit.tlp.tlp_builders import (
    COORDINATOR,
    SECRETARIAT,
    item,
    member,
    reader,
    scope,
    tier_one,
)

RED_2_0 = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
AMBER_STRICT_2_0 = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
WHITE_1_0 = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
RED_1_0 = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"


def _bundle(*objects: dict[str, Any]) -> dict[str, Any]:
    return {"type": "bundle", "id": "bundle--0", "objects": list(objects)}


def test_tlp_2_0_and_1_0_marking_ids_map_to_their_labels() -> None:
    """TLP 2.0, STIX 2.1 §7.2.1.4: the well-known ids of both versions; WHITE is CLEAR."""
    assert TLP_MARKING_DEFINITIONS[RED_2_0] is Tlp.RED
    assert TLP_MARKING_DEFINITIONS[AMBER_STRICT_2_0] is Tlp.AMBER_STRICT
    assert TLP_MARKING_DEFINITIONS[RED_1_0] is Tlp.RED
    assert TLP_MARKING_DEFINITIONS[WHITE_1_0] is Tlp.CLEAR
    assert len(TLP_MARKING_DEFINITIONS) == 9


def test_object_and_granular_markings_count_and_others_are_ignored() -> None:
    """TLP 2.0: `object_marking_refs` and `granular_markings` both mark content;
    non-TLP marking definitions say nothing about TLP."""
    bundle = _bundle(
        {"type": "indicator", "id": "indicator--1", "object_marking_refs": [WHITE_1_0]},
        {
            "type": "report",
            "id": "report--2",
            "object_marking_refs": ["marking-definition--copyright"],
            "granular_markings": [{"marking_ref": RED_1_0, "selectors": ["description"]}],
        },
    )
    found = content_markings(bundle)
    assert [(m.index, m.object_id, m.path, m.tlp) for m in found] == [
        (0, "indicator--1", "object_marking_refs", Tlp.CLEAR),
        (1, "report--2", "granular_markings", Tlp.RED),
    ]
    assert [m.object_id for m in stricter_markings(Tlp.AMBER, bundle)] == ["report--2"]
    assert stricter_markings(Tlp.RED, bundle) == ()
    assert stricter_markings(Tlp.CLEAR, None) == ()


def test_a_bundles_own_tlp_marking_definition_counts() -> None:
    """TLP 2.0: a marking definition in the bundle declaring TLP (the 1.0 `tlp`
    definition type or the 2.0 property extension) marks what references it."""
    bundle = _bundle(
        {
            "type": "marking-definition",
            "id": "marking-definition--local-1",
            "definition_type": "tlp",
            "definition": {"tlp": "red"},
        },
        {
            "type": "marking-definition",
            "id": "marking-definition--local-2",
            "extensions": {
                "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {
                    "extension_type": "property-extension",
                    "tlp_2_0": "amber+strict",
                }
            },
        },
        {
            "type": "indicator",
            "id": "indicator--3",
            "object_marking_refs": ["marking-definition--local-1"],
        },
        {
            "type": "indicator",
            "id": "indicator--4",
            "object_marking_refs": ["marking-definition--local-2"],
        },
    )
    assert [m.tlp for m in stricter_markings(Tlp.AMBER, bundle)] == [Tlp.RED, Tlp.AMBER_STRICT]


@pytest.mark.parametrize(
    ("text", "visible"),
    [
        ("dispute over who saw it first", 24),
        (" " * 30, 0),
        ("\u200b\u200c\u200d\u2060\ufeff" * 4, 0),
        ("\n\r\t\x0b\x0c\u3000\u00a0", 0),
        (
            "\uff44\uff49\uff53\uff50\uff55\uff54\uff45",
            7,
        ),  # fullwidth letters are letters after NFKC
    ],
)
def test_visible_length_ignores_whitespace_and_format_characters(text: str, visible: int) -> None:
    """Charter art. 14(3): only visible characters state a reason (NFKC, no whitespace,
    no format characters)."""
    assert visible_length(text) == visible


def test_a_written_reason_needs_ten_visible_characters() -> None:
    """Charter art. 14(3): ten visible characters at least, whatever pads them."""
    assert is_written_reason("0123456789")
    assert not is_written_reason("012345678" + " \u200b" * 50)
    with pytest.raises(ValidationError):
        BreakGlassIn(reason="\u200b" * 20)
    with pytest.raises(ValidationError):
        BreakGlassIn(reason=" " * 20)
    assert BreakGlassIn(reason="settling a dispute").reason == "settling a dispute"


def test_a_member_sees_itself_and_the_coordinator_and_secretariat_see_all() -> None:
    """docs/api.md `GET /v1/members`: a member sees itself; the coordinator and the
    secretariat see every body."""
    vendor = reader(tier_one("vendor"))
    assert may_see_member(vendor, "vendor")
    assert not may_see_member(vendor, "police")
    assert may_see_member(reader(COORDINATOR), "police")
    assert may_see_member(reader(SECRETARIAT), "police")


def test_dropped_reasons_are_told_only_for_bodies_the_submitter_may_see() -> None:
    """SPEC §3 rule 10, charter art. 19(2): a submitter learns why a body it may see
    was left out, never why another member was."""
    police = member("police", law_enforcement=True)
    gone = member("gone", status=MemberStatus.RESTRICTED)
    refuser = member("refuser", refuses_secrets=True, has_handler=True)
    bodies = [tier_one("vendor"), police, gone, refuser, COORDINATOR]
    secret = item(
        secret=True,
        item_scope=scope(
            Group.ALL_MEMBERS, exclude_attributes=(ExcludableAttribute.LAW_ENFORCEMENT,)
        ),
    )
    assert recipients_for(secret, bodies).dropped  # the full routing knows
    assert dropped_seen_by(reader(tier_one("vendor")), secret, bodies) == {}
    told = dropped_seen_by(reader(COORDINATOR), secret, bodies)
    assert told == dict(recipients_for(secret, bodies).dropped)
    assert COORDINATOR.kind is BodyKind.COORDINATOR
