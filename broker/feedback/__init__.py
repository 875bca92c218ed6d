"""Task-force obligations, PURE: who owes what by when, reminders, the ledger (SPEC §4).

Nothing here does IO or reads the clock: every function that needs the time
takes `now`, a timezone-aware datetime (UTC in, UTC out). The services load
`Body` snapshots and `Obligation` rows, call these functions, and persist
what they return.

- `obligations_for` — who owes expert feedback or a quick answer on an item.
- `resolve_due` / `parse_duration` — when obligations fall due.
- `Obligation`, `answer`, `cancel_for_withdrawal`, `close_for_departure` —
  an obligation's life.
- `sweep` / `apply` — reminders before the deadline, the overdue mark after.
- `ledger` / `parse_period` / `ContributionPolicy` — the contribution ledger
  and the free-rider rule.
- `aggregate_answers` — the counts the tier-one group sees;
  `without_small_cells` — those counts with no cell small enough to name a member.

Errors are drawn in `broker.feedback._errors`.
"""

from broker.feedback._aggregate import (
    AnswerSummary,
    ExpertFeedbackCounts,
    QuickAnswerCounts,
    aggregate_answers,
    without_small_cells,
)
from broker.feedback._due import DEFAULT_URGENT_DUE, parse_duration, resolve_due
from broker.feedback._errors import AnswerLocked, FeedbackError, InvalidVerdict, ObligationClosed
from broker.feedback._ledger import (
    ORIGINAL_KINDS,
    ContributionPolicy,
    FlagReason,
    LedgerRow,
    Submission,
    ledger,
)
from broker.feedback._obligations import (
    ALLOWED_VERDICTS,
    ObligationKind,
    ObligationSpec,
    Verdict,
    creates_obligations,
    obligation_kind_for,
    obligations_for,
)
from broker.feedback._period import CURRENT_WEEK, parse_period
from broker.feedback._state import (
    Obligation,
    ObligationStatus,
    answer,
    cancel_for_withdrawal,
    close_for_departure,
    is_overdue,
)
from broker.feedback._sweep import Overdue, Reminder, SweepAction, apply, next_action, sweep

__all__ = [
    "ALLOWED_VERDICTS",
    "CURRENT_WEEK",
    "DEFAULT_URGENT_DUE",
    "ORIGINAL_KINDS",
    "AnswerLocked",
    "AnswerSummary",
    "ContributionPolicy",
    "ExpertFeedbackCounts",
    "FeedbackError",
    "FlagReason",
    "InvalidVerdict",
    "LedgerRow",
    "Obligation",
    "ObligationClosed",
    "ObligationKind",
    "ObligationSpec",
    "ObligationStatus",
    "Overdue",
    "QuickAnswerCounts",
    "Reminder",
    "Submission",
    "SweepAction",
    "Verdict",
    "aggregate_answers",
    "answer",
    "apply",
    "cancel_for_withdrawal",
    "close_for_departure",
    "creates_obligations",
    "is_overdue",
    "ledger",
    "next_action",
    "obligation_kind_for",
    "obligations_for",
    "parse_duration",
    "parse_period",
    "resolve_due",
    "sweep",
    "without_small_cells",
]
