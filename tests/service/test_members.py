"""Member, user and handler use cases and sign-in over an in-memory store (SPEC §1, §6;
charter art. 6, 7, 8)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from broker.crypto import hash_token
from broker.domain import (
    Actor,
    AuditAction,
    Body,
    BodyKind,
    Category,
    EventKind,
    MemberStatus,
    Role,
    Tier,
)
from broker.domain.members import Member, NewMember
from broker.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from broker.feedback import Obligation, ObligationKind, ObligationStatus
from broker.services.auditor import Auditor
from broker.services.auth import Authenticator
from broker.services.directory import Directory
from broker.services.members import MemberService, apply_status
from broker.services.throttle import Throttle
from broker.settings import Settings
from tests.conftest import ManualClock
from tests.service.fakes import FakeStore


class Obligations:
    """Stand-in for the obligation repository: what `close_for_member` reads and writes."""

    def __init__(self, owed: Sequence[Obligation]) -> None:
        self.owed = {ob.id: ob for ob in owed}

    async def open_of_member(self, member_id: str) -> list[Obligation]:
        """The member's open obligations."""
        return [ob for ob in self.owed.values() if ob.member_id == member_id and ob.is_open]

    async def lift(self, ids: Sequence[str], status: ObligationStatus, at: datetime) -> int:
        """Give `ids` their final status."""
        for ob_id in ids:
            self.owed[ob_id] = dataclasses.replace(self.owed[ob_id], status=status)
        return len(ids)


class World:
    """A store holding the coordinator and one member, each with an admin and a user."""

    def __init__(self) -> None:
        self.store = FakeStore()
        self.clock = ManualClock(datetime(2030, 1, 1, 9, tzinfo=UTC))
        self.directory = Directory(self.store, self.clock, timedelta(seconds=30))  # type: ignore[arg-type]
        self.auditor = Auditor(self.store, self.clock)  # type: ignore[arg-type]
        self.service = MemberService(
            store=self.store,  # type: ignore[arg-type]
            clock=self.clock,
            auditor=self.auditor,
            directory=self.directory,
        )
        self.auth = Authenticator(
            store=self.store,  # type: ignore[arg-type]
            directory=self.directory,
            clock=self.clock,
            throttle=Throttle(Settings(), self.clock, self.auditor),
            auditor=self.auditor,
        )
        self.store.uow.obligations = Obligations([])  # type: ignore[assignment]
        repo = self.store.uow.members
        now = self.clock()
        repo.members["COORD"] = _member("COORD", "Coordinator", BodyKind.COORDINATOR, now)
        repo.members["VENDOR"] = _member("VENDOR", "Vendor", BodyKind.MEMBER, now)
        self.coordinator_admin = self.actor("COORD", Role.MEMBER_ADMIN)
        self.member_admin = self.actor("VENDOR", Role.MEMBER_ADMIN)
        self.member_user = self.actor("VENDOR", Role.MEMBER_USER)

    async def set_status(self, member_id: str, status: str) -> None:
        """What a committee resolution's effect does to a member (SPEC §6), and then
        what the directory must forget."""
        async with self.store.write() as uow:
            await apply_status(uow, member_id, MemberStatus(status), self.clock())  # type: ignore[arg-type]
        self.directory.forget()

    def actor(self, member_id: str, role: Role) -> Actor:
        """A signed-in user of `member_id` with `role` (not stored)."""
        kind = self.store.uow.members.members[member_id].kind
        return Actor(
            user_id=f"{member_id}-{role}",
            user_name="u",
            role=role,
            body=Body(id=member_id, kind=kind),
            is_handler=False,
        )

    @property
    def audit(self) -> list[Any]:
        """Every audit draft written so far."""
        return self.store.uow.audit.drafts

    @property
    def events(self) -> list[Any]:
        """Every feed event written so far."""
        return self.store.uow.feed.events


def _member(member_id: str, name: str, kind: BodyKind, now: datetime) -> Member:
    return Member(
        id=member_id,
        name=name,
        kind=kind,
        category=Category.OTHER,
        tier=Tier.NONE,
        status=MemberStatus.ACTIVE,
        regulator=False,
        law_enforcement=False,
        foreign=False,
        mutual_aid=False,
        listed=False,
        refuses_secrets=False,
        early_warning=True,
        created_at=now,
        updated_at=now,
    )


