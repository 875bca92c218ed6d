"""Builds a small council on a running broker, through the public API only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clients.sdk import CouncilClient
from tests.conftest import Broker


@dataclass
class Org:
    """A member with a handler user and a plain (non-handler) user."""

    id: str
    name: str
    handler: CouncilClient
    plain: CouncilClient
    admin: CouncilClient
    handler_user_id: str
    plain_user_id: str
    attrs: dict[str, Any] = field(default_factory=dict)


async def make_org(broker: Broker, name: str, *, with_handler: bool = True, **attrs: Any) -> Org:
    """Admit a member with an admin, a handler user and a plain user."""
    admin = broker.admin
    fields = {"name": name, "category": "cyber_business", "tier": "none", **attrs}
    member = await admin.create_member(**fields)
    # The coordinator creates the first admin only; from then on the member
    # administers itself (SPEC §3 rule 1).
    _, admin_token = await admin.create_user(member.id, f"{name} admin", "member_admin")
    own_admin = broker.client(admin_token)
    handler_user, handler_token = await own_admin.create_user(
        member.id, f"{name} handler", "member_user"
    )
    plain_user, plain_token = await own_admin.create_user(member.id, f"{name} staff", "member_user")
    if with_handler:
        await own_admin.add_handler(member.id, handler_user.id)
    return Org(
        id=member.id,
        name=name,
        handler=broker.client(handler_token),
        plain=broker.client(plain_token),
        admin=own_admin,
        handler_user_id=handler_user.id,
        plain_user_id=plain_user.id,
        attrs=fields,
    )


@dataclass
class Council:
    """The cast of SPEC §1 on one broker."""

    broker: Broker
    vendor_a: Org
    vendor_b: Org
    vendor_c: Org
    power: Org
    rail: Org
    general: Org
    police: Org
    refuser: Org
    no_handler: Org
    secretariat_handler: CouncilClient
    secretariat_plain: CouncilClient
    coordinator_plain: CouncilClient
    secretariat_id: str

    @property
    def coordinator(self) -> CouncilClient:
        """The coordinator's first admin, a registered handler."""
        return self.broker.admin

    @property
    def members(self) -> list[Org]:
        """Every member organisation."""
        return [
            self.vendor_a,
            self.vendor_b,
            self.vendor_c,
            self.power,
            self.rail,
            self.general,
            self.police,
            self.refuser,
            self.no_handler,
        ]


async def make_council(broker: Broker) -> Council:
    """Tier one A, B, C; tier two power, rail; general members of each special kind."""
    admin = broker.admin
    vendor_a = await make_org(broker, "Vendor A", tier="tier_one")
    vendor_b = await make_org(broker, "Vendor B", tier="tier_one")
    vendor_c = await make_org(broker, "Vendor C", tier="tier_one")
    power = await make_org(broker, "Power Co", tier="tier_two", category="critical_infrastructure")
    rail = await make_org(broker, "Rail Co", tier="tier_two", category="critical_infrastructure")
    general = await make_org(broker, "Maker Co", category="other", listed=True)
    police = await make_org(broker, "Police", category="government", law_enforcement=True)
    refuser = await make_org(broker, "Refuser Co", category="other", refuses_secrets=True)
    no_handler = await make_org(broker, "Handlerless Co", category="other", with_handler=False)
    bodies = await admin.list_members()
    secretariat_id = next(m.id for m in bodies.items if m.kind == "secretariat")
    _, sec_handler_token = await admin.create_user(secretariat_id, "Auditor H", "member_user")
    sec_handler = broker.client(sec_handler_token)
    sec_users = await _users(admin, secretariat_id)
    await admin.add_handler(secretariat_id, sec_users[-1])
    _, sec_plain_token = await admin.create_user(secretariat_id, "Auditor P", "member_user")
    _, coord_plain_token = await admin.create_user(
        broker.coordinator_id, "Coordinator staff", "member_user"
    )
    return Council(
        broker=broker,
        vendor_a=vendor_a,
        vendor_b=vendor_b,
        vendor_c=vendor_c,
        power=power,
        rail=rail,
        general=general,
        police=police,
        refuser=refuser,
        no_handler=no_handler,
        secretariat_handler=sec_handler,
        secretariat_plain=broker.client(sec_plain_token),
        coordinator_plain=broker.client(coord_plain_token),
        secretariat_id=secretariat_id,
    )


async def _users(client: CouncilClient, member_id: str) -> list[str]:
    response = await client._json("GET", f"/v1/members/{member_id}/users")
    return [u["id"] for u in response["items"]]


_SEATS: dict[str, CouncilClient] = {}
"""One committee seat (and chair) per broker, made on first use."""

_DECIDING_KIND = {
    "restricted": "restriction",
    "expelled": "expulsion",
    "active": "lift_restriction",
}


async def committee_seat(broker: Broker) -> CouncilClient:
    """The broker's one-seat steering committee (its chair), created on first use."""
    # Keyed by the broker's first admin token, not its URL: a later test's broker may
    # listen on a port an earlier one used.
    if broker.admin_token not in _SEATS:
        bodies = await broker.admin.list_members()
        secretariat_id = next(m.id for m in bodies.items if m.kind == "secretariat")
        created = await broker.admin._json(
            "POST",
            f"/v1/members/{secretariat_id}/users",
            json={"name": "Committee chair", "role": "committee", "chair": True},
        )
        _SEATS[broker.admin_token] = broker.client(created["token"])
    return _SEATS[broker.admin_token]


async def decide_status(broker: Broker, member_id: str, status: str) -> dict[str, Any]:
    """Give a member `status` as the council does (SPEC §6): a committee resolution
    (restriction, expulsion, or the lift of a restriction), passed and closed."""
    seat = await committee_seat(broker)
    resolution = await seat._json(
        "POST",
        "/v1/resolutions",
        json={
            "kind": _DECIDING_KIND[status],
            "title": f"{status}: {member_id}",
            "subject_member_id": member_id,
        },
    )
    path = f"/v1/resolutions/{resolution['id']}"
    voted = await seat._json("POST", f"{path}/votes", json={"vote": "yes"})
    if voted["status"] == "open":
        voted = await seat._json("POST", f"{path}/close")
    assert voted["status"] == "passed", voted
    return dict(voted)


def draft(**overrides: Any) -> dict[str, Any]:
    """A valid analysis submission, overridable field by field."""
    item: dict[str, Any] = {
        "kind": "analysis",
        "title": "file-sharing exploit, worm-like spread",
        "body": "known CVE patched two months ago; unpatched PCs infected on boot",
        "tlp": "AMBER",
        "secret": False,
        "confidence": "unconfirmed",
        "scope": {"groups": ["tier_one_group"]},
    }
    item.update(overrides)
    return item
