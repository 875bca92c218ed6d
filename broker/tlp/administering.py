"""Who may act for a body: create its users, register its handlers, run its webhooks.

Pure: no IO, no clock. SPEC §3 rule 1: no one, the coordinator included,
widens a provider's scope without its consent; a user created by someone else
inside a member would let that someone act as the member. So:

- a body's own administrators administer it — unless the body is restricted
  (charter art. 8(2)): restriction stops every action but reading its own
  audit of the restriction and withdrawing, so its admins change nothing;
- an applicant (art. 6(1)) is not a member yet: it receives nothing and acts
  like a restricted body, except that its admins set up their users and
  register their handlers, which art. 6(6) asks of a member "on joining";
- a member leaves by its own admins' notice (art. 7), at once, whatever its
  status short of gone: restricted (art. 8(2) leaves it exactly this) or an
  applicant withdrawing its application (art. 6(1): no one is made to apply);
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

__all__ = ["AdminAct", "may_act", "may_administer", "may_leave"]


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

_SETTING_UP = frozenset(
    {AdminAct.CREATE_USER, AdminAct.REVOKE_USER, AdminAct.ADD_HANDLER, AdminAct.REMOVE_HANDLER}
)
"""What an applicant's own admins may do before admission (art. 6(6): handlers are
registered on joining)."""

_LEAVING = frozenset({MemberStatus.APPLICANT, MemberStatus.ACTIVE, MemberStatus.RESTRICTED})
"""The statuses a body can leave from; withdrawn and expelled are gone already."""


def may_act(reader: Reader) -> Decision:
    """Whether the reader's body may act at all (charter art. 8(2)).

    Only an active body acts. A restricted body's users may read the audit
    of their restriction and withdraw (`may_leave`); an applicant is not a
    member yet (art. 6(1)) and, like a restricted body, receives nothing and
    does nothing but set itself up (`may_administer`) or withdraw. Withdrawn
    and expelled bodies cannot sign in at all.
    """
    if reader.body.status is not MemberStatus.ACTIVE:
        return Decision.deny(Reason.INACTIVE_MEMBER)
    return Decision.allow()


def may_leave(reader: Reader, target: Body) -> Decision:
    """Whether `reader` may give `target`'s notice of withdrawal (charter art. 7).

    Only the member's own administrators: the notice is the member's, so no
    one — the coordinator included — withdraws a member on its behalf (an
    unwanted member is expelled, art. 8(1), by the committee). The council's
    own bodies cannot leave the council they run.
    """
    if reader.role is not Role.MEMBER_ADMIN or reader.body.id != target.id:
        return Decision.deny(Reason.NOT_ADMIN)
    if target.kind is not BodyKind.MEMBER:
        return Decision.deny(Reason.NOT_A_MEMBER)
    if target.status not in _LEAVING:
        return Decision.deny(Reason.ALREADY_GONE)
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
        if reader.body.status is MemberStatus.APPLICANT and act in _SETTING_UP:
            return Decision.allow()  # art. 6(6): its handlers are registered on joining
        return may_act(reader)  # its own admin: anything, while active
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
