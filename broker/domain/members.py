"""Members, their users and handler registrations as the use cases return them
(SPEC §1, §6; charter art. 6, 25)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from broker.domain.actor import Actor
from broker.domain.model import BodyKind, Category, MemberStatus, Role, Tier

__all__ = [
    "BODY_FLAGS",
    "CreatedUser",
    "HandlerRegistration",
    "Member",
    "NewMember",
    "RosterEntry",
    "TokenHolder",
    "User",
]

BODY_FLAGS = (
    "regulator",
    "law_enforcement",
    "foreign",
    "mutual_aid",
    "listed",
    "refuses_secrets",
    "early_warning",
)
"""A body's yes/no attributes (SPEC §1), in the order the API shows them."""


@dataclass(frozen=True, slots=True)
class NewMember:
    """What the coordinator says about a body it admits (SPEC §1, charter art. 6)."""

    name: str
    category: Category
    tier: Tier = Tier.NONE
    regulator: bool = False
    law_enforcement: bool = False
    foreign: bool = False
    mutual_aid: bool = False
    listed: bool = False
    refuses_secrets: bool = False
    early_warning: bool = True
    status: MemberStatus = MemberStatus.ACTIVE
    notification: bool = False
    """An agency's notice of joining (art. 6(5)): admitted on receipt, so active."""


@dataclass(frozen=True, slots=True)
class Member:
    """A body as stored: a member, the coordinator or the secretariat (SPEC §1)."""

    id: str
    name: str
    kind: BodyKind
    category: Category
    tier: Tier
    status: MemberStatus
    regulator: bool
    law_enforcement: bool
    foreign: bool
    mutual_aid: bool
    listed: bool
    refuses_secrets: bool
    early_warning: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """A listed, active member on the public roster (art. 25): ids are shown so
    members can name each other in scopes (art. 17(1))."""

    id: str
    name: str
    category: Category


@dataclass(frozen=True, slots=True)
class User:
    """A user of a body; its token is stored only as a hash and never shown again."""

    id: str
    member_id: str
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None = None
    chair: bool = False
    """The chair of the steering committee (art. 11(5)): a committee seat, at most one."""
    # When the token stops signing in by itself (None: only revocation ends it).
    expires_at: datetime | None = None
    # When the token last signed in, to within a minute (None: never).
    last_used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CreatedUser:
    """A new user with its bearer token: the one time the token is shown."""

    user: User
    token: str


@dataclass(frozen=True, slots=True)
class HandlerRegistration:
    """A registered handler of secret information (art. 6(6)) and when the
    registration is in effect (a later start is advance notice, art. 6(8))."""

    id: str
    member_id: str
    user_id: str
    effective_from: datetime
    effective_until: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TokenHolder:
    """Who a bearer token belongs to, as of a moment: the caller it signs in, and
    whether the user's token was revoked."""

    actor: Actor
    revoked: bool
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
