"""Registering member webhooks and showing their failures to the member's admin.

A webhook's target must be public (broker.tlp: `webhook_target_refusal`):
registration refuses loopback, link-local, private and unresolvable targets
unless the operator allow-lists them, and the dispatcher asks the same rule
again at delivery, after resolving the name (broker.delivery.webhooks).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

from broker import tlp
from broker.crypto import canonical_json, random_secret, seal
from broker.domain import Actor, AuditAction
from broker.domain.webhooks import Webhook, WebhookRegistration, redact_url
from broker.errors import Forbidden, InvalidInput, NotFound
from broker.services.auditor import Auditor
from broker.services.clock import Clock
from broker.services.ids import new_id
from broker.services.keyring import Keys
from broker.store.uow import Store, UnitOfWork

__all__ = ["Resolve", "WebhookService", "WebhookTargets", "resolve_addresses", "secret_aad"]

# Resolves a host name and port to addresses; empty when it does not resolve.
Resolve = Callable[[str, int], Awaitable[Sequence[str]]]
_RESOLVE_SECONDS = 5.0
_DEFAULT_PORTS = {"http": 80, "https": 443}
_REFUSED_TARGET = (
    "the webhook URL must name a public internet address that resolves; loopback, "
    "link-local, private and unresolvable targets are refused unless the broker's "
    "operator allows them (COUNCIL_WEBHOOK_ALLOW_HOSTS)"
)


async def resolve_addresses(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (empty if it does not resolve in time)."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(_RESOLVE_SECONDS):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


class WebhookTargets:
    """The operator's allow-list and a resolver: whether a webhook URL may be a target."""

    def __init__(self, allow: tlp.TargetAllowList, resolve: Resolve = resolve_addresses) -> None:
        self.allow = allow
        self._resolve = resolve

    @classmethod
    def from_settings(cls, hosts: Sequence[str], allow_private: bool) -> WebhookTargets:
        """From `webhook_allow_hosts` and `webhook_allow_private`."""
        return cls(tlp.TargetAllowList.parse(hosts, allow_private=allow_private))

    async def refusal(self, url: str) -> tlp.TargetRefusal | None:
        """Why `url` may not be a webhook target now, after resolving its host; None if
        it may."""
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 80)
        except ValueError:
            return tlp.TargetRefusal.UNRESOLVABLE
        if self.allow.allows_host(host):
            return None
        try:
            ipaddress.ip_address(host)
        except ValueError:
            addresses: Sequence[str] = await self._resolve(host, port)
        else:
            addresses = [host]  # an address, not a name: nothing to resolve
        return tlp.webhook_target_refusal(host, addresses, self.allow)


def secret_aad(webhook_id: str, member_id: str) -> bytes:
    """Associated data binding a webhook secret to its webhook and member."""
    return canonical_json({"purpose": "webhook-secret", "webhook": webhook_id, "member": member_id})


