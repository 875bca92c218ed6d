"""The request-body depth check against a plain model: the parsed document's depth."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from broker.api.common import nests_deeper_than

# Strings full of what the scan must not count: brackets, quotes and backslashes.
_TRICKY = st.text(alphabet='[]{}"\\ax', max_size=6)
_DOCUMENTS = st.recursive(
    st.none() | st.integers() | _TRICKY,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TRICKY, inner, max_size=3),
    max_leaves=30,
)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@given(_DOCUMENTS, st.integers(min_value=0, max_value=12), st.booleans())
def test_depth_check_agrees_with_the_parsed_depth(
    document: Any, limit: int, ascii_only: bool
) -> None:
    raw = json.dumps(document, ensure_ascii=ascii_only).encode()
    assert nests_deeper_than(raw, limit) == (_depth(document) > limit)
