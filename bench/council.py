"""A council on a running broker, built through the public API (the SDK), as tests/council.py does.

The composition is fixed so runs compare: a tenth of the members are tier
one (security vendors, who submit), four tenths tier two (infrastructure
operators), the rest general members. A high-confidence countermeasure to
``all_members`` reaches every one of them plus the coordinator; an
unconfirmed one reaches tier one, tier two and the coordinator, and every
tier-two member owes a quick answer on it (SPEC §4).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from clients.sdk import CouncilClient

__all__ = ["Council", "Member", "build_council", "tier_for"]

_CATEGORY = {"tier_one": "cyber_business", "tier_two": "critical_infrastructure", "none": "other"}


def tier_for(index: int, members: int) -> str:
    """The tier of the `index`-th of `members` members (10 % tier one, 40 % tier two)."""
    if index < max(1, members // 10):
        return "tier_one"
    if index < max(2, members // 2):
        return "tier_two"
    return "none"


@dataclass
class Member:
    """A member organisation and the tokens of its users (plain member users)."""

    id: str
    tier: str
    tokens: list[str] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)


@dataclass
class Council:
    """The members of a benchmark council."""

    members: list[Member]

    def tokens(self, tier: str | None = None) -> list[str]:
        """Every user token, optionally of one tier only, member by member."""
        return [t for m in self.members if tier in (None, m.tier) for t in m.tokens]

    def of_tier(self, tier: str) -> list[Member]:
        """The members of `tier`, in admission order."""
        return [m for m in self.members if m.tier == tier]

    def count(self, tier: str) -> int:
        """How many members are of `tier`."""
        return sum(1 for m in self.members if m.tier == tier)


async def build_council(
    url: str,
    admin_token: str,
    *,
    members: int = 100,
    users_per_member: int = 1,
    tier_one_users: int | None = None,
    concurrency: int = 16,
) -> Council:
    """Admit `members` members with `users_per_member` users each (tier one: `tier_one_users`)."""
    gate = asyncio.Semaphore(concurrency)
    async with CouncilClient(url, admin_token, timeout=120) as admin:

        async def admit(index: int) -> Member:
            tier = tier_for(index, members)
            async with gate:
                created = await admin.create_member(
                    name=f"Bench member {index:04d}", category=_CATEGORY[tier], tier=tier
                )
            return Member(created.id, tier)

        admitted = list(await asyncio.gather(*(admit(i) for i in range(members))))

        async def add_user(member: Member, number: int) -> None:
            async with gate:
                user, token = await admin.create_user(
                    member.id, f"Bench user {number:04d}", "member_user"
                )
            member.tokens.append(token)
            member.user_ids.append(user.id)

        jobs = []
        for member in admitted:
            wanted = users_per_member
            if member.tier == "tier_one" and tier_one_users is not None:
                wanted = tier_one_users
            jobs += [add_user(member, n) for n in range(wanted)]
        await asyncio.gather(*jobs)
    return Council(admitted)
