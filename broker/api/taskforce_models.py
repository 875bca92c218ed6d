"""Request bodies of the task-force endpoints (API.md "Task force and feedback").

Like `broker.api.models`: unknown fields are refused and booleans are strict
(`"reveal_identity": "no"` must not reveal anyone, charter art. 16(3)).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictStr

from broker.api.models import Strict
from broker.feedback import Verdict

__all__ = ["ConsultationIn", "FeedbackAnswerIn", "ReplyIn"]

Text = Annotated[StrictStr, Field(min_length=1, max_length=65_536)]


class FeedbackAnswerIn(Strict):
    """`POST /v1/items/{id}/feedback`: tier two `came` / `not_came` / `unknown`;
    tier one `confirm` / `refute` / `additional_info` (the last with a comment)."""

    verdict: Verdict
    comment: Annotated[StrictStr, Field(max_length=16_384)] | None = None


class ConsultationIn(Strict):
    """`POST /v1/consultations`: the asker stays hidden unless `reveal_identity` (art. 16(3))."""

    title: Annotated[StrictStr, Field(min_length=1, max_length=300)]
    body: Text
    reveal_identity: StrictBool = False


class ReplyIn(Strict):
    """`POST /v1/consultations/{id}/replies`."""

    body: Text
