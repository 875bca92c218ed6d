"""Registering member webhooks and showing their failures to the member's admin."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import insert, select, update

from broker.crypto import canonical_json, random_secret, seal
from broker.errors import Forbidden, InvalidInput, NotFound
from broker.services.core import Actor, Core, new_id, rfc3339
from broker.services.views import time_or_none
from broker.store.audit_repo import append_events
from broker.store.feed_repo import latest_seq
from broker.store.tables import webhook_dead_letters, webhooks


def secret_aad(webhook_id: str, member_id: str) -> bytes:
    """Associated data binding a webhook secret to its webhook and member."""
    return canonical_json({"purpose": "webhook-secret", "webhook": webhook_id, "member": member_id})


class WebhookService:
    """A member admin registers, lists and removes its webhooks."""

    def __init__(self, core: Core) -> None:
        self.core = core

    async def _require_admin(self, actor: Actor, member_id: str, action: str) -> None:
        if actor.member_id != member_id and not actor.is_coordinator:
            raise await self.core.deny(
                NotFound("no member with that id", field="id"),
                self.core.draft(
                    actor,
                    action,
                    "denied",
                    reason="not_visible",
                    details={"member_id": member_id[:64]},
                ),
            )
        if not actor.admin_of(member_id):
            raise await self.core.deny(
                Forbidden("only the member's administrators manage its webhooks"),
                self.core.draft(
                    actor, action, "denied", subject_member_id=member_id, reason="not_admin"
                ),
            )

    async def register(self, actor: Actor, member_id: str, url: str) -> dict[str, Any]:
        """A new webhook from now on; its signing secret is shown once."""
        await self._require_admin(actor, member_id, "webhook.create")
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise InvalidInput("the webhook URL must be http(s)://host/...", field="url")
        core = self.core
        webhook_id = new_id()
        secret = random_secret()
        sealed = seal(
            core.ring,
            secret.encode(),
            content_aad=secret_aad(webhook_id, member_id),
            key_aad=secret_aad(webhook_id, member_id),
        )
        now = core.clock()

        async def store(conn: Any) -> None:
            await conn.execute(
                insert(webhooks).values(
                    id=webhook_id,
                    member_id=member_id,
                    url=url,
                    secret_nonce=sealed.nonce,
                    secret_ciphertext=sealed.ciphertext,
                    secret_wrapped_key=sealed.wrapped_key,
                    secret_kek_version=sealed.kek_version,
                    active=True,
                    # Events from registration on; older ones are in the inbox.
                    cursor=await latest_seq(conn),
                    attempts=0,
                    created_at=now,
                    created_by=actor.user_id,
                )
            )
            await append_events(
                conn,
                [
                    core.draft(
                        actor,
                        "webhook.create",
                        subject_member_id=member_id,
                        details={"webhook_id": webhook_id, "url": url},
                    )
                ],
            )

        await core.db.grouped(store)
        return {
            "id": webhook_id,
            "member_id": member_id,
            "url": url,
            "secret": secret,
            "created_at": rfc3339(now),
        }

    async def list(self, actor: Actor, member_id: str) -> list[dict[str, Any]]:
        """The member's webhooks with their delivery state."""
        await self._require_admin(actor, member_id, "webhook.list")
        async with self.core.db.read() as conn:
            rows = (
                await conn.execute(
                    select(webhooks)
                    .where(webhooks.c.member_id == member_id)
                    .order_by(webhooks.c.id)
                )
            ).all()
            dead = (
                await conn.execute(
                    select(webhook_dead_letters)
                    .where(webhook_dead_letters.c.webhook_id.in_([r.id for r in rows]))
                    .order_by(webhook_dead_letters.c.id)
                )
            ).all()
        letters: dict[str, list[dict[str, Any]]] = {}
        for d in dead:
            letters.setdefault(d.webhook_id, []).append(
                {
                    "event_id": str(d.event_seq),
                    "attempts": d.attempts,
                    "last_error": d.last_error,
                    "at": rfc3339(d.created_at),
                }
            )
        return [
            {
                "id": r.id,
                "member_id": r.member_id,
                "url": r.url,
                "active": r.active,
                "cursor": str(r.cursor),
                "failing_attempts": r.attempts,
                "next_attempt_at": time_or_none(r.next_attempt_at),
                "last_error": r.last_error,
                "dead_letters": letters.get(r.id, []),
                "created_at": rfc3339(r.created_at),
            }
            for r in rows
        ]

    async def remove(self, actor: Actor, member_id: str, webhook_id: str) -> dict[str, Any]:
        """Stop delivering to a webhook."""
        await self._require_admin(actor, member_id, "webhook.delete")
        core = self.core

        async def store(conn: Any) -> int:
            result = await conn.execute(
                update(webhooks)
                .where(webhooks.c.id == webhook_id, webhooks.c.member_id == member_id)
                .values(active=False)
            )
            if result.rowcount:
                await append_events(
                    conn,
                    [
                        core.draft(
                            actor,
                            "webhook.delete",
                            subject_member_id=member_id,
                            details={"webhook_id": webhook_id},
                        )
                    ],
                )
            return int(result.rowcount)

        if not await core.db.grouped(store):
            raise NotFound("no webhook with that id", field="webhook_id")
        return {"id": webhook_id, "active": False}