class WebhookService:
    """A member admin registers, lists and removes its webhooks."""

    def __init__(
        self, *, store: Store, keys: Keys, clock: Clock, auditor: Auditor, targets: WebhookTargets
    ) -> None:
        self._store = store
        self._keys = keys
        self._clock = clock
        self._auditor = auditor
        self.targets = targets  # the dispatcher asks the same allow-list at delivery

    async def _require_admin(self, actor: Actor, member_id: str, action: AuditAction) -> None:
        auditor = self._auditor
        if actor.member_id != member_id and not actor.is_coordinator:
            raise await auditor.deny(
                NotFound("no member with that id", field="id"),
                auditor.draft(
                    actor,
                    action,
                    "denied",
                    reason="not_visible",
                    details={"member_id": member_id[:64]},
                ),
            )
        if not actor.admin_of(member_id):
            raise await auditor.deny(
                Forbidden(
                    "only the member's administrators manage its webhooks",
                    reason=tlp.Reason.NOT_ADMIN,
                ),
                auditor.draft(
                    actor, action, "denied", subject_member_id=member_id, reason="not_admin"
                ),
            )

    async def _require_unrestricted(
        self, actor: Actor, member_id: str, action: AuditAction
    ) -> None:
        # Charter art. 8(2): a restricted member reads its audit and withdraws, nothing
        # else; an applicant (art. 6(1)) receives nothing, so it has nothing to push.
        allowed = tlp.may_act(actor.reader)
        if not allowed:
            raise await self._auditor.deny(
                Forbidden(
                    "your member is restricted (charter art. 8(2)) or not admitted yet "
                    "(art. 6(1)): it may not do this",
                    reason=allowed.reasons[0],
                ),
                self._auditor.draft(
                    actor,
                    action,
                    "denied",
                    subject_member_id=member_id,
                    reason=",".join(str(r) for r in allowed.reasons),
                ),
            )

    async def register(self, actor: Actor, member_id: str, url: str) -> WebhookRegistration:
        """A new webhook from now on; its signing secret is shown once and stored sealed."""
        await self._require_admin(actor, member_id, AuditAction.WEBHOOK_CREATE)
        await self._require_unrestricted(actor, member_id, AuditAction.WEBHOOK_CREATE)
        try:
            parts = urlsplit(url)
            host, scheme = parts.hostname, parts.scheme
        except ValueError:  # e.g. an unclosed [IPv6 literal
            host, scheme = None, ""
        if not host or scheme not in ("https", "http"):
            raise InvalidInput("the webhook URL must be http(s)://host/...", field="url")
        refusal = await self.targets.refusal(url)
        if refusal is not None:
            # The same answer whatever the reason: how the broker's own DNS sees a
            # name is none of the caller's business; the audit trail keeps it.
            raise await self._auditor.deny(
                InvalidInput(
                    _REFUSED_TARGET,
                    field="url",
                    fix="use a public address, or ask the operator to allow the host",
                ),
                self._auditor.draft(
                    actor,
                    AuditAction.WEBHOOK_CREATE,
                    "denied",
                    subject_member_id=member_id,
                    reason=f"target_{refusal}",
                    details={"url": redact_url(url)},
                ),
            )
        webhook_id = new_id()
        secret = random_secret()
        sealed = seal(
            self._keys.ring,
            secret.encode(),
            content_aad=secret_aad(webhook_id, member_id),
            key_aad=secret_aad(webhook_id, member_id),
        )
        now = self._clock()
        created = self._auditor.draft(
            actor,
            AuditAction.WEBHOOK_CREATE,
            subject_member_id=member_id,
            # Credentials and tokens in the URL stay out of the audit trail.
            details={"webhook_id": webhook_id, "url": redact_url(url)},
        )

        async def store(uow: UnitOfWork) -> None:
            await uow.webhooks.add(
                webhook_id=webhook_id,
                member_id=member_id,
                url=url,
                secret=sealed,
                # Events from registration on; older ones are in the inbox.
                cursor=await uow.feed.latest_seq(),
                created_at=now,
                created_by=actor.user_id,
            )
            await uow.audit.append([created])

        await self._store.grouped(store)
        return WebhookRegistration(
            id=webhook_id, member_id=member_id, url=url, secret=secret, created_at=now
        )

    async def list(self, actor: Actor, member_id: str) -> list[Webhook]:
        """The member's webhooks with their delivery state, for its admins only."""
        await self._require_admin(actor, member_id, AuditAction.WEBHOOK_LIST)
        async with self._store.read() as uow:
            return await uow.webhooks.of_member(member_id)

    async def remove(self, actor: Actor, member_id: str, webhook_id: str) -> None:
        """Stop delivering to a webhook."""
        await self._require_admin(actor, member_id, AuditAction.WEBHOOK_DELETE)
        await self._require_unrestricted(actor, member_id, AuditAction.WEBHOOK_DELETE)
        removed = self._auditor.draft(
            actor,
            AuditAction.WEBHOOK_DELETE,
            subject_member_id=member_id,
            details={"webhook_id": webhook_id},
        )

        async def store(uow: UnitOfWork) -> bool:
            if not await uow.webhooks.deactivate(webhook_id, member_id):
                return False
            await uow.audit.append([removed])
            return True

        if not await self._store.grouped(store):
            raise NotFound("no webhook with that id", field="webhook_id")
