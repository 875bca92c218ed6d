"""The errors a caller of `broker.feedback` can act on.

::

    FeedbackError                 base of everything raised here on purpose
     ├── InvalidVerdict           (also a ValueError) the verdict does not fit the obligation
     ├── ObligationClosed         the obligation was cancelled or closed: nothing is owed
     └── AnswerLocked             the answer was given and the deadline has passed

Bad input that is not about an obligation's state (a malformed due time, a
naive datetime, an unknown period) raises a plain `ValueError`.
"""

from __future__ import annotations

__all__ = ["AnswerLocked", "FeedbackError", "InvalidVerdict", "ObligationClosed"]


class FeedbackError(Exception):
    """Base class of the errors this package raises about obligations.

    Each error names its `code`, the snake_case word an error body and the audit
    log answer it with (`broker.tlp.fixes` holds what the person does about it).
    """

    code = "feedback_error"


class InvalidVerdict(FeedbackError, ValueError):
    """The verdict (or its comment) is not acceptable for the obligation's kind.

    A `ValueError` too, so that input validation catching `ValueError` maps it
    to 422 without knowing this package.
    """

    code = "invalid_verdict"


class ObligationClosed(FeedbackError):
    """The obligation was cancelled (item withdrawn) or closed (member left): nothing is owed."""

    code = "obligation_closed"


class AnswerLocked(FeedbackError):
    """The answer was already given and its deadline has passed: it can no longer change.

    The provider may already have acted on it (raised or lowered the confidence
    of its analysis, SPEC §4), so a late change would rewrite what it relied on.
    """

    code = "answer_locked"
