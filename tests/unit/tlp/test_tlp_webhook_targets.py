"""Where a webhook may send a member's events: public addresses only, unless the
operator allow-lists a target (broker.tlp `webhook_target_refusal`)."""

from __future__ import annotations

import pytest

from broker.tlp import TargetAllowList, TargetRefusal, address_refusal, webhook_target_refusal

STRICT = TargetAllowList()


@pytest.mark.parametrize(
    ("address", "refusal"),
    [
        ("127.0.0.1", TargetRefusal.LOOPBACK),
        ("127.8.9.10", TargetRefusal.LOOPBACK),
        ("::1", TargetRefusal.LOOPBACK),
        ("::ffff:127.0.0.1", TargetRefusal.LOOPBACK),
        ("169.254.169.254", TargetRefusal.LINK_LOCAL),
        ("fe80::1%eth0", TargetRefusal.LINK_LOCAL),
        ("10.0.0.1", TargetRefusal.PRIVATE),
        ("172.16.5.4", TargetRefusal.PRIVATE),
        ("192.168.0.1", TargetRefusal.PRIVATE),
        ("100.64.0.1", TargetRefusal.PRIVATE),
        ("fd12::1", TargetRefusal.PRIVATE),
        ("0.0.0.0", TargetRefusal.NOT_PUBLIC),  # noqa: S104 - an address checked, not bound
        ("::", TargetRefusal.NOT_PUBLIC),
        ("224.0.0.1", TargetRefusal.NOT_PUBLIC),
        ("240.0.0.1", TargetRefusal.NOT_PUBLIC),
        ("not-an-address", TargetRefusal.UNRESOLVABLE),
        ("93.184.216.34", None),
        ("2606:2800:220:1:248:1893:25c8:1946", None),
    ],
)
def test_rule10_only_public_addresses_are_webhook_targets(
    address: str, refusal: TargetRefusal | None
) -> None:
    """SPEC §3 rule 10: a member's events leave only for the internet, never for the
    broker's own host, link (cloud metadata) or private networks."""
    assert address_refusal(address, STRICT) == refusal


def test_rule10_a_name_is_refused_if_any_of_its_addresses_is() -> None:
    """SPEC §3 rule 10: a name that also resolves inward, or to nothing, is refused."""
    assert webhook_target_refusal("a.example", ["93.184.216.34"], STRICT) is None
    assert webhook_target_refusal("a.example", ["93.184.216.34", "10.0.0.1"], STRICT) == (
        TargetRefusal.PRIVATE
    )
    assert webhook_target_refusal("a.example", [], STRICT) == TargetRefusal.UNRESOLVABLE


def test_rule10_the_operators_allow_list_is_the_only_exception() -> None:
    """SPEC §3 rule 10: allow-listed names, addresses and networks pass; private
    networks may be allowed as a whole, loopback and link-local never that way."""
    allow = TargetAllowList.parse(
        ["SIEM.internal.", "127.0.0.1", "[::1]", "10.1.0.0/16", " "], allow_private=False
    )
    assert webhook_target_refusal("siem.internal", ["10.200.0.1"], allow) is None
    assert webhook_target_refusal("127.0.0.1", ["127.0.0.1"], allow) is None
    assert webhook_target_refusal("::1", ["::1"], allow) is None
    assert address_refusal("10.1.2.3", allow) is None
    assert address_refusal("10.2.0.1", allow) == TargetRefusal.PRIVATE
    assert address_refusal("127.0.0.2", allow) == TargetRefusal.LOOPBACK
    private = TargetAllowList(private=True)
    assert address_refusal("192.168.0.1", private) is None
    assert address_refusal("127.0.0.1", private) == TargetRefusal.LOOPBACK
    assert address_refusal("169.254.169.254", private) == TargetRefusal.LINK_LOCAL
    assert address_refusal("0.0.0.0", private) == TargetRefusal.NOT_PUBLIC  # noqa: S104