@pytest.fixture
def world() -> World:
    """A fresh in-memory council."""
    return World()


async def test_only_the_coordinators_admins_create_members(world: World) -> None:
    """A member's admin is refused and the denial is audited with its reason; nothing is stored."""
    with pytest.raises(Forbidden):
        await world.service.create_member(
            world.member_admin, NewMember(name="Sneaky", category=Category.OTHER)
        )
    [denial] = world.audit
    assert (denial.action, denial.outcome, denial.reason) == (
        AuditAction.MEMBER_CREATE,
        "denied",
        "not_coordinator_admin",
    )
    assert set(world.store.uow.members.members) == {"COORD", "VENDOR"}
    assert world.events == []


async def test_coordinator_admin_creates_an_active_member(world: World) -> None:
    """A new member is active, audited with its attributes and announced to every replica."""
    new = NewMember(name="ISAC", category=Category.CRITICAL_INFRASTRUCTURE, tier=Tier.TIER_TWO)
    member = await world.service.create_member(world.coordinator_admin, new)
    assert (member.kind, member.status, member.tier) == (
        BodyKind.MEMBER,
        MemberStatus.ACTIVE,
        Tier.TIER_TWO,
    )
    assert world.store.uow.members.members[member.id] == member
    [created, approved] = world.audit
    assert created.action is AuditAction.MEMBER_CREATE
    assert created.subject_member_id == member.id
    assert created.details["category"] == "critical_infrastructure"
    assert created.details["admission"] == "approved"
    # Task Force Rules art. 3: the tier is the task force's approval, recorded as such.
    assert (approved.action, approved.subject_member_id, approved.details) == (
        AuditAction.MEMBER_TIER_APPROVE,
        member.id,
        {"from": "none", "to": "tier_two", "approved_by": "task_force"},
    )
    assert [e.kind for e in world.events] == [EventKind.DIRECTORY_CHANGED]


async def test_member_admin_changes_only_self_service_fields(world: World) -> None:
    """Its own admin may change listed/refuses_secrets/early_warning; anything else is
    refused (audited, naming the fields) and leaves the body as it was."""
    changed = await world.service.update_member(world.member_admin, "VENDOR", {"listed": True})
    assert changed.listed
    with pytest.raises(Forbidden) as refused:
        await world.service.update_member(
            world.member_admin, "VENDOR", {"listed": False, "tier": "tier_one"}
        )
    assert refused.value.field == "tier"
    denial = world.audit[-1]
    assert (denial.outcome, denial.reason, denial.details) == (
        "denied",
        "not_permitted",
        {"fields": ["listed", "tier"]},
    )
    stored = world.store.uow.members.members["VENDOR"]
    assert stored.listed and stored.tier is Tier.NONE
    with pytest.raises(Forbidden):
        await world.service.update_member(world.member_user, "VENDOR", {"listed": False})


async def test_a_member_cannot_see_another(world: World) -> None:
    """Another body answers 404 as if it did not exist, and the attempt is audited."""
    other = await world.service.create_member(
        world.coordinator_admin, NewMember(name="Other", category=Category.ACADEMIA)
    )
    with pytest.raises(NotFound):
        await world.service.get_member(world.member_admin, other.id)
    assert world.audit[-1].reason == "not_visible"
    assert [m.id for m in await world.service.list_members(world.member_admin)] == ["VENDOR"]


async def test_departure_closes_obligations_in_the_same_unit_of_work(world: World) -> None:
    """Expelling a member (a resolution's effect) closes its open obligations, leaves
    others', and emits member_status with the new status alongside directory_changed,
    all in one unit of work."""
    due = world.clock() + timedelta(days=3)
    owed = [
        Obligation(
            id=f"OB{i}", member_id=m, item_id="IT", kind=ObligationKind.EXPERT_FEEDBACK, due_at=due
        )
        for i, m in enumerate(["VENDOR", "VENDOR", "COORD"])
    ]
    world.store.uow.obligations = Obligations(owed)  # type: ignore[assignment]
    commits = world.store.commits
    await world.set_status("VENDOR", "expelled")
    assert world.store.commits == commits + 1
    statuses = {i: ob.status for i, ob in world.store.uow.obligations.owed.items()}  # type: ignore[attr-defined]
    assert statuses == {
        "OB0": ObligationStatus.CLOSED,
        "OB1": ObligationStatus.CLOSED,
        "OB2": ObligationStatus.OPEN,
    }
    kinds = [(e.kind, e.member_id, e.payload) for e in world.events]
    assert kinds == [
        (EventKind.DIRECTORY_CHANGED, None, {}),
        (EventKind.MEMBER_STATUS, "VENDOR", {"member_id": "VENDOR", "status": "expelled"}),
    ]
    assert world.store.uow.members.members["VENDOR"].status is MemberStatus.EXPELLED


