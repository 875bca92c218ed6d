"""PURE decision rules of the council's governance (SPEC §6).

No IO and no clock: a ballot in, a decision out, each with its reasons and
the tally; time, where it matters, is a parameter.

- `ordinary_rule` — art. 11(6): quorum of more than half of the seats
  (recusals take part), yes more than half of the entitled seats voting;
- `three_quarters_rule` — art. 8(2): yes at least ¾ of the entitled seats;
- `unanimity_rule` — art. 8(1): every entitled seat yes;
- `assembly_rule` — art. 10(5),(6): quorum with proxies, majority of those
  present, unless every committee seat objects;
- `settled_early` — a restriction is decided the moment it reaches ¾;
- `may_refuse` — art. 11(9): the chair refuses an ordinary resolution;
- `resolution_view` — art. 27: who sees a resolution, and how much.
"""

from __future__ import annotations

from datetime import datetime

from broker.governance._access import (
    AccessReason,
    Permission,
    ResolutionFacts,
    View,
    ViewDecision,
    is_committee_seat,
    may_close,
    may_create,
    may_publish,
    may_recuse,
    may_refuse,
    may_vote,
    resolution_view,
)
from broker.governance._rules import (
    AssemblyBallot,
    CommitteeBallot,
    Outcome,
    RuleDecision,
    RuleReason,
    assembly_rule,
    committee_tally,
    decide,
    ordinary_rule,
    settled_early,
    three_quarters_rule,
    unanimity_rule,
)

__all__ = [
    "AccessReason",
    "AssemblyBallot",
    "CommitteeBallot",
    "Outcome",
    "Permission",
    "ResolutionFacts",
    "RuleDecision",
    "RuleReason",
    "View",
    "ViewDecision",
    "assembly_rule",
    "committee_tally",
    "decide",
    "due_to_close",
    "is_committee_seat",
    "may_close",
    "may_create",
    "may_publish",
    "may_recuse",
    "may_refuse",
    "may_vote",
    "ordinary_rule",
    "resolution_view",
    "settled_early",
    "three_quarters_rule",
    "unanimity_rule",
]


def due_to_close(closes_at: datetime | None, now: datetime) -> bool:
    """Whether an open resolution's deadline has come (`now` is a parameter)."""
    return closes_at is not None and closes_at <= now
