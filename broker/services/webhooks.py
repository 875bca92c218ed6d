"""Registering member webhooks and showing their failures to the member's admin."""

from __future__ import annotations

from urllib.parse import urlsplit

from broker import tlp
from broker.crypto import canonical_json, random_secret, seal
from broker.domain import Actor, AuditAction
from broker.domain.webhooks import Webhook, WebhookRegistration
from broker.errors import Forbidden, InvalidInput, NotFound
from broker.services.auditor import Auditor
from broker.services.clock import Clock
from broker.services.ids import new_id
from broker.services.keyring import Keys
from broker.store.uow import Store, UnitOfWork

__all__ = ["WebhookService", "secret_aad"]


def secret_aad(webhook_id: str, member_id: str) -> bytes:
    """Associated data binding a webhook secret to its webhook and member."""
    return canonical_json({"purpose": "webhook-secret", "webhook": webhook_id, "member": member_id})


class WebhookService:
    """A member admin registers, lists and removes its webhooks."""

    def __init__(self, *, store: Store, keys: Keys, clock: Clock, auditor: Auditor) -> None:
        self._store = store
        self._keys = keys
        self._clock = clock
        self._auditor = auditor

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
                Forbidden("only the member's administrators manage its webhooks"),
                auditor.draft(
                    actor, action, "denied", subject_member_id=member_id, reason="not_admin"
                ),
            )

    async def _require_unrestricted(
        self, actor: Actor, member_id: str, action: AuditAction
    ) -> None:
        # Charter art. 8(2): a restricted member reads its audit and withdraws, nothing else.
        allowed = tlp.may_act(actor.reader)
        if not allowed:
            raise await self._auditor.deny(
                Forbidden("your member is restricted (charter art. 8(2)): it may not do this"),
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
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise InvalidInput("the webhook URL must be http(s)://host/...", field="url")
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
            details={"webhook_id": webhook_id, "url": url},
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