async def test_created_user_token_is_returned_once_and_stored_as_a_hash(world: World) -> None:
    """The token comes back with the new user, only its SHA-256 is kept, and it signs in."""
    created = await world.service.create_user(
        world.member_admin, "VENDOR", "Analyst", Role.MEMBER_USER
    )
    repo = world.store.uow.members
    assert repo.token_hashes[created.user.id] == hash_token(created.token)
    assert created.token not in repo.token_hashes.values()
    assert await world.service.list_users(world.member_admin, "VENDOR") == [created.user]
    actor = await world.auth.authenticate(f"Bearer {created.token}")
    assert (actor.user_id, actor.member_id, actor.role) == (
        created.user.id,
        "VENDOR",
        Role.MEMBER_USER,
    )
    # A seat's chair is recorded only where there is one (art. 11(5)).
    assert world.audit[-1].details == {"user_id": created.user.id, "role": "member_user"}


async def test_committee_seats_are_secretariat_users(world: World) -> None:
    """A member's user, or the coordinator's, cannot hold a committee seat (SPEC §6: the
    seats are users of the secretariat's body)."""
    for body in ("VENDOR", "COORD"):
        with pytest.raises(InvalidInput, match="committee seats"):
            await world.service.create_user(world.coordinator_admin, body, "Seat", Role.COMMITTEE)


async def test_sign_in_refuses_revoked_users(world: World) -> None:
    """Revoking a user stops its token at once, even after a cached sign-in."""
    created = await world.service.create_user(world.member_admin, "VENDOR", "A", Role.MEMBER_USER)
    await world.auth.authenticate(f"Bearer {created.token}")  # now cached
    revoked = await world.service.revoke_user(world.member_admin, "VENDOR", created.user.id)
    assert revoked.revoked_at == world.clock()
    with pytest.raises(Unauthorized):
        await world.auth.authenticate(f"Bearer {created.token}")


@pytest.mark.parametrize("status", ["expelled", "withdrawn"])
async def test_sign_in_refuses_users_of_departed_bodies(world: World, status: str) -> None:
    """Users of expelled or withdrawn bodies cannot sign in (art. 7, 8(1))."""
    created = await world.service.create_user(world.member_admin, "VENDOR", "A", Role.MEMBER_USER)
    await world.set_status("VENDOR", status)
    with pytest.raises(Unauthorized):
        await world.auth.authenticate(f"Bearer {created.token}")


async def test_sign_in_lets_restricted_users_in(world: World) -> None:
    """A restricted body's users still sign in; the policy gives them nothing (art. 8(2))."""
    created = await world.service.create_user(world.member_admin, "VENDOR", "A", Role.MEMBER_USER)
    await world.set_status("VENDOR", "restricted")
    actor = await world.auth.authenticate(f"Bearer {created.token}")
    assert actor.body.status is MemberStatus.RESTRICTED


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer unknown"])
async def test_sign_in_refuses_bad_headers(world: World, header: str | None) -> None:
    """A missing, malformed or unknown token is refused."""
    with pytest.raises(Unauthorized):
        await world.auth.authenticate(header)


async def test_handler_registered_in_advance_takes_effect_at_its_time(world: World) -> None:
    """A later start (art. 6(8)) makes the user a handler only from then; a second
    registration while one stands is a conflict; removal ends it now."""
    created = await world.service.create_user(world.member_admin, "VENDOR", "H", Role.MEMBER_USER)
    start = world.clock() + timedelta(hours=2)
    registration = await world.service.add_handler(
        world.member_admin, "VENDOR", created.user.id, start
    )
    assert (registration.effective_from, registration.effective_until) == (start, None)
    token = f"Bearer {created.token}"
    assert not (await world.auth.authenticate(token)).is_handler
    with pytest.raises(Conflict):
        await world.service.add_handler(world.member_admin, "VENDOR", created.user.id, None)
    world.clock.advance(hours=3)
    world.directory.forget()
    assert (await world.auth.authenticate(token)).is_handler
    ended = await world.service.remove_handler(world.member_admin, "VENDOR", created.user.id)
    assert ended.effective_until == world.clock()
    assert not (await world.auth.authenticate(token)).is_handler
    assert await world.service.list_handlers(world.member_admin, "VENDOR") == [ended]
    actions = [d.action for d in world.audit]
    assert AuditAction.HANDLER_ADD in actions and AuditAction.HANDLER_REMOVE in actions


