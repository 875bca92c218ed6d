"""Plain typed objects of the council's domain: no IO, no clock, no framework.

Everything the policy (`broker.tlp`), the obligations (`broker.feedback`) and
the services reason about is expressed here, so that those can stay pure.
"""

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
