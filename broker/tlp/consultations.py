"""Who may open, read, answer and unmask a private consultation (charter art. 16(3)).

Pure: no IO, no clock. SPEC §4: any member may consult the coordinator and the
tier-one group privately, even at the stage of "something feels off"; the
consulting member's identity is known only to the coordinator unless it
chooses to reveal it; answers come back privately.

    may_consult           who may open a consultation
    consultation_role     how a reader stands to one consultation (None: not at all)
    is_addressee          whether a reader sees every consultation, not just its own
    may_see_consultation  the same as a Decision, for auditing a refusal
    may_reply             who may write in the thread
    may_reveal            who may unmask the consulter
    shows_consulter       whether a reader learns who asked
"""

from __future__ import annotations

from enum import StrEnum

from broker.domain.model import Body, BodyKind, MemberStatus, Reader, Tier
from broker.tlp._decision import Decision, Reason

__all__ = [
    "ConsultationRole",
    "consultation_role",
    "is_addressee",
    "may_consult",
    "may_reply",
    "may_reveal",
    "may_see_consultation",
    "shows_consulter",
]


class ConsultationRole(StrEnum):
    """How a reader stands to one consultation."""

    CONSULTER = "consulter"  # a user of the member that asked
    COORDINATOR = "coordinator"  # art. 16(3): the designated body, knows who asked
    TIER_ONE = "tier_one"  # an addressee: answers without learning who asked


def _inactive(body: Body) -> bool:
    """Restricted, withdrawn, expelled or applicant bodies take part in nothing (art. 7, 8)."""
    return body.status is not MemberStatus.ACTIVE


def may_consult(reader: Reader) -> Decision:
    """Whether `reader` may open a consultation for its body.

    Any active member may (art. 16(3)), the coordinator included (it asks the
    tier-one group); the secretariat handles general affairs, not the task
    force's questions (art. 14(3)); inactive bodies share nothing (art. 7, 8).
    """
    reasons: list[Reason] = []
    if reader.body.kind is BodyKind.SECRETARIAT:
        reasons.append(Reason.SECRETARIAT_NO_CONTENT)
    if _inactive(reader.body):
        reasons.append(Reason.INACTIVE_MEMBER)
    return Decision.from_reasons(reasons)


def consultation_role(reader: Reader, consulter_id: str) -> ConsultationRole | None:
    """How `reader` stands to a consultation opened by the body `consulter_id`.

    The asking member keeps its own thread; the coordinator and the active
    tier-one members are its addressees (art. 16(3)); nobody else — the
    secretariat, tier two, general members — sees it at all.
    """
    body = reader.body
    if _inactive(body) or body.kind is BodyKind.SECRETARIAT:
        return None
    if body.id == consulter_id:
        return ConsultationRole.CONSULTER
    if body.kind is BodyKind.COORDINATOR:
        return ConsultationRole.COORDINATOR
    if body.kind is BodyKind.MEMBER and body.tier is Tier.TIER_ONE:
        return ConsultationRole.TIER_ONE
    return None


def is_addressee(reader: Reader) -> bool:
    """Whether `reader` is one of those every consultation is addressed to (art. 16(3)).

    The coordinator and active tier-one members; they see every consultation,
    anyone else at most its own member's.
    """
    body = reader.body
    if _inactive(body):
        return False
    return body.kind is BodyKind.COORDINATOR or (
        body.kind is BodyKind.MEMBER and body.tier is Tier.TIER_ONE
    )


def may_see_consultation(reader: Reader, consulter_id: str) -> Decision:
    """`consultation_role` as a Decision, with the reasons a refusal is audited with."""
    if consultation_role(reader, consulter_id) is not None:
        return Decision.allow()
    reasons: list[Reason] = []
    if reader.body.kind is BodyKind.SECRETARIAT:
        reasons.append(Reason.SECRETARIAT_NO_CONTENT)  # art. 14(3)
    if _inactive(reader.body):
        reasons.append(Reason.INACTIVE_MEMBER)  # art. 7, 8(2)
    if not reasons:
        reasons.append(Reason.CONSULTATION_STAYS_IN_TIER_ONE)  # art. 16(3)
    return Decision.deny(*reasons)


def may_reply(reader: Reader, consulter_id: str) -> Decision:
    """Whether `reader` may write in the thread: everyone who may see it.

    The addressees answer; the consulter follows up in its own thread.
    """
    return may_see_consultation(reader, consulter_id)


def may_reveal(reader: Reader, consulter_id: str) -> Decision:
    """Only the consulting member unmasks itself: its identity is its own to give (art. 16(3))."""
    seen = may_see_consultation(reader, consulter_id)
    if not seen:
        return seen
    if consultation_role(reader, consulter_id) is not ConsultationRole.CONSULTER:
        return Decision.deny(Reason.NOT_PROVIDER)
    return Decision.allow()


def shows_consulter(role: ConsultationRole, revealed: bool) -> bool:
    """Whether a reader in `role` learns which member asked.

    SPEC §4: known only to the coordinator unless the member chose to reveal
    it; the asking member of course knows itself.
    """
    return revealed or role in (ConsultationRole.COORDINATOR, ConsultationRole.CONSULTER)
