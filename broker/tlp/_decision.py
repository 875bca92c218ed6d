"""Reasons and decisions: the vocabulary every access rule answers in.

A decision never says only "no": it carries every rule that failed, most
fundamental first, so that the services can audit the denial (SPEC rule 10)
while the API shows the caller nothing but a generic refusal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Reason(StrEnum):
    """Why an access was refused or a body was left out of a routing."""

    WITHDRAWN = "withdrawn"
    """The item was withdrawn by its provider: it reaches no one any more."""

    SECRETARIAT_NO_CONTENT = "secretariat_no_content"
    """The secretariat reads no contents except through break-glass (art. 14(3))."""

    INACTIVE_MEMBER = "inactive_member"
    """The body is not active: applicant, restricted, withdrawn or expelled (art. 7, 8)."""

    OUT_OF_SCOPE = "out_of_scope"
    """The provider's scope does not address the body (art. 17(1))."""

    EXCLUDED_MEMBER = "excluded_member"
    """The provider excluded the body by name (art. 19(2))."""

    EXCLUDED_ATTRIBUTE = "excluded_attribute"
    """The provider excluded an attribute the body carries, e.g. law enforcement (art. 19(2))."""

    OUTSIDE_CEILING = "outside_ceiling"
    """The body is outside the scope of a source whose provider has not consented (art. 17(3))."""

    REFUSES_SECRETS = "refuses_secrets"
    """The body declared it refuses secret information (art. 18(5))."""

    NO_HANDLER = "no_handler"
    """The body has no registered handler, so it may not receive a secret item (art. 18(3))."""

    NOT_HANDLER = "not_handler"
    """The user is not a registered handler: needed for secret and TLP:RED items (art. 18(4))."""

    ANALYSIS_STAYS_IN_TIER_ONE = "analysis_stays_in_tier_one"
    """Raw analysis stays inside the tier-one group (Task Force Rules art. 5, SPEC rule 6)."""

    TIER_TWO_NO_ANALYSIS = "tier_two_no_analysis"
    """Tier-two members receive countermeasures, not raw analysis (SPEC rule 6)."""

    CONSULTATION_STAYS_IN_TIER_ONE = "consultation_stays_in_tier_one"
    """A consultation goes only to the coordinator and the tier-one group (art. 16(3))."""

    GENERAL_NEEDS_HIGH_CONFIDENCE = "general_needs_high_confidence"
    """General members receive only high-confidence countermeasures (charter annex)."""

    EARLY_WARNING_OPTED_OUT = "early_warning_opted_out"
    """The member opted out of the early-warning service (art. 15)."""

    NOT_PROVIDER = "not_provider"
    """Only the provider's own users may do this (art. 17(1))."""

    NOT_SECRETARIAT = "not_secretariat"
    """Only the secretariat may break the glass (art. 14(3))."""

    RED_NOT_RESHAREABLE = "red_not_reshareable"
    """TLP:RED is for its named recipients only and cannot be passed on (TLP 2.0)."""

    SUBMITTER_NOT_HANDLER = "submitter_not_handler"
    """Only a registered handler may submit secret information (art. 18(3))."""

    KIND_NOT_ALLOWED = "kind_not_allowed"
    """This body may not submit an item of this kind through the item path."""

    CANNOT_READ_SOURCE = "cannot_read_source"
    """Deriving needs read access to the source: re-sharing is deriving (art. 17(3))."""

    NOT_DELIVERED = "not_delivered"
    """The member was not in the item's audience when this version was routed."""

    NOT_ADDRESSED = "not_addressed"
    """A member event (an obligation, a reminder) addressed to another member."""

    NOT_ADMIN = "not_admin"
    """Only an administrator of the body itself may do this for it (SPEC §1, rule 1)."""

    MEMBER_ADMINISTERS_ITSELF = "member_administers_itself"
    """The member has its own administrator: the coordinator may revoke, never act for it
    (SPEC §3 rule 1)."""

    NOT_A_MEMBER = "not_a_member"
    """The coordinator and the secretariat run the council: they are not members that
    join, leave or report (charter art. 7, 29)."""

    ALREADY_GONE = "already_gone"
    """The body has withdrawn or was expelled already (art. 7, 8(1))."""

    NOT_REPORTER = "not_reporter"
    """Only the reporter and the secretariat see a violation report (art. 29)."""

    NOT_SECRETARIAT_STAFF = "not_secretariat_staff"
    """Reports go to the secretariat's staff; its committee seats are not it (art. 29)."""

    REPORT_CLOSED = "report_closed"
    """A closed report stays closed: a new concern is a new report."""

    REPORT_STATUS_BACKWARDS = "report_status_backwards"
    """A report moves received -> investigating -> closed, never back."""

    CONTENT_MARKED_STRICTER = "content_marked_stricter"
    """The content carries a TLP marking stricter than the item's label (TLP 2.0)."""

    REASON_NOT_WRITTEN = "reason_not_written"
    """A break-glass reason needs at least 10 visible characters (art. 14(3))."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one access rule: allowed, or denied with its reasons.

    Truthy exactly when allowed. A denial always names at least one reason,
    most fundamental first and without repeats; an allowance names none.
    """

    allowed: bool
    reasons: tuple[Reason, ...] = ()

    def __post_init__(self) -> None:
        # SPEC rule 10: a denial must be auditable, so it must say why.
        if self.allowed and self.reasons:
            raise ValueError("an allowed decision carries no reasons")
        if not self.allowed and not self.reasons:
            raise ValueError("a denied decision needs at least one reason")

    def __bool__(self) -> bool:
        """Whether the access is allowed."""
        return self.allowed

    @classmethod
    def allow(cls) -> Decision:
        """An allowance."""
        return cls(allowed=True)

    @classmethod
    def deny(cls, *reasons: Reason) -> Decision:
        """A denial for `reasons`, in the given order, repeats dropped."""
        return cls(allowed=False, reasons=tuple(dict.fromkeys(reasons)))

    @classmethod
    def from_reasons(cls, reasons: Iterable[Reason]) -> Decision:
        """Allow when `reasons` is empty, else deny for all of them in order."""
        collected = tuple(reasons)
        return cls.deny(*collected) if collected else cls.allow()
