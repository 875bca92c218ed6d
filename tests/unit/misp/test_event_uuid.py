"""An item's MISP event uuid: a valid UUID that gives the item id back."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from broker.misp.events import event_uuid, item_id_of
from broker.services.ids import new_id

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# ULIDs of this era: "0" then 0-3 until the year 2109 (a 42-bit millisecond time).
ulids = st.builds(
    lambda second, rest: "0" + second + rest,
    st.sampled_from("0123"),
    st.text(alphabet=_CROCKFORD, min_size=24, max_size=24),
)


@given(ulids)
def test_the_uuid_is_valid_and_reversible(item_id: str) -> None:
    """Version 8, RFC variant (MISP validates event uuids), and it names the item again."""
    packed = uuid.UUID(event_uuid(item_id))
    assert packed.version == 8 and packed.variant == uuid.RFC_4122
    assert item_id_of(str(packed)) == item_id


def test_ids_made_in_one_millisecond_get_different_uuids() -> None:
    """Consecutive ULIDs differ in their last bits: so do their uuids."""
    ids = [new_id() for _ in range(1000)]
    assert len({event_uuid(i) for i in ids}) == 1000


def test_other_uuids_name_no_item() -> None:
    """A uuid4, or not a uuid at all, is none of ours."""
    assert item_id_of(str(uuid.uuid4())) is None
    assert item_id_of("not-a-uuid") is None
