"""Who may act for a body: create its users, register its handlers, run its webhooks.

Pure: no IO, no clock. SPEC §3 rule 1: no one, the coordinator included,
widens a provider's scope without its consent; a user created by someone else
inside a member would let that someone act as the member. So:

- a body's own administrators administer it — unless the body is restricted
  (charter art. 8(2)): restriction stops every action but reading its own
  audit of the restriction and withdrawing, so its admins change nothing;
- before a member's first administrator exists, the coordinator's
  administrators set the member up (how else would it get one);
- after that, the coordinator may only revoke (a user's token, a handler
  registration) for security — audited, and shown to the member's admins in
  its audit log — and never creates anything inside the member nor acts for it;
- the coordinator's and the secretariat's own users stay the coordinator's to
  administer (they are the council's organisation, not providers).
"""

from __future__ import annotations

from enum import StrEnum

from broker.domain.model import Body, BodyKind, MemberStatus, Reader, Role
from broker.tlp._decision import Decision, Reason

__all__ = ["AdminAct", "may_act", "may_administer"]


class AdminAct(StrEnum):
    """What one may do to a body's users, handlers, settings and webhooks."""

    CREATE_USER = "create_user"
    REVOKE_USER = "revoke_user"
    # A new token is a way in as that user: whoever may create the member's
    # users may rotate their tokens, and no one else (rule 1).
    ROTATE_TOKEN = "rotate_token"  # noqa: S105 - an act, not a secret
    ADD_HANDLER = "add_handler"
    REMOVE_HANDLER = "remove_handler"
    CHANGE_SETTINGS = "change_settings"  # the self-service flags (docs/api.md PATCH)
    MANAGE_WEBHOOKS = "manage_webhooks"


_REVOCATIONS = frozenset({AdminAct.REVOKE_USER, AdminAct.REMOVE_HANDLER})
"""What takes rights away: the coordinator may do it for security at any time."""


def may_act(reader: Reader) -> Decision:
    """Whether the reader's body may act at all (charter art. 8(2)).

    A restricted body's users may read the audit of their restriction and
    withdraw; every other action is refused.
    """
    if reader.body.status is MemberStatus.RESTRICTED:
        return Decision.deny(Reason.INACTIVE_MEMBER)
    return Decision.allow()


def may_administer(
    reader: Reader, target: Body, act: AdminAct, *, target_has_admin: bool
) -> Decision:
    """Whether `reader` may do `act` to the body `target` (SPEC §3 rule 1, §1).

    `target_has_admin`: whether an administrator of `target` was ever created
    (a revoked one included: revoking a member's admins must not hand the
    member back to the coordinator).
    """
    if reader.role is not Role.MEMBER_ADMIN:
        return Decision.deny(Reason.NOT_ADMIN)
    if reader.body.id == target.id:
        return may_act(reader)  # its own admin: anything, unless restricted
    if reader.body.kind is not BodyKind.COORDINATOR:
        return Decision.deny(Reason.NOT_ADMIN)
    if act is AdminAct.CHANGE_SETTINGS:
        return Decision.allow()  # the coordinator records membership decisions (art. 6-8)
    if act is AdminAct.MANAGE_WEBHOOKS:
        # A webhook sends the body's deliveries elsewhere: only the body chooses where.
        return Decision.deny(Reason.NOT_ADMIN)
    if target.kind is not BodyKind.MEMBER or act in _REVOCATIONS or not target_has_admin:
        return Decision.allow()
    return Decision.deny(Reason.MEMBER_ADMINISTERS_ITSELF)