async def test_revoked_user_cannot_become_a_handler(world: World) -> None:
    """A revoked user is refused as a handler."""
    created = await world.service.create_user(world.member_admin, "VENDOR", "H", Role.MEMBER_USER)
    await world.service.revoke_user(world.member_admin, "VENDOR", created.user.id)
    with pytest.raises(Conflict):
        await world.service.add_handler(world.member_admin, "VENDOR", created.user.id, None)
    assert world.store.uow.members.handlers == {}


async def test_roster_lists_only_active_listed_members_by_name(world: World) -> None:
    """The public roster shows listed, active members only (art. 25)."""
    for name, listed in [("Zed", True), ("Alpha", True), ("Hidden", False)]:
        await world.service.create_member(
            world.coordinator_admin, NewMember(name=name, category=Category.OTHER, listed=listed)
        )
    zed = next(m for m in world.store.uow.members.members.values() if m.name == "Zed")
    await world.set_status(zed.id, "restricted")
    assert [e.name for e in await world.service.roster()] == ["Alpha"]


# --- who may act for a member (SPEC §3 rule 1), restriction (art. 8(2)), bad input ----


def _restricted(actor: Actor) -> Actor:
    """`actor` as signed in once its body is restricted (charter art. 8(2))."""
    return dataclasses.replace(
        actor, body=dataclasses.replace(actor.body, status=MemberStatus.RESTRICTED)
    )


async def test_coordinator_sets_up_a_member_only_until_its_first_admin_exists(
    world: World,
) -> None:
    """SPEC §3 rule 1: no one, the coordinator included, acts for a provider. The
    coordinator creates a member's first admin (and may set it up before); once
    that admin exists, creating users and registering handlers is refused and
    audited, while revoking (for security) stays open to the coordinator."""
    coordinator = world.coordinator_admin
    early = await world.service.create_user(coordinator, "VENDOR", "Early", Role.MEMBER_USER)
    await world.service.create_user(coordinator, "VENDOR", "First admin", Role.MEMBER_ADMIN)
    with pytest.raises(Forbidden):
        await world.service.create_user(coordinator, "VENDOR", "Puppet", Role.MEMBER_USER)
    denial = world.audit[-1]
    assert (denial.action, denial.outcome, denial.reason, denial.subject_member_id) == (
        AuditAction.USER_CREATE,
        "denied",
        "member_administers_itself",
        "VENDOR",
    )
    with pytest.raises(Forbidden):
        await world.service.add_handler(coordinator, "VENDOR", early.user.id, None)
    assert (world.audit[-1].action, world.audit[-1].outcome) == (AuditAction.HANDLER_ADD, "denied")
    assert world.store.uow.members.handlers == {}
    assert {u.name for u in world.store.uow.members.users.values()} == {"Early", "First admin"}
    revoked = await world.service.revoke_user(coordinator, "VENDOR", early.user.id)
    assert revoked.revoked_at is not None
    # The member's own admin still does everything.
    mine = await world.service.create_user(world.member_admin, "VENDOR", "Own", Role.MEMBER_USER)
    await world.service.add_handler(world.member_admin, "VENDOR", mine.user.id, None)


async def test_revoking_every_admin_does_not_hand_the_member_back(world: World) -> None:
    """SPEC §3 rule 1: the coordinator cannot revoke a member's admins and then act
    for it: an admin once created counts, revoked or not."""
    first = await world.service.create_user(
        world.coordinator_admin, "VENDOR", "First admin", Role.MEMBER_ADMIN
    )
    await world.service.revoke_user(world.coordinator_admin, "VENDOR", first.user.id)
    with pytest.raises(Forbidden):
        await world.service.create_user(
            world.coordinator_admin, "VENDOR", "Replacement", Role.MEMBER_ADMIN
        )


