"""Webhook registration, listing and removal over the in-memory unit of work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from broker.audit import Outcome
from broker.crypto import KeyRing, open_envelope
from broker.domain import Actor, AuditAction, Body, BodyKind, Role
from broker.errors import Forbidden, InvalidInput, NotFound
from broker.services.auditor import Auditor
from broker.services.keyring import Keys
from broker.services.webhooks import WebhookService, WebhookTargets, secret_aad
from broker.tlp import TargetAllowList
from tests.conftest import ManualClock
from tests.service.fakes import FakeStore
from tests.service.fakes.feed import FakeFeedRepository

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
URL = "https://siem.power.example/hook"
PUBLIC = "93.184.216.34"
# The DNS these tests see: nothing is looked up for real.
DNS = {
    "siem.power.example": [PUBLIC],
    "ticketing.power.example": [PUBLIC],
    "localhost": ["127.0.0.1", "::1"],
    "inward.power.example": ["10.1.2.3"],
    "metadata.power.example": ["169.254.169.254"],
    "mixed.power.example": [PUBLIC, "127.0.0.1"],
}


async def fake_dns(host: str, port: int) -> list[str]:
    """`resolve_addresses` over `DNS`: unknown names do not resolve."""
    return DNS.get(host, [])


class Feed(FakeFeedRepository):
    """The feed with a committed head, which a new webhook starts after."""

    def __init__(self, latest: int) -> None:
        super().__init__()
        self.latest = latest

    async def latest_seq(self) -> int:
        """The newest committed event's seq."""
        return self.latest


def _actor(member: str, role: Role = Role.MEMBER_ADMIN, kind: BodyKind = BodyKind.MEMBER) -> Actor:
    return Actor(
        user_id=f"{member}-{role}",
        user_name=member,
        role=role,
        body=Body(id=member, kind=kind),
        is_handler=False,
    )


POWER_ADMIN = _actor("power")
POWER_USER = _actor("power", Role.MEMBER_USER)
VENDOR_ADMIN = _actor("vendor")
COORDINATOR_ADMIN = _actor("coord", kind=BodyKind.COORDINATOR)


@pytest.fixture
def store() -> FakeStore:
    fake = FakeStore()
    fake.uow.feed = Feed(latest=41)
    return fake


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.generate()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def _service(
    store: FakeStore, ring: KeyRing, clock: ManualClock, allow: TargetAllowList | None = None
) -> WebhookService:
    return WebhookService(
        store=store,  # type: ignore[arg-type]
        keys=Keys(ring),
        clock=clock,
        auditor=Auditor(store, clock),  # type: ignore[arg-type]
        targets=WebhookTargets(allow or TargetAllowList(), resolve=fake_dns),
    )


@pytest.fixture
def service(store: FakeStore, ring: KeyRing, clock: ManualClock) -> WebhookService:
    return _service(store, ring, clock)


def _audited(store: FakeStore) -> list[tuple[AuditAction, Outcome, str | None]]:
    return [(d.action, d.outcome, d.reason) for d in store.uow.audit.drafts]


async def test_the_members_admin_registers_and_sees_the_secret_once(
    service: WebhookService, store: FakeStore, ring: KeyRing
) -> None:
    """Registration shows the secret, stores it only sealed, and starts after the feed's head."""
    registered = await service.register(POWER_ADMIN, "power", URL)
    assert (registered.member_id, registered.url, registered.created_at) == ("power", URL, START)
    stored = store.uow.webhooks.webhooks[registered.id]
    assert stored.cursor == 41 and stored.active and stored.created_by == POWER_ADMIN.user_id
    assert registered.secret.encode() not in stored.secret.ciphertext
    aad = secret_aad(registered.id, "power")
    assert open_envelope(ring, stored.secret, content_aad=aad, key_aad=aad) == (
        registered.secret.encode()
    )
    (draft,) = store.uow.audit.drafts
    assert (draft.action, draft.outcome, draft.subject_member_id) == (
        AuditAction.WEBHOOK_CREATE,
        "allowed",
        "power",
    )
    assert draft.details == {"webhook_id": registered.id, "url": URL}
    listed = await service.list(POWER_ADMIN, "power")
    assert not hasattr(listed[0], "secret")


async def test_each_registration_gets_its_own_secret(service: WebhookService) -> None:
    """Two webhooks never share a signing secret."""
    first = await service.register(POWER_ADMIN, "power", URL)
    second = await service.register(POWER_ADMIN, "power", URL)
    assert first.id != second.id and first.secret != second.secret


