"""Reading, listing, re-scoping, consenting to and withdrawing items (submitting
is `broker.services.submissions`).

Every decision is the pure policy's (`broker.tlp`); this module only gathers
the facts, applies the outcome in one transaction with its audit event, and
answers 404 — revealing nothing — whenever the caller may not see an item.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from broker import tlp
from broker.domain import Body, ItemFacts, ItemStatus, Scope, Tlp
from broker.domain.audit import AuditFilter
from broker.errors import (
    BrokerError,
    Conflict,
    Forbidden,
    IntegrityAlarm,
    InvalidInput,
    NotFound,
)
from broker.services.core import Actor, Core, rfc3339
from broker.services.item_records import (
    NOT_FOUND,
    insert_scope_version,
    item_event,
    pending_view,
    reasons,
    sources_of,
    submission_error,
)
from broker.services.obligations import (
    cancel_for_item,
    due_periods,
    reconcile_obligations,
)
from broker.services.sealing import open_content, rebind_key
from broker.services.views import time_or_none
from broker.store.audit_repo import append_events
from broker.store.feed_repo import insert_events
from broker.store.items_repo import (
    StoredItem,
    ensure_audience,
    get_item,
    get_items,
    pending_consent_providers,
)
from broker.store.members_repo import bodies_with_handlers
from broker.store.tables import audience_members, consents, items
from broker.store.uow import UnitOfWork

log = structlog.get_logger("broker.items")


class ItemService:
    """The item use cases of API.md, each audited."""

    def __init__(self, core: Core) -> None:
        self.core = core

    # -- read -----------------------------------------------------------------

    async def read(self, actor: Actor, item_id: str) -> dict[str, Any]:
        """Open one item for the caller, or 404 revealing nothing."""
        core = self.core
        async with core.db.read() as conn:
            stored = await get_item(conn, item_id)
            sources = await get_items(conn, stored.facts.derived_from) if stored else {}
        if stored is None:
            raise await self._not_found(actor, "item.read", item_id, "not_found")
        facts = stored.facts
        if facts.status is ItemStatus.WITHDRAWN and _keeps_metadata(actor, facts):
            await core.audit(
                core.draft(actor, "item.read", item_id=facts.id, details={"withdrawn": True})
            )
            return self._view(actor, stored, None, sources)
        decision = tlp.may_read(actor.reader, facts)
        if not decision:
            raise await self._not_found(actor, "item.read", item_id, reasons(decision))
        content = await self._open(actor, stored)
        await core.audit(
            core.draft(actor, "item.read", item_id=facts.id, details={"decrypted": True})
        )
        return self._view(actor, stored, content, sources)

    async def break_glass(self, actor: Actor, item_id: str, reason: str) -> dict[str, Any]:
        """The secretariat's per-item read with a written reason (art. 14(3))."""
        core = self.core
        if not actor.is_secretariat:
            raise await core.deny(
                Forbidden("break-glass access is the secretariat's alone"),
                core.draft(
                    actor,
                    "item.break_glass",
                    "denied",
                    item_id=item_id[:64],
                    reason="not_secretariat",
                ),
            )
        async with core.db.read() as conn:
            stored = await get_item(conn, item_id)
        if stored is None:
            raise await self._not_found(actor, "item.break_glass", item_id, "not_found")
        decision = tlp.may_break_glass(actor.reader, stored.facts)
        if not decision:
            raise await self._not_found(actor, "item.break_glass", item_id, reasons(decision))
        content = await self._open(actor, stored)
        await core.audit(
            core.draft(
                actor, "item.break_glass", item_id=stored.id, details={"written_reason": reason}
            )
        )
        log.warning("break_glass", item_id=stored.id, user_id=actor.user_id)
        return self._view(actor, stored, content, {})

    async def _open(self, actor: Actor, stored: StoredItem) -> dict[str, Any]:
        try:
            return open_content(
                self.core.ring_for(stored.row.kek_version), stored.row, stored.facts
            )
        except IntegrityAlarm as alarm:
            await self._alarm(actor, stored.id)
            raise alarm

    async def _alarm(self, actor: Actor, item_id: str) -> None:
        log.error("integrity_alarm", item_id=item_id, user_id=actor.user_id)
        await self.core.audit(
            self.core.draft(
                actor,
                "integrity.alarm",
                "error",
                item_id=item_id,
                reason="stored_item_failed_authentication",
            )
        )

    async def _not_found(self, actor: Actor, action: str, item_id: str, reason: str) -> BrokerError:
        # One answer for "absent" and "not yours" (API.md); the reason is only audited.
        return await self.core.deny(
            NotFound(NOT_FOUND, field="id"),
            self.core.draft(actor, action, "denied", item_id=item_id[:64], reason=reason),
        )

    def _view(
        self,
        actor: Actor,
        stored: StoredItem,
        content: dict[str, Any] | None,
        sources: dict[str, StoredItem],
    ) -> dict[str, Any]:
        facts, row = stored.facts, stored.row
        reader = actor.reader
        privileged = actor.member_id == facts.provider_id or actor.is_coordinator
        view: dict[str, Any] = {
            "id": facts.id,
            "version": int(row.scope_version),
            "kind": str(facts.kind),
            "confidence": str(facts.confidence),
            "tlp": str(facts.tlp),
            "secret": facts.secret,
            "effective": {"tlp": str(facts.effective_tlp), "secret": facts.effective_secret},
            "provider_id": facts.provider_id,
            "status": str(facts.status),
            "created_at": rfc3339(row.created_at),
            "withdrawn_at": time_or_none(row.withdrawn_at),
            "feedback_due": time_or_none(row.feedback_due),
            "derived_from": list(facts.derived_from),
            # Who else was named or excluded is the provider's business (art. 17(1)).
            "scope": facts.scope.to_json() if privileged else None,
            "provenance": [
                _provenance(reader, sources.get(source_id), source_id)
                for source_id in facts.derived_from
            ],
            "title": None,
            "body": None,
            "stix": None,
            "victim": None,
            "handling": None,
        }
        if content is not None:
            view.update(title=content["title"], body=content["body"], stix=content["stix"])
            view["victim"] = _victim(reader, facts, content.get("victim"))
            handling = tlp.handling_for(reader, facts)
            view["handling"] = {
                "tlp": handling.tlp,
                "may_reshare": handling.may_reshare,
                "audience": handling.audience,
                "notes": list(handling.notes),
            }
        return view

    # -- inbox ----------------------------------------------------------------

    async def inbox(
        self, actor: Actor, limit: int, cursor: str | None, oldest_first: bool
    ) -> dict[str, Any]:
        """What the caller may open, a page at a time (API.md `GET /v1/inbox`)."""
        core = self.core
        after = _decode_cursor(cursor)
        page: list[dict[str, Any]] = []
        shown: list[str] = []
        next_cursor: str | None = None
        if not actor.is_secretariat:  # the secretariat reads nothing (art. 14(3))
            async with core.db.read() as conn:
                page, shown, next_cursor = await self._inbox_page(
                    conn, actor, limit, after, oldest_first
                )
        await core.audit(
            core.draft(actor, "item.list", details={"count": len(shown)}, item_refs=shown)
        )
        return {"items": page, "next_cursor": next_cursor}

    async def _inbox_page(
        self,
        conn: AsyncConnection,
        actor: Actor,
        limit: int,
        after: str | None,
        oldest_first: bool,
    ) -> tuple[list[dict[str, Any]], list[str], str | None]:
        page: list[dict[str, Any]] = []
        shown: list[str] = []
        position = after
        while len(page) < limit:
            batch = await self._candidates(conn, actor, limit * 2, position, oldest_first)
            if not batch:
                return page, shown, None
            for stored in batch:
                position = stored.id
                if not tlp.may_read(actor.reader, stored.facts):
                    continue
                try:
                    content = open_content(
                        self.core.ring_for(stored.row.kek_version), stored.row, stored.facts
                    )
                except IntegrityAlarm:
                    await self._alarm(actor, stored.id)
                    continue
                page.append(_summary(stored, content))
                shown.append(stored.id)
                if len(page) == limit:
                    return page, shown, _encode_cursor(stored.id)
            if len(batch) < limit * 2:
                return page, shown, None
        return page, shown, None

    async def _candidates(
        self,
        conn: AsyncConnection,
        actor: Actor,
        count: int,
        after: str | None,
        oldest_first: bool,
    ) -> list[StoredItem]:
        # Delivery is the audience snapshot taken when the scope version was
        # routed; the policy re-checks each row against today's facts (rule 7).
        query = (
            select(items.c.id)
            .join(audience_members, audience_members.c.audience_id == items.c.audience_id)
            .where(
                audience_members.c.member_id == actor.member_id,
                items.c.status == ItemStatus.ACTIVE.value,
            )
            .limit(count)
        )
        if not actor.is_handler:
            # Skip in SQL what only handlers may open (art. 18(4); TLP:RED).
            query = query.where(
                and_(items.c.effective_secret.is_(False), items.c.effective_tlp != Tlp.RED.value)
            )
        if oldest_first:
            query = query.order_by(items.c.id.asc())
            if after is not None:
                query = query.where(items.c.id > after)
        else:
            query = query.order_by(items.c.id.desc())
            if after is not None:
                query = query.where(items.c.id < after)
        ids = list((await conn.execute(query)).scalars())
        found = await get_items(conn, ids)
        return [found[i] for i in ids if i in found]

    # -- scope, consent, withdraw ---------------------------------------------

    async def change_scope(self, actor: Actor, item_id: str, scope: Scope) -> dict[str, Any]:
        """A new scope version: narrowing is the provider's right; widening a derived
        item needs every source provider's consent again (art. 17(1),(3))."""
        core = self.core
        now = core.clock()
        stored = await self._visible(actor, item_id, "item.scope_change")
        allowed = tlp.may_change_scope(actor.reader, stored.facts)
        if not allowed:
            raise await core.deny(
                Forbidden("only the item's provider changes its scope"),
                core.draft(
                    actor,
                    "item.scope_change",
                    "denied",
                    item_id=stored.id,
                    reason=reasons(allowed),
                ),
            )
        if stored.facts.status is ItemStatus.WITHDRAWN:
            raise Conflict("the item was withdrawn")
        async with core.db.read() as conn:
            bodies = await bodies_with_handlers(conn, now)
            sources = await get_items(conn, stored.facts.derived_from)
        old = stored.facts
        requested = dataclasses.replace(old, scope=scope)
        # The new scope must be one the provider could have submitted (rule 6).
        admissible = tlp.may_submit(actor.reader, requested, bodies)
        if not admissible:
            raise await core.deny(
                submission_error(admissible),
                core.draft(
                    actor,
                    "item.scope_change",
                    "denied",
                    item_id=stored.id,
                    reason=reasons(admissible),
                ),
            )
        widened = not _within(requested, old, bodies)
        reset_consents = widened and bool(old.derived_from)
        constraints = (
            tlp.constraints_for_derived(
                old.provider_id, [sources[s].facts for s in old.derived_from if s in sources]
            )
            if reset_consents
            else old.constraints
        )
        new = dataclasses.replace(requested, constraints=constraints)
        pending = sorted(tlp.needs_consent(new, bodies.values())) if reset_consents else None
        result = await self._new_version(
            actor,
            stored,
            new,
            bodies,
            "widened" if widened else "narrowed",
            now,
            reset_pending=pending,
        )
        return result

    async def consent(self, actor: Actor, source_id: str, derived_item_id: str) -> dict[str, Any]:
        """A source provider lets a derived item reach the scope it asked for (art. 17(3))."""
        core = self.core
        now = core.clock()
        source = await self._visible(actor, source_id, "item.consent")
        allowed = tlp.may_consent(actor.reader, source.facts)
        if not allowed:
            raise await core.deny(
                Forbidden("only the source item's provider can consent"),
                core.draft(
                    actor, "item.consent", "denied", item_id=source.id, reason=reasons(allowed)
                ),
            )
        async with core.db.read() as conn:
            derived = await get_item(conn, derived_item_id)
            waiting = await pending_consent_providers(conn, derived_item_id) if derived else []
            bodies = await bodies_with_handlers(conn, now)
        if (
            derived is None
            or actor.member_id not in waiting
            or source.id not in {c.source_id for c in derived.facts.constraints}
        ):
            raise await core.deny(
                NotFound("no consent request for that derived item", field="derived_item_id"),
                core.draft(
                    actor,
                    "item.consent",
                    "denied",
                    item_id=derived_item_id[:64],
                    reason="no_pending_request",
                ),
            )
        new = dataclasses.replace(
            derived.facts,
            constraints=tuple(
                c for c in derived.facts.constraints if c.provider_id != actor.member_id
            ),
        )
        return await self._new_version(
            actor, derived, new, bodies, "consent", now, consent_by=actor
        )

    async def _new_version(
        self,
        actor: Actor,
        stored: StoredItem,
        new: ItemFacts,
        bodies: dict[str, Body],
        change: str,
        now: datetime,
        *,
        reset_pending: list[str] | None = None,
        consent_by: Actor | None = None,
    ) -> dict[str, Any]:
        core = self.core
        version = int(stored.row.scope_version) + 1
        try:
            wrapped, kek_version = rebind_key(
                core.ring_for(stored.row.kek_version), stored.row, stored.facts, new, version
            )
        except IntegrityAlarm:
            await self._alarm(actor, stored.id)
            raise
        routing = tlp.recipients_for(new, bodies.values())
        async with core.db.write() as conn:
            current = (
                await conn.execute(select(items.c.scope_version).where(items.c.id == new.id))
            ).scalar_one()
            if current != version - 1:
                raise Conflict("the item's scope changed meanwhile; retry")
            audience_id = await ensure_audience(conn, routing.recipients, now)
            await conn.execute(
                update(items)
                .where(items.c.id == new.id)
                .values(
                    scope_version=version,
                    audience_id=audience_id,
                    effective_tlp=str(new.effective_tlp),
                    effective_secret=new.effective_secret,
                    wrapped_key=wrapped,
                    kek_version=kek_version,
                )
            )
            await insert_scope_version(conn, new, version, change, actor, now)
            await insert_events(conn, [item_event("scope_changed", new, audience_id, version, now)])
            # Task force (SPEC §4): newly reached members owe, dropped ones no longer do.
            await reconcile_obligations(
                UnitOfWork(conn),
                new,
                {m: bodies[m] for m in routing.recipients},
                stored.row.feedback_due,
                due_periods(core.settings),
                now,
            )
            if consent_by is not None:
                await conn.execute(
                    update(consents)
                    .where(
                        consents.c.derived_item_id == new.id,
                        consents.c.provider_id == consent_by.member_id,
                    )
                    .values(consented_at=now, consented_by=consent_by.user_id)
                )
            if reset_pending is not None:
                await conn.execute(delete(consents).where(consents.c.derived_item_id == new.id))
                if reset_pending:
                    await conn.execute(
                        insert(consents),
                        [
                            {"derived_item_id": new.id, "provider_id": p, "requested_at": now}
                            for p in reset_pending
                        ],
                    )
            waiting = await pending_consent_providers(conn, new.id)
            await append_events(
                conn,
                [
                    core.draft(
                        actor,
                        "item.consent" if consent_by else "item.scope_change",
                        item_id=new.id,
                        details={
                            "version": version,
                            "change": change,
                            "recipients": len(routing.recipients),
                            "pending_consents": waiting,
                        },
                    )
                ],
            )
        return {
            "id": new.id,
            "version": version,
            "change": change,
            "recipients": len(routing.recipients),
            "dropped": dict(routing.dropped),
            "pending_consents": pending_view(new, waiting),
        }

    async def pending_consents(self, actor: Actor) -> dict[str, Any]:
        """Consent requests waiting for the caller's member, with what they ask for."""
        async with self.core.db.read() as conn:
            rows = (
                await conn.execute(
                    select(consents.c.derived_item_id, consents.c.requested_at)
                    .where(
                        consents.c.provider_id == actor.member_id,
                        consents.c.consented_at.is_(None),
                    )
                    .order_by(consents.c.requested_at)
                )
            ).all()
            derived = await get_items(conn, [r.derived_item_id for r in rows])
        out: list[dict[str, Any]] = []
        listed: list[str] = []
        for r in rows:
            d = derived.get(r.derived_item_id)
            if d is None or d.facts.status is not ItemStatus.ACTIVE:
                continue
            listed.append(d.id)
            out.append(
                {
                    "derived_item_id": d.id,
                    "requested_by": d.facts.provider_id,
                    "requested_at": rfc3339(r.requested_at),
                    "source_item_ids": sources_of(d.facts, actor.member_id),
                    "requested": {
                        "kind": str(d.facts.kind),
                        "tlp": str(d.facts.tlp),
                        "secret": d.facts.secret,
                        "scope": d.facts.scope.to_json(),
                    },
                }
            )
        await self.core.audit(
            self.core.draft(
                actor,
                "consent.list",
                details={"count": len(out)},
                item_refs=listed,
            )
        )
        return {"items": out, "next_cursor": None}

    async def withdraw(self, actor: Actor, item_id: str) -> dict[str, Any]:
        """The provider withdraws: the data key is erased, metadata and audit remain."""
        core = self.core
        now = core.clock()
        stored = await self._visible(actor, item_id, "item.withdraw", allow_withdrawn=True)
        allowed = tlp.may_withdraw(actor.reader, stored.facts)
        if not allowed:
            raise await core.deny(
                Forbidden("only the item's provider withdraws it"),
                core.draft(
                    actor, "item.withdraw", "denied", item_id=stored.id, reason=reasons(allowed)
                ),
            )
        async with core.db.write() as conn:
            await conn.execute(
                update(items)
                .where(items.c.id == stored.id)
                .values(
                    status=ItemStatus.WITHDRAWN.value,
                    withdrawn_at=now,
                    # Crypto-shredding: without its wrapped key the ciphertext is noise;
                    # the ciphertext goes too so nothing is left to attack.
                    wrapped_key=None,
                    ciphertext=None,
                    nonce=None,
                    kek_version=None,
                )
            )
            # Task force (SPEC §4): nothing is owed on a withdrawn item.
            await cancel_for_item(UnitOfWork(conn), stored.id, now)
            # Told to those it was delivered to; content is already gone.
            await insert_events(
                conn,
                [
                    item_event(
                        "withdrawn",
                        stored.facts,
                        stored.row.audience_id,
                        int(stored.row.scope_version),
                        now,
                    )
                ],
            )
            await append_events(conn, [core.draft(actor, "item.withdraw", item_id=stored.id)])
        return {"id": stored.id, "status": ItemStatus.WITHDRAWN.value, "withdrawn_at": rfc3339(now)}

    async def access_log(
        self, actor: Actor, item_id: str, limit: int, after_seq: int | None
    ) -> dict[str, Any]:
        """Every access to an item, for its provider and the coordinator (SPEC §5)."""
        core = self.core
        stored = await self._visible(actor, item_id, "item.access_log", allow_withdrawn=True)
        if not (actor.member_id == stored.facts.provider_id or actor.is_coordinator):
            raise await core.deny(
                Forbidden("only the provider and the coordinator see an item's access log"),
                core.draft(
                    actor, "item.access_log", "denied", item_id=stored.id, reason="not_provider"
                ),
            )
        from broker.api.views.audit import audit_page_view

        async with core.store.read() as uow:
            page = await uow.audit.page(
                AuditFilter(item=stored.id), after_seq=after_seq, limit=limit
            )
        await core.audit(core.draft(actor, "item.access_log", item_id=stored.id))
        return audit_page_view(page)

    async def _visible(
        self, actor: Actor, item_id: str, action: str, *, allow_withdrawn: bool = False
    ) -> StoredItem:
        async with self.core.db.read() as conn:
            stored = await get_item(conn, item_id)
        if stored is None:
            raise await self._not_found(actor, action, item_id, "not_found")
        if (
            allow_withdrawn
            and stored.facts.status is ItemStatus.WITHDRAWN
            and _keeps_metadata(actor, stored.facts)
        ):
            return stored
        decision = tlp.may_read(actor.reader, stored.facts)
        if not decision:
            raise await self._not_found(actor, action, item_id, reasons(decision))
        return stored


