"""Request bodies as pydantic models: unknown fields and wrong types are refused.

Every model forbids extra fields (a typo must not silently drop a rule, e.g.
`exclude_atributes`) and uses strict booleans (`"secret": "no"` is an error,
not a truthy string; charter art. 18(1),(2) wants the secrecy flag stated).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    field_validator,
    model_validator,
)

from broker.domain import (
    Category,
    Confidence,
    ExcludableAttribute,
    Group,
    ItemKind,
    Role,
    Scope,
    Tier,
    Tlp,
)
from broker.domain.reports import ReportKind, ReportStatus
from broker.domain.resolutions import ResolutionKind, Vote
from broker.domain.timestamps import MAX_TOKEN_LIFETIME, parse_duration
from broker.tlp import WRITTEN_REASON_MIN, is_written_reason

__all__ = [
    "BreakGlassIn",
    "ConsentIn",
    "FeedbackIn",
    "HandlerCreate",
    "Id",
    "ItemSubmit",
    "MemberCreate",
    "MemberPatch",
    "Name",
    "ReasonIn",
    "ReportIn",
    "ReportPatch",
    "ResolutionCreate",
    "ScopeChange",
    "ScopeIn",
    "StixBundle",
    "StixObject",
    "Strict",
    "TokenRotate",
    "UserCreate",
    "VictimIn",
    "VoteIn",
    "WithdrawalIn",
    "dump",
    "tlp_label",
    "token_lifetime",
]

Id = Annotated[StrictStr, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
Name = Annotated[StrictStr, Field(min_length=1, max_length=200)]


class Strict(BaseModel):
    """Base of every request body."""

    model_config = ConfigDict(extra="forbid")


class MemberCreate(Strict):
    """`POST /v1/members`."""

    name: Name
    category: Category
    tier: Tier = Tier.NONE
    regulator: StrictBool = False
    law_enforcement: StrictBool = False
    foreign: StrictBool = False
    mutual_aid: StrictBool = False
    listed: StrictBool = False
    refuses_secrets: StrictBool = False
    early_warning: StrictBool = True
    # Art. 6(1): an applicant waits for the committee; left out, the coordinator
    # records a member already approved.
    status: Literal["applicant", "active"] = "active"
    # Art. 6(5): a national government agency that notifies its joining is
    # deemed approved on receipt.
    notification: StrictBool = False


class MemberPatch(Strict):
    """`PATCH /v1/members/{id}`: only the fields given change."""

    name: Name | None = None
    category: Category | None = None
    tier: Tier | None = None
    status: Literal["active", "restricted", "withdrawn", "expelled"] | None = None
    regulator: StrictBool | None = None
    law_enforcement: StrictBool | None = None
    foreign: StrictBool | None = None
    mutual_aid: StrictBool | None = None
    listed: StrictBool | None = None
    refuses_secrets: StrictBool | None = None
    early_warning: StrictBool | None = None


Lifetime = Annotated[
    StrictStr,
    Field(
        max_length=40,
        description="an ISO 8601 duration of fixed length: P90D, PT12H, P1W (no years or months)",
        examples=["P90D"],
    ),
]


def _lifetime(value: str | None) -> str | None:
    # The same parse the service applies, so the edge answers a clear 422.
    if value is not None:
        token_lifetime(value)
    return value


def token_lifetime(value: str) -> timedelta:
    """A token lifetime from its ISO 8601 duration, or ValueError saying what is wrong."""
    duration = parse_duration(value)
    if duration <= timedelta(0):
        raise ValueError("a token lifetime must be longer than zero")
    if duration > MAX_TOKEN_LIFETIME:
        raise ValueError(f"a token lifetime may be at most P{MAX_TOKEN_LIFETIME.days}D")
    return duration


class UserCreate(Strict):
    """`POST /v1/members/{id}/users`: `expires_in` limits the token's lifetime."""

    name: Name
    role: Role = Role.MEMBER_USER
    chair: StrictBool = False  # art. 11(5): the committee's chair, a committee seat
    expires_in: Lifetime | None = None

    @field_validator("expires_in")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        return _lifetime(value)

    @property
    def lifetime(self) -> timedelta | None:
        """`expires_in` as a duration (None: the token does not expire by itself)."""
        return None if self.expires_in is None else token_lifetime(self.expires_in)


