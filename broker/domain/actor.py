"""The authenticated caller, as every use case sees it."""

from __future__ import annotations

from dataclasses import dataclass

from broker.domain.model import Body, BodyKind, Reader, Role

__all__ = ["Actor"]


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated caller: a user of a body, with its handler status now."""

    user_id: str
    user_name: str
    role: Role
    body: Body
    is_handler: bool
    chair: bool = False  # the committee's chair (art. 11(5)); only on a committee seat

    @property
    def reader(self) -> Reader:
        """The policy's view of this caller."""
        return Reader(
            user_id=self.user_id, body=self.body, role=self.role, is_handler=self.is_handler
        )

    @property
    def member_id(self) -> str:
        """The caller's body id."""
        return self.body.id

    @property
    def is_coordinator(self) -> bool:
        """A user of the coordinator (art. 14(2))."""
        return self.body.kind is BodyKind.COORDINATOR

    @property
    def is_secretariat(self) -> bool:
        """A user of the secretariat (art. 14(3))."""
        return self.body.kind is BodyKind.SECRETARIAT

    @property
    def is_coordinator_admin(self) -> bool:
        """The coordinator's administrators run the system (SPEC §1)."""
        return self.is_coordinator and self.role is Role.MEMBER_ADMIN

    def admin_of(self, body_id: str) -> bool:
        """Whether this caller is an administrator of `body_id` itself.

        Not the coordinator's admins: they may not act for a member (SPEC §3
        rule 1); what they may do to another body is `broker.tlp.may_administer`.
        """
        return self.role is Role.MEMBER_ADMIN and self.body.id == body_id
