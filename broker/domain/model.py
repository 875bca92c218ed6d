"""Members, users and items as the policy sees them.

These are snapshots: the services load them from the store, the policy decides
on them, nothing here changes state or knows about time except through fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "ATTRIBUTE_FLAGS",
    "Body",
    "BodyKind",
    "Category",
    "Confidence",
    "ExcludableAttribute",
    "Group",
    "ItemFacts",
    "ItemKind",
    "ItemStatus",
    "MemberStatus",
    "Reader",
    "Role",
    "Scope",
    "SourceConstraint",
    "Tier",
    "Tlp",
]


class BodyKind(StrEnum):
    """What kind of body an organisation in the broker is (SPEC §1)."""

    MEMBER = "member"
    COORDINATOR = "coordinator"  # the designated body running the system, art. 14(2)
    SECRETARIAT = "secretariat"  # general affairs, reads no content, art. 14(3)


class Category(StrEnum):
    """Member category, charter art. 17(2)."""

    GOVERNMENT = "government"
    LOCAL_GOVERNMENT = "local_government"
    CRITICAL_INFRASTRUCTURE = "critical_infrastructure"
    CYBER_BUSINESS = "cyber_business"
    ACADEMIA = "academia"
    OTHER = "other"


class Tier(StrEnum):
    """Task-force class (Task Force Rules art. 3): none is a general member."""

    NONE = "none"
    TIER_ONE = "tier_one"
    TIER_TWO = "tier_two"


class MemberStatus(StrEnum):
    """Lifecycle of a membership (charter art. 6, 7, 8)."""

    APPLICANT = "applicant"
    ACTIVE = "active"
    RESTRICTED = "restricted"  # art. 8(2): information sharing restricted
    WITHDRAWN = "withdrawn"  # art. 7
    EXPELLED = "expelled"  # art. 8(1)


class Role(StrEnum):
    """What a signed-in user may do for its body."""

    MEMBER_USER = "member_user"
    MEMBER_ADMIN = "member_admin"
    COMMITTEE = "committee"  # steering committee seat, on coordinator/secretariat users


class ItemKind(StrEnum):
    """What an item is (SPEC §2)."""

    ANALYSIS = "analysis"
    COUNTERMEASURE = "countermeasure"
    EARLY_WARNING = "early_warning"
    CONSULTATION = "consultation"
    NOTICE = "notice"


class Confidence(StrEnum):
    """確度: how sure the provider is."""

    UNCONFIRMED = "unconfirmed"
    LOW = "low"
    HIGH = "high"


class Tlp(StrEnum):
    """FIRST TLP 2.0 labels, ordered from least to most restrictive."""

    CLEAR = "CLEAR"
    GREEN = "GREEN"
    AMBER = "AMBER"
    AMBER_STRICT = "AMBER+STRICT"
    RED = "RED"

    @property
    def rank(self) -> int:
        """Position in the TLP 2.0 order: a higher rank is more restrictive."""
        return _TLP_ORDER.index(self)

    @staticmethod
    def strictest(labels: list[Tlp] | tuple[Tlp, ...]) -> Tlp:
        """The most restrictive of `labels` (CLEAR for none)."""
        return max(labels, key=lambda t: t.rank, default=Tlp.CLEAR)


_TLP_ORDER = (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED)


class Group(StrEnum):
    """Audience groups a scope may name (SPEC §2)."""

    TIER_ONE_GROUP = "tier_one_group"  # tier-one members + the coordinator
    TIER_TWO = "tier_two"
    TASK_FORCE = "task_force"  # tier one + tier two (+ the coordinator)
    ALL_MEMBERS = "all_members"  # every active member + the coordinator
    COORDINATOR = "coordinator"


class ExcludableAttribute(StrEnum):
    """Attributes a provider may exclude wholesale, charter art. 19(2)."""

    LAW_ENFORCEMENT = "law_enforcement"
    REGULATOR = "regulator"
    FOREIGN = "foreign"


class ItemStatus(StrEnum):
    """An item is live until its provider withdraws it."""

    ACTIVE = "active"
    WITHDRAWN = "withdrawn"  # content destroyed (data key erased)


@dataclass(frozen=True, slots=True)
class Body:
    """An organisation as the policy sees it: a member, the coordinator or the secretariat.

    `has_handler` says whether at least one registered handler (art. 6(6)) is in
    effect for this body right now; the services compute it.
    """

    id: str
    kind: BodyKind = BodyKind.MEMBER
    category: Category = Category.OTHER
    tier: Tier = Tier.NONE
    status: MemberStatus = MemberStatus.ACTIVE
    regulator: bool = False
    law_enforcement: bool = False
    foreign: bool = False
    mutual_aid: bool = False
    listed: bool = False
    refuses_secrets: bool = False
    early_warning: bool = True
    has_handler: bool = False

    def has_attribute(self, attribute: ExcludableAttribute) -> bool:
        """Whether this body carries an excludable attribute (art. 19(2))."""
        return bool(getattr(self, ATTRIBUTE_FLAGS[attribute]))


ATTRIBUTE_FLAGS: dict[ExcludableAttribute, str] = {
    ExcludableAttribute.LAW_ENFORCEMENT: "law_enforcement",
    ExcludableAttribute.REGULATOR: "regulator",
    ExcludableAttribute.FOREIGN: "foreign",
}


@dataclass(frozen=True, slots=True)
class Scope:
    """共有範囲: the audience a provider allows (charter art. 17(1)).

    Groups and named members add; excluded members and attributes subtract.
    The provider and the coordinator are never subtracted (SPEC §2).
    """

    groups: frozenset[Group] = frozenset()
    members: frozenset[str] = frozenset()
    exclude_members: frozenset[str] = frozenset()
    exclude_attributes: frozenset[ExcludableAttribute] = frozenset()

    def to_json(self) -> dict[str, list[str]]:
        """A canonical (sorted) JSON form, stable for hashing."""
        return {
            "groups": sorted(self.groups),
            "members": sorted(self.members),
            "exclude_members": sorted(self.exclude_members),
            "exclude_attributes": sorted(self.exclude_attributes),
        }

    @staticmethod
    def from_json(data: dict[str, list[str]]) -> Scope:
        """Inverse of `to_json`."""
        return Scope(
            groups=frozenset(Group(g) for g in data.get("groups", [])),
            members=frozenset(data.get("members", [])),
            exclude_members=frozenset(data.get("exclude_members", [])),
            exclude_attributes=frozenset(
                ExcludableAttribute(a) for a in data.get("exclude_attributes", [])
            ),
        )


@dataclass(frozen=True, slots=True)
class SourceConstraint:
    """The ceiling one source item puts on a derived item (charter art. 17(3)).

    Present only while the source's provider has not consented to the derived
    item's wider reach; a provider deriving from its own item adds none.
    """

    source_id: str
    provider_id: str
    scope: Scope
    tlp: Tlp
    secret: bool


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """What the policy needs to know of an item: never its content.

    `scope`, `tlp` and `secret` are what the provider asked for; `constraints`
    are the unconsented source ceilings that clip them (art. 17(3)).
    """

    id: str
    provider_id: str
    kind: ItemKind
    confidence: Confidence
    tlp: Tlp
    secret: bool
    scope: Scope
    constraints: tuple[SourceConstraint, ...] = ()
    status: ItemStatus = ItemStatus.ACTIVE
    derived_from: tuple[str, ...] = field(default=())

    @property
    def effective_tlp(self) -> Tlp:
        """The TLP the item travels under: the strictest of its own and its ceilings."""
        return Tlp.strictest([self.tlp, *(c.tlp for c in self.constraints)])

    @property
    def effective_secret(self) -> bool:
        """Secret if it says so or any unconsented source is (art. 17(3), 18)."""
        return self.secret or any(c.secret for c in self.constraints)


@dataclass(frozen=True, slots=True)
class Reader:
    """A signed-in person, for the per-user rules (art. 18(4), TLP:RED).

    `is_handler` says whether the user is a registered handler of its body in
    effect right now (art. 6(6)); the services compute it.
    """

    user_id: str
    body: Body
    role: Role = Role.MEMBER_USER
    is_handler: bool = False