class TokenRotate(Strict):
    """`POST /v1/members/{id}/users/{user_id}/token`: `expires_in` gives the new token
    a lifetime from now; without it the expiry stays as it was."""

    expires_in: Lifetime | None = None

    @field_validator("expires_in")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        return _lifetime(value)

    @property
    def lifetime(self) -> timedelta | None:
        """`expires_in` as a duration (None: keep the current expiry)."""
        return None if self.expires_in is None else token_lifetime(self.expires_in)


class WithdrawalIn(Strict):
    """`POST /v1/members/{id}/withdrawal`: the member's notice (art. 7)."""

    reason: Annotated[StrictStr, Field(min_length=1, max_length=2000)] | None = None


class ReportIn(Strict):
    """`POST /v1/reports` (art. 29): what the reporter believes happened, and optionally
    the item and the member it concerns."""

    kind: ReportKind
    text: Annotated[StrictStr, Field(min_length=1, max_length=65_536)]
    item_id: Id | None = None
    member_id: Id | None = None


class ReportPatch(Strict):
    """`PATCH /v1/reports/{id}` (the secretariat): the next status, and a note."""

    status: ReportStatus
    note: Annotated[StrictStr, Field(min_length=1, max_length=65_536)] | None = None


class HandlerCreate(Strict):
    """`POST /v1/members/{id}/handlers` (art. 6(6); a later start is advance notice, 6(8))."""

    user_id: Id
    effective_from: datetime | None = None

    @field_validator("effective_from")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("effective_from needs a time zone (RFC 3339)")
        return value


class ScopeIn(Strict):
    """共有範囲 (art. 17(1)): groups and named members, minus exclusions (art. 19(2))."""

    groups: list[Group] = Field(default_factory=list, max_length=5)
    members: list[Id] = Field(default_factory=list, max_length=500)
    exclude_members: list[Id] = Field(default_factory=list, max_length=500)
    exclude_attributes: list[ExcludableAttribute] = Field(default_factory=list, max_length=3)

    def to_domain(self) -> Scope:
        """The policy's Scope."""
        return Scope(
            groups=frozenset(self.groups),
            members=frozenset(self.members),
            exclude_members=frozenset(self.exclude_members),
            exclude_attributes=frozenset(self.exclude_attributes),
        )


class VictimIn(Strict):
    """Victim details: the name is masked for all but the provider and coordinator."""

    name: Annotated[StrictStr, Field(max_length=200)] | None = None
    damage: StrictBool


class FeedbackIn(Strict):
    """When the feedback owed on the item is due: ISO 8601 duration or RFC 3339 time."""

    due: Annotated[StrictStr, Field(min_length=2, max_length=40)]


class StixObject(BaseModel):
    """A STIX 2.1 object: only its common properties are checked here."""

    model_config = ConfigDict(extra="allow")

    type: Annotated[StrictStr, Field(pattern=r"^[a-z0-9-]{3,250}$")]
    id: Annotated[StrictStr, Field(pattern=r"^[a-z0-9-]{3,250}--[0-9a-fA-F-]{36}$")]


class StixBundle(Strict):
    """A STIX 2.1 bundle (STIX 2.1 §8)."""

    type: Literal["bundle"]
    id: Annotated[StrictStr, Field(pattern=r"^bundle--[0-9a-fA-F-]{36}$")]
    objects: list[StixObject] = Field(default_factory=list, max_length=10_000)


def tlp_label(value: object) -> object:
    """A TLP label as people write it: any case, with or without the `TLP:` prefix;
    `WHITE` (TLP 1.0) is read as `CLEAR`, its TLP 2.0 name (FIRST TLP 2.0: "TLP:CLEAR
    replaces TLP:WHITE"). Anything that is not a string is left for validation."""
    if not isinstance(value, str):
        return value
    label = value.strip().upper().removeprefix("TLP:").strip()
    return "CLEAR" if label == "WHITE" else label