def _keeps_metadata(actor: Actor, facts: ItemFacts) -> bool:
    # A withdrawn item's metadata stays visible to its provider and the coordinator.
    return actor.member_id == facts.provider_id or actor.is_coordinator


def _within(requested: ItemFacts, old: ItemFacts, bodies: dict[str, Body]) -> bool:
    """Whether a requested scope reaches no one the old one did not (a narrowing)."""
    unclipped_new = dataclasses.replace(requested, constraints=())
    unclipped_old = dataclasses.replace(old, constraints=())
    new_reach = tlp.recipients_for(unclipped_new, bodies.values()).recipients
    old_reach = tlp.recipients_for(unclipped_old, bodies.values()).recipients
    return new_reach <= old_reach


def _victim(reader: Any, facts: ItemFacts, victim: dict[str, Any] | None) -> dict[str, Any] | None:
    if victim is None:
        return None
    if tlp.victim_view(reader, facts) == "full":
        return dict(victim)
    # Charter annex: others learn only whether there is damage.
    return {"damage": bool(victim.get("damage"))}


def _provenance(reader: Any, source: StoredItem | None, source_id: str) -> dict[str, Any]:
    if source is None or not tlp.may_read(reader, source.facts):
        return {"id": source_id, "visible": False}
    return {
        "id": source.id,
        "visible": True,
        "kind": str(source.facts.kind),
        "provider_id": source.facts.provider_id,
        "tlp": str(source.facts.tlp),
    }


def _summary(stored: StoredItem, content: dict[str, Any]) -> dict[str, Any]:
    facts = stored.facts
    return {
        "id": facts.id,
        "kind": str(facts.kind),
        "title": content["title"],
        "tlp": str(facts.effective_tlp),
        "secret": facts.effective_secret,
        "confidence": str(facts.confidence),
        "provider_id": facts.provider_id,
        "created_at": rfc3339(stored.row.created_at),
        "version": int(stored.row.scope_version),
    }


def _encode_cursor(item_id: str) -> str:
    return base64.urlsafe_b64encode(item_id.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("bad cursor", field="cursor") from None
    if not decoded or len(decoded) > 40 or not decoded.isalnum():
        raise InvalidInput("bad cursor", field="cursor")
    return decoded