async def test_a_plain_user_may_not_register_and_is_audited(
    service: WebhookService, store: FakeStore
) -> None:
    """Only the member's administrators manage its webhooks; the refusal is audited."""
    with pytest.raises(Forbidden):
        await service.register(POWER_USER, "power", URL)
    assert not store.uow.webhooks.webhooks
    assert _audited(store) == [(AuditAction.WEBHOOK_CREATE, "denied", "not_admin")]
    assert store.uow.audit.drafts[0].subject_member_id == "power"


async def test_another_members_admin_is_told_the_member_does_not_exist(
    service: WebhookService, store: FakeStore
) -> None:
    """An admin of another member gets a 404, audited as not visible."""
    with pytest.raises(NotFound):
        await service.register(VENDOR_ADMIN, "power", URL)
    assert not store.uow.webhooks.webhooks
    assert _audited(store) == [(AuditAction.WEBHOOK_CREATE, "denied", "not_visible")]
    assert store.uow.audit.drafts[0].details == {"member_id": "power"}


async def test_the_coordinators_admin_cannot_run_a_members_webhooks(
    service: WebhookService, store: FakeStore
) -> None:
    """SPEC §3 rule 1: the coordinator never acts for a member; a webhook sends the
    member's deliveries elsewhere, so only the member's own admins choose one."""
    with pytest.raises(Forbidden):
        await service.register(COORDINATOR_ADMIN, "power", URL)
    assert not store.uow.webhooks.webhooks
    assert store.uow.audit.drafts[-1].outcome == "denied"


@pytest.mark.parametrize("url", ["ftp://host/x", "https:///nohost", "not a url"])
async def test_only_http_urls_with_a_host_are_registered(
    service: WebhookService, store: FakeStore, url: str
) -> None:
    """A webhook URL must be http(s)://host/...; nothing is stored or audited otherwise."""
    with pytest.raises(InvalidInput):
        await service.register(POWER_ADMIN, "power", url)
    assert not store.uow.webhooks.webhooks and not store.uow.audit.drafts


async def test_the_listing_shows_last_errors_and_dead_letters_to_the_admin(
    service: WebhookService, store: FakeStore, clock: ManualClock
) -> None:
    """A failing webhook shows its attempts, next retry and error; given-up events stay listed."""
    failing = await service.register(POWER_ADMIN, "power", URL)
    healthy = await service.register(POWER_ADMIN, "power", "http://ticketing.power.example/in")
    await service.register(VENDOR_ADMIN, "vendor", URL)
    webhooks = store.uow.webhooks
    retry_at = clock() + timedelta(seconds=4)
    await webhooks.dead_letter(
        failing.id, letter_id="L1", seq=42, attempts=7, error="HTTP 500", at=clock()
    )
    await webhooks.retry_later(
        failing.id, cursor=42, attempts=3, next_attempt_at=retry_at, error="TimeoutError"
    )
    listed = {w.id: w for w in await service.list(POWER_ADMIN, "power")}
    assert set(listed) == {failing.id, healthy.id}
    shown = listed[failing.id]
    assert (shown.failing_attempts, shown.next_attempt_at, shown.last_error, shown.cursor) == (
        3,
        retry_at,
        "TimeoutError",
        42,
    )
    assert [(d.event_seq, d.attempts, d.last_error) for d in shown.dead_letters] == [
        (42, 7, "HTTP 500")
    ]
    assert listed[healthy.id].dead_letters == () and listed[healthy.id].last_error is None


async def test_the_listing_is_refused_to_anyone_but_the_admin(
    service: WebhookService, store: FakeStore
) -> None:
    """A plain user and another member's admin cannot see failures; both refusals are audited."""
    await service.register(POWER_ADMIN, "power", URL)
    with pytest.raises(Forbidden):
        await service.list(POWER_USER, "power")
    with pytest.raises(NotFound):
        await service.list(VENDOR_ADMIN, "power")
    assert _audited(store)[1:] == [
        (AuditAction.WEBHOOK_LIST, "denied", "not_admin"),
        (AuditAction.WEBHOOK_LIST, "denied", "not_visible"),
    ]


async def test_removing_stops_the_webhook_and_is_audited(
    service: WebhookService, store: FakeStore
) -> None:
    """A removed webhook is inactive (no more deliveries) and its removal audited."""
    registered = await service.register(POWER_ADMIN, "power", URL)
    await service.remove(POWER_ADMIN, "power", registered.id)
    assert not store.uow.webhooks.webhooks[registered.id].active
    assert not await store.uow.webhooks.active()
    removed = store.uow.audit.drafts[-1]
    assert (removed.action, removed.details) == (
        AuditAction.WEBHOOK_DELETE,
        {"webhook_id": registered.id},
    )


