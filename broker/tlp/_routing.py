"""Which bodies receive an item: the routing rules of SPEC §3 for organisations."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from broker.domain.model import Body, BodyKind, ItemFacts, ItemStatus, MemberStatus, Reader
from broker.tlp._decision import Decision, Reason
from broker.tlp._reach import task_force_reach
from broker.tlp._scope import in_scope


def receives(item: ItemFacts, body: Body) -> Decision:
    """Whether the organisation `body` receives `item`.

    Every rule must hold: the item is live, the body is an active member or
    the coordinator, it is inside the item's scope and inside every
    unconsented source ceiling, it may take secrets if the item carries any,
    and its task-force class lets it have this kind of item. A denial lists
    all that fail, most fundamental first.
    """
    reasons: list[Reason] = []
    if item.status is not ItemStatus.ACTIVE:
        reasons.append(Reason.WITHDRAWN)  # withdrawal destroys the content for everyone
    if body.kind is BodyKind.SECRETARIAT:
        reasons.append(Reason.SECRETARIAT_NO_CONTENT)  # charter art. 14(3)
    if body.status is not MemberStatus.ACTIVE:
        # charter art. 7, 8(2), SPEC rule 7: from the moment the decision takes
        # effect, the provider included.
        reasons.append(Reason.INACTIVE_MEMBER)
    reasons.extend(in_scope(item.scope, body, item.provider_id).reasons)
    if not all(in_scope(c.scope, body, c.provider_id) for c in item.constraints):
        # charter art. 17(3): a derived item reaches no further than the scope of
        # each source whose provider has not consented.
        reasons.append(Reason.OUTSIDE_CEILING)
    if item.effective_secret:
        # These bind the coordinator as much as anyone (art. 13). Refusing secrets
        # is about receiving others' (art. 18(5)): the provider's handlers keep
        # access to what their own body submitted (SPEC §2, art. 17(1)).
        if body.refuses_secrets and body.id != item.provider_id:
            reasons.append(Reason.REFUSES_SECRETS)  # charter art. 18(5)
        if not body.has_handler:
            reasons.append(Reason.NO_HANDLER)  # charter art. 18(3)
    if body.kind is BodyKind.MEMBER and body.id != item.provider_id:
        reasons.extend(task_force_reach(item, body))
    return Decision.from_reasons(reasons)


@dataclass(frozen=True, slots=True)
class Routing:
    """Where an item goes: its recipient bodies and why the others were dropped.

    `dropped` counts, per first reason, the bodies the scope addressed that
    still do not receive the item; bodies the scope never addressed are not
    reported.
    """

    recipients: frozenset[str]
    dropped: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}), hash=False)


def recipients_for(item: ItemFacts, bodies: Iterable[Body]) -> Routing:
    """Route `item` over `bodies`: who receives it, and a count of who was dropped why."""
    recipients: set[str] = set()
    dropped: Counter[str] = Counter()
    for body in bodies:
        decision = receives(item, body)
        if decision:
            recipients.add(body.id)
        elif Reason.OUT_OF_SCOPE not in decision.reasons:
            dropped[decision.reasons[0]] += 1
    return Routing(frozenset(recipients), MappingProxyType(dict(dropped)))


def may_see_member(reader: Reader, body_id: str) -> bool:
    """Whether `reader` may learn facts about the body `body_id` (its status, its
    attributes, its handlers, whether it refuses secrets).

    docs/api.md `GET /v1/members`: the coordinator and the secretariat see
    every body; a member sees only itself (the public roster says no more
    than who is listed).
    """
    if reader.body.kind in (BodyKind.COORDINATOR, BodyKind.SECRETARIAT):
        return True
    return reader.body.id == body_id


def dropped_seen_by(reader: Reader, item: ItemFacts, bodies: Iterable[Body]) -> dict[str, int]:
    """`recipients_for(item, bodies).dropped` as `reader` may be told it.

    Only the bodies `reader` may see (`may_see_member`) are counted: why
    another member was left out (restricted, law enforcement, no handler,
    refusing secrets) is that member's business, not the submitter's
    (SPEC §3 rule 10: a denial reveals nothing).
    """
    dropped: Counter[str] = Counter()
    for body in bodies:
        if not may_see_member(reader, body.id):
            continue
        decision = receives(item, body)
        if not decision and Reason.OUT_OF_SCOPE not in decision.reasons:
            dropped[decision.reasons[0]] += 1
    return dict(dropped)
