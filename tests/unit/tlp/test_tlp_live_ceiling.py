"""SPEC §3 rule 2 on generated cases: a source's ceiling is live. After the source's
scope changes, no reader opens a derived item it could not open under the new
ceiling, and nobody the new ceiling still admits loses it for that reason."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker.domain.model import Body, ItemFacts, Reader, Scope
from broker.tlp import constraints_for_derived, may_read, reclip
from tests.unit.tlp.test_tlp_reference_model import (
    bodies_strategy,
    items,
    ref_inside,
    ref_may_read,
    scopes,
)
from tests.unit.tlp.tlp_builders import item


@st.composite
def narrowings(draw: st.DrawFn) -> tuple[ItemFacts, ItemFacts, ItemFacts, Scope, list[Body]]:
    """A source, an item derived from it, one derived from that, a new source scope."""
    source = draw(items.map(lambda i: _as(i, "source")))
    first = draw(items.map(lambda i: _as(i, "first")))
    first = _derive(first, source)
    second = draw(items.map(lambda i: _as(i, "second")))
    second = _derive(second, first)
    return source, first, second, draw(scopes), draw(bodies_strategy)


def _as(item: ItemFacts, item_id: str) -> ItemFacts:
    return dataclasses.replace(item, id=item_id, constraints=(), derived_from=())


def _derive(item: ItemFacts, source: ItemFacts) -> ItemFacts:
    return dataclasses.replace(
        item,
        derived_from=(source.id,),
        constraints=constraints_for_derived(item.provider_id, [source]),
    )


@settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(narrowings(), st.booleans())
def test_after_a_source_narrows_no_reader_opens_a_derived_item_outside_the_new_ceiling(
    case: tuple[ItemFacts, ItemFacts, ItemFacts, Scope, list[Body]], handler: bool
) -> None:
    """SPEC §3 rule 2, charter art. 17(3): once the source's scope changes, every item
    built on it (directly or through another derived item) opens only for readers inside
    the source's new scope, exactly as if it had been derived under that scope."""
    source, first, second, new_scope, bodies = case
    changed = dataclasses.replace(source, scope=new_scope)
    for derived in (first, second):
        clipped = reclip(derived, changed) or derived
        carries = any(c.source_id == source.id for c in derived.constraints)
        for body in bodies:
            reader = Reader("u", body, is_handler=handler)
            if may_read(reader, clipped) and carries:
                assert ref_inside(new_scope, body, source.provider_id), body
            # The clipped item is what the reference says of the item with the new ceiling.
            expected = dataclasses.replace(
                derived,
                constraints=tuple(
                    dataclasses.replace(c, scope=new_scope) if c.source_id == source.id else c
                    for c in derived.constraints
                ),
            )
            assert may_read(reader, clipped).allowed is ref_may_read(reader, expected), body


def test_reclip_changes_nothing_without_a_ceiling_of_that_source() -> None:
    """Charter art. 17(3): a consented (hence absent) ceiling is not put back."""
    source = item(item_id="s", provider_id="vendor-a")
    derived = item(item_id="d", provider_id="vendor-b")  # consented: no ceiling left
    assert reclip(derived, dataclasses.replace(source, scope=Scope())) is None