class ItemSubmit(Strict):
    """`POST /v1/items`. `secret` has no default: it must be stated (art. 18(1),(2)).

    `tlp` is case-insensitive and may carry the `TLP:` prefix; `WHITE` is stored
    and answered as `CLEAR`.

    With `misp_event` (a MISP event's JSON) the event supplies the title, TLP,
    kind, confidence, scope and STIX content the request leaves out
    (`broker.misp.imports`); without it `kind`, `title`, `tlp` and `scope` are required.
    """

    kind: ItemKind | None = None
    title: Annotated[StrictStr, Field(min_length=1, max_length=300)] | None = None
    body: Annotated[StrictStr, Field(max_length=262_144)] | None = None
    stix: StixBundle | None = None
    misp_event: Annotated[
        dict[str, Any] | None,
        Field(description="a MISP event's JSON, supplying what the request leaves out"),
    ] = None
    tlp: Annotated[
        Tlp | None,
        Field(
            description="TLP 2.0 label, in any case, with or without `TLP:`; "
            "`WHITE` (TLP 1.0) is read as `CLEAR`"
        ),
    ] = None
    secret: Annotated[
        StrictBool, Field(description="required: say whether it is secret (art. 18(1),(2))")
    ]
    confidence: Confidence | None = None
    scope: ScopeIn | None = None
    derived_from: list[Id] = Field(default_factory=list, max_length=50)
    victim: VictimIn | None = None
    feedback: FeedbackIn | None = None
    # Art. 23: this item answers a passed information request and carries its scope.
    information_request_id: Id | None = None

    @field_validator("tlp", mode="before")
    @classmethod
    def _tlp(cls, value: object) -> object:
        return tlp_label(value)

    @model_validator(mode="after")
    def _complete(self) -> ItemSubmit:
        if self.misp_event is not None:
            if self.stix is not None:
                raise ValueError("give stix or misp_event, not both")
            return self
        missing = [
            name for name in ("kind", "title", "tlp", "scope") if getattr(self, name) is None
        ]
        if missing:
            raise ValueError(f"{', '.join(missing)}: required (unless misp_event supplies them)")
        return self


class ScopeChange(Strict):
    """`POST /v1/items/{id}/scope`."""

    scope: ScopeIn


class ConsentIn(Strict):
    """`POST /v1/items/{id}/consents`."""

    derived_item_id: Id


class BreakGlassIn(Strict):
    """`POST /v1/items/{id}/break-glass`: a written reason is required (art. 14(3)):
    at least 10 visible characters once normalised (`broker.tlp.is_written_reason`)."""

    reason: Annotated[StrictStr, Field(min_length=10, max_length=2000)]

    @field_validator("reason")
    @classmethod
    def _written(cls, value: str) -> str:
        # The same rule the use case applies, so the edge answers the same 422.
        if not is_written_reason(value):
            raise ValueError(
                f"reason must state why, in at least {WRITTEN_REASON_MIN} visible characters "
                "(blanks and invisible characters do not count)"
            )
        return value


def dump(model: BaseModel) -> dict[str, Any]:
    """The fields a caller actually sent, as plain JSON values."""
    return model.model_dump(mode="json", exclude_unset=True)


class ResolutionCreate(Strict):
    """`POST /v1/resolutions` (SPEC §6): the matter put to the committee or the assembly."""

    kind: ResolutionKind
    title: Annotated[StrictStr, Field(min_length=1, max_length=300)]
    text: Annotated[StrictStr, Field(max_length=65_536)] | None = None
    subject_member_id: Id | None = None
    closes_at: datetime | None = None
    # Art. 23: an information request states its purpose and the scope answers get.
    purpose: Annotated[StrictStr, Field(min_length=1, max_length=4000)] | None = None
    scope: ScopeIn | None = None
    target_member_ids: list[Id] = Field(default_factory=list, max_length=500)

    @field_validator("closes_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("closes_at needs a time zone (RFC 3339)")
        return value


class VoteIn(Strict):
    """`POST /v1/resolutions/{id}/votes`: a vote, or (assembly) a proxy to another member."""

    vote: Vote | None = None
    proxy_to: Id | None = None

    @model_validator(mode="after")
    def _one(self) -> VoteIn:
        if (self.vote is None) == (self.proxy_to is None):
            raise ValueError("send either vote (yes, no or abstain) or proxy_to, not both")
        return self


class ReasonIn(Strict):
    """`POST /v1/resolutions/{id}/recusal` and `/refusal`: why, in words."""

    reason: Annotated[StrictStr, Field(min_length=1, max_length=2000)]

    @field_validator("reason")
    @classmethod
    def _written(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("reason must say why")
        return value