async def test_refused_user_listing_is_audited(world: World) -> None:
    """SPEC §3 rule 10: every denial is an audit event — a plain user refused its
    member's user list (403) included, with its reason."""
    with pytest.raises(Forbidden):
        await world.service.list_users(world.member_user, "VENDOR")
    denial = world.audit[-1]
    assert (denial.action, denial.outcome, denial.reason, denial.subject_member_id) == (
        AuditAction.USER_LIST,
        "denied",
        "not_admin",
        "VENDOR",
    )


async def test_handler_registration_cannot_be_backdated(world: World) -> None:
    """Charter art. 6(8): a handler registration takes effect from its notification,
    never before: an effective time earlier than the request (beyond a small clock
    skew) is a 422 naming the field, audited, and nothing is stored."""
    created = await world.service.create_user(world.member_admin, "VENDOR", "H", Role.MEMBER_USER)
    with pytest.raises(InvalidInput) as refused:
        await world.service.add_handler(
            world.member_admin, "VENDOR", created.user.id, datetime(2000, 1, 1, tzinfo=UTC)
        )
    assert refused.value.field == "effective_from"
    assert (world.audit[-1].outcome, world.audit[-1].reason) == ("denied", "backdated")
    assert world.store.uow.members.handlers == {}
    # A clock a minute behind ours is fine.
    skewed = world.clock() - timedelta(minutes=1)
    await world.service.add_handler(world.member_admin, "VENDOR", created.user.id, skewed)
    with pytest.raises(InvalidInput) as ended_early:
        await world.service.remove_handler(
            world.member_admin, "VENDOR", created.user.id, datetime(2000, 1, 1, tzinfo=UTC)
        )
    assert ended_early.value.field == "effective_until"


async def test_restricted_member_admin_changes_nothing(world: World) -> None:
    """Charter art. 8(2): restriction stops every action but reading the audit of
    it and withdrawing: the member's admin creates no user, registers and ends
    no handler, revokes nobody and changes no setting — each refusal audited."""
    user = await world.service.create_user(world.member_admin, "VENDOR", "U", Role.MEMBER_USER)
    await world.set_status("VENDOR", "restricted")
    admin = _restricted(world.member_admin)
    attempts = [
        world.service.create_user(admin, "VENDOR", "New", Role.MEMBER_USER),
        world.service.add_handler(admin, "VENDOR", user.user.id, None),
        world.service.revoke_user(admin, "VENDOR", user.user.id),
        world.service.update_member(admin, "VENDOR", {"listed": True}),
    ]
    for attempt in attempts:
        before = len(world.audit)
        with pytest.raises(Forbidden):
            await attempt
        [denial] = world.audit[before:]
        assert (denial.outcome, denial.reason) == ("denied", "inactive_member")
    assert len(world.store.uow.members.users) == 1
    assert world.store.uow.members.handlers == {}
    assert not world.store.uow.members.members["VENDOR"].listed


async def test_patch_with_null_is_a_clear_422(world: World) -> None:
    """docs/api.md errors: a null for an attribute is bad input (422 naming the
    field and how to fix it), never a NOT NULL failure; nothing changes."""
    with pytest.raises(InvalidInput) as refused:
        await world.service.update_member(world.coordinator_admin, "VENDOR", {"name": None})
    assert refused.value.field == "name"
    assert "leave the field out" in refused.value.message
    assert world.store.uow.members.members["VENDOR"].name == "Vendor"


async def test_state_refusals_on_handlers_are_audited(world: World) -> None:
    """SPEC §3 rule 10: every denial is an audit event — registering a handler twice
    (409), ending a registration that does not stand (404) and naming a user the
    member does not have (404) included."""
    created = await world.service.create_user(world.member_admin, "VENDOR", "H", Role.MEMBER_USER)
    await world.service.add_handler(world.member_admin, "VENDOR", created.user.id, None)
    refusals = [
        (world.service.add_handler(world.member_admin, "VENDOR", created.user.id, None), Conflict),
        (world.service.remove_handler(world.member_admin, "VENDOR", "nobody"), NotFound),
        (world.service.add_handler(world.member_admin, "VENDOR", "nobody", None), NotFound),
    ]
    for attempt, error in refusals:
        before = len(world.audit)
        with pytest.raises(error):
            await attempt
        [denial] = world.audit[before:]
        assert denial.outcome == "denied" and denial.reason
