"""Plain typed objects of the council's domain: no IO, no clock, no framework.

Everything the policy (`broker.tlp`), the obligations (`broker.feedback`) and
the services reason about is expressed here, so that those can stay pure.
"""

from broker.domain.actor import Actor
from broker.domain.audit import AuditAction, AuditDraft
from broker.domain.events import DIRECTORY_EVENTS, ITEM_EVENTS, EventDraft, EventKind
from broker.domain.model import (
    ATTRIBUTE_FLAGS,
    Body,
    BodyKind,
    Category,
    Confidence,
    ExcludableAttribute,
    Group,
    ItemFacts,
    ItemKind,
    ItemStatus,
    MemberStatus,
    Reader,
    Role,
    Scope,
    SourceConstraint,
    Tier,
    Tlp,
)

__all__ = [
    "ATTRIBUTE_FLAGS",
    "DIRECTORY_EVENTS",
    "ITEM_EVENTS",
    "Actor",
    "AuditAction",
    "AuditDraft",
    "Body",
    "BodyKind",
    "Category",
    "Confidence",
    "EventDraft",
    "EventKind",
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