async def test_removing_another_members_webhook_is_not_found(
    service: WebhookService, store: FakeStore
) -> None:
    """A webhook id of another member is unknown here: 404, and nothing changes."""
    theirs = await service.register(VENDOR_ADMIN, "vendor", URL)
    with pytest.raises(NotFound):
        await service.remove(POWER_ADMIN, "power", theirs.id)
    assert store.uow.webhooks.webhooks[theirs.id].active
    assert [d.action for d in store.uow.audit.drafts] == [AuditAction.WEBHOOK_CREATE]


INWARD = [
    ("http://127.0.0.1:8080/hook", "target_loopback"),
    ("http://[::1]/hook", "target_loopback"),
    ("http://localhost:9/hook", "target_loopback"),
    ("http://[::ffff:127.0.0.1]/hook", "target_loopback"),
    ("http://169.254.169.254/latest/meta-data", "target_link_local"),
    ("http://metadata.power.example/", "target_link_local"),
    ("http://[fe80::1]/hook", "target_link_local"),
    ("http://10.0.0.5/hook", "target_private"),
    ("http://192.168.1.1/hook", "target_private"),
    ("http://[fd00::1]/hook", "target_private"),
    ("http://inward.power.example/hook", "target_private"),
    ("http://mixed.power.example/hook", "target_loopback"),
    ("http://0.0.0.0:8080/hook", "target_not_public"),
    ("http://no-such-host.invalid/hook", "target_unresolvable"),
    ("http://2130706433/hook", "target_unresolvable"),
]


@pytest.mark.parametrize(("url", "reason"), INWARD)
async def test_a_webhook_may_not_target_the_brokers_own_network(
    service: WebhookService, store: FakeStore, url: str, reason: str
) -> None:
    """SPEC §3 rule 10, charter art. 17(1): a webhook carries a member's events out to
    its own system, never into the broker's network: loopback, link-local, private,
    non-public and unresolvable targets are refused with one answer that says how to
    fix it (and reveals nothing of the broker's DNS), audited with the real reason."""
    with pytest.raises(InvalidInput) as refused:
        await service.register(POWER_ADMIN, "power", url)
    assert refused.value.field == "url" and "public" in str(refused.value)
    assert not store.uow.webhooks.webhooks
    assert _audited(store) == [(AuditAction.WEBHOOK_CREATE, "denied", reason)]


async def test_the_operator_may_allow_chosen_hosts_and_private_networks(
    store: FakeStore, ring: KeyRing, clock: ManualClock
) -> None:
    """SPEC §3 rule 10: only what the operator allow-lists is let through: named hosts
    and networks, or private networks as a whole (never loopback or link-local so)."""
    allow = TargetAllowList.parse(["127.0.0.1", "inward.power.example"], allow_private=True)
    service = _service(store, ring, clock, allow)
    for url in ("http://127.0.0.1:8080/hook", "http://inward.power.example/", "http://10.9.9.9/"):
        await service.register(POWER_ADMIN, "power", url)
    for url in ("http://[::1]/hook", "http://169.254.169.254/", "http://localhost/"):
        with pytest.raises(InvalidInput):
            await service.register(POWER_ADMIN, "power", url)
    assert len(store.uow.webhooks.webhooks) == 3


async def test_credentials_and_query_strings_never_reach_the_audit_trail(
    service: WebhookService, store: FakeStore
) -> None:
    """SPEC §5, charter art. 23: a webhook URL's userinfo and query (credentials,
    tokens) are redacted in the audit details, registered or refused; the stored
    URL keeps them, for delivery."""
    url = "https://bot:hunter2@siem.power.example/hook?token=s3cr3t#frag"
    registered = await service.register(POWER_ADMIN, "power", url)
    with pytest.raises(InvalidInput):
        await service.register(POWER_ADMIN, "power", "http://bot:hunter2@10.0.0.5/?token=s3cr3t")
    created, refused = store.uow.audit.drafts
    assert created.details["url"] == "https://redacted@siem.power.example/hook?redacted"
    assert refused.details["url"] == "http://redacted@10.0.0.5/?redacted"
    for draft in (created, refused):
        assert "hunter2" not in str(draft) and "s3cr3t" not in str(draft)
    assert store.uow.webhooks.webhooks[registered.id].url == url


@pytest.mark.parametrize("url", ["http://[::1/hook", "http://host:99999/hook"])
async def test_a_malformed_webhook_url_is_a_clear_422(service: WebhookService, url: str) -> None:
    """docs/api.md errors: a URL that cannot be parsed is refused with a 4xx, never a 500."""
    with pytest.raises(InvalidInput):
        await service.register(POWER_ADMIN, "power", url)
