"""Reading, listing, re-scoping, consenting to and withdrawing items (submitting
is `broker.services.submissions`).

Every decision is the pure policy's (`broker.tlp`); this module only gathers
the facts, applies the outcome in one transaction with its audit event, and
answers 404 — revealing nothing — whenever the caller may not see an item.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from datetime import datetime

import structlog

from broker import tlp
from broker.domain import (
    Actor,
    AuditAction,
    Body,
    Confidence,
    EventKind,
    ItemFacts,
    ItemKind,
    ItemStatus,
    Reader,
    Scope,
    Tlp,
)
from broker.domain.audit import AuditFilter, AuditPage
from broker.domain.items import (
    ConsentRequest,
    InboxPage,
    ItemContent,
    ItemSummary,
    OpenedItem,
    PendingConsent,
    Provenance,
    ScopeChangeResult,
    StoredItem,
    VersionChange,
    Withdrawal,
)
from broker.errors import BrokerError, Conflict, Forbidden, IntegrityAlarm, InvalidInput, NotFound
from broker.services.auditor import Auditor
from broker.services.clock import Clock
from broker.services.item_records import (
    NOT_FOUND,
    item_event,
    pad_denial,
    pending_view,
    reasons,
    sources_of,
    submission_error,
)
from broker.services.keyring import Keys
from broker.services.obligations import DuePeriods, cancel_for_item, reconcile_obligations
from broker.services.paging import decode_id_cursor, encode_cursor
from broker.services.sealing import open_content, rebind_key
from broker.services.stix_refs import StixRefs
from broker.store.uow import Store, UnitOfWork

__all__ = ["ItemService"]

log = structlog.get_logger("broker.items")


class ItemService:
    """The item use cases of docs/api.md, each audited."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        keys: Keys,
        auditor: Auditor,
        due_defaults: DuePeriods,
        stix_refs: StixRefs,
    ) -> None:
        self._store = store
        self._clock = clock
        self._keys = keys
        self._auditor = auditor
        self._due_defaults = due_defaults
        self._stix_refs = stix_refs

    # -- read -----------------------------------------------------------------

    async def read(self, actor: Actor, item_id: str) -> OpenedItem:
        """Open one item for the caller, or 404 revealing nothing."""
        auditor = self._auditor
        stored = await self._visible(actor, item_id, AuditAction.ITEM_READ, allow_withdrawn=True)
        # Only what the caller may see is worth more IO: its sources' facts, to show
        # the provenance it may see (after the decision, so a denial costs the same
        # whether the id exists or not).
        sources: dict[str, StoredItem] = {}
        if stored.facts.derived_from:
            async with self._store.read() as uow:
                sources = await uow.items.get_many(stored.facts.derived_from)
        facts = stored.facts
        if facts.status is ItemStatus.WITHDRAWN:
            await auditor.record(
                auditor.draft(
                    actor, AuditAction.ITEM_READ, item_id=facts.id, details={"withdrawn": True}
                )
            )
            return self._opened(actor, stored, None, sources)
        content = await self._open(actor, stored)
        await auditor.record(
            auditor.draft(
                actor, AuditAction.ITEM_READ, item_id=facts.id, details={"decrypted": True}
            )
        )
        return self._opened(actor, stored, content, sources)

    async def break_glass(self, actor: Actor, item_id: str, reason: str) -> OpenedItem:
        """The secretariat's per-item read with a written reason (art. 14(3))."""
        auditor = self._auditor
        if not actor.is_secretariat:
            raise await auditor.deny(
                Forbidden(
                    "break-glass access is the secretariat's alone", reason="not_secretariat"
                ),
                auditor.draft(
                    actor,
                    AuditAction.ITEM_BREAK_GLASS,
                    "denied",
                    item_id=item_id[:64],
                    reason="not_secretariat",
                ),
            )
        written = tlp.is_written_reason(reason)
        if not written:
            # Charter art. 14(3): the reason is what makes the read accountable.
            raise await auditor.deny(
                InvalidInput(
                    f"reason must state why, in at least {tlp.WRITTEN_REASON_MIN} visible "
                    "characters (blanks and invisible characters do not count)",
                    field="reason",
                ),
                auditor.draft(
                    actor,
                    AuditAction.ITEM_BREAK_GLASS,
                    "denied",
                    item_id=item_id[:64],
                    reason=reasons(written),
                ),
            )
        started = time.perf_counter()
        async with self._store.read() as uow:
            stored = await uow.items.get(item_id)
        decision = _decide(tlp.may_break_glass, actor, stored)
        if stored is None or not decision:
            raise await self._not_found(
                actor, AuditAction.ITEM_BREAK_GLASS, item_id, _why(stored, decision), started
            )
        content = await self._open(actor, stored)
        await auditor.record(
            auditor.draft(
                actor,
                AuditAction.ITEM_BREAK_GLASS,
                item_id=stored.id,
                details={"written_reason": reason},
            )
        )
        log.warning("break_glass", item_id=stored.id, user_id=actor.user_id)
        return self._opened(actor, stored, content, {})

    async def _open(self, actor: Actor, stored: StoredItem) -> ItemContent:
        try:
            return open_content(self._keys, stored)
        except IntegrityAlarm as alarm:
            await self._alarm(actor, stored.id)
            raise alarm

    async def _content_or_none(self, actor: Actor, stored: StoredItem) -> ItemContent | None:
        """The item's content, or None (alarmed) when it fails its integrity check:
        a listing leaves such an item out and goes on."""
        try:
            return open_content(self._keys, stored)
        except IntegrityAlarm:
            await self._alarm(actor, stored.id)
            return None

    async def _open_each(
        self,
        actor: Actor,
        candidates: Iterable[StoredItem | None],
        admits: Callable[[StoredItem], bool],
    ) -> list[OpenedItem]:
        """Each candidate that exists and `admits` lets through, opened as `read`
        opens it, in order."""
        opened: list[OpenedItem] = []
        for stored in candidates:
            if stored is None or not admits(stored):
                continue
            content = await self._content_or_none(actor, stored)
            if content is not None:
                opened.append(self._opened(actor, stored, content, {}))
        return opened

    async def _alarm(self, actor: Actor, item_id: str) -> None:
        log.error("integrity_alarm", item_id=item_id, user_id=actor.user_id)
        await self._auditor.record(
            self._auditor.draft(
                actor,
                AuditAction.INTEGRITY_ALARM,
                "error",
                item_id=item_id,
                reason="stored_item_failed_authentication",
            )
        )

    async def _not_found(
        self, actor: Actor, action: AuditAction, item_id: str, reason: str, started: float
    ) -> BrokerError:
        # One answer for "absent" and "not yours" (docs/api.md), at one time after
        # the lookup began; the reason is only audited.
        await pad_denial(started)
        return await self._auditor.deny(
            NotFound(NOT_FOUND, field="id"),
            self._auditor.draft(actor, action, "denied", item_id=item_id[:64], reason=reason),
        )

    def _opened(
        self,
        actor: Actor,
        stored: StoredItem,
        content: ItemContent | None,
        sources: dict[str, StoredItem],
    ) -> OpenedItem:
        facts = stored.facts
        reader = actor.reader
        privileged = actor.member_id == facts.provider_id or actor.is_coordinator
        return OpenedItem(
            item=stored,
            # Who else was named or excluded is the provider's business (art. 17(1)).
            scope=facts.scope if privileged else None,
            provenance=tuple(
                _provenance(reader, sources.get(source_id), source_id)
                for source_id in facts.derived_from
            ),
            content=(
                None
                if content is None
                else dataclasses.replace(content, victim=_victim(reader, facts, content.victim))
            ),
            handling=None if content is None else tlp.handling_for(reader, facts),
        )

    # -- inbox ----------------------------------------------------------------

    async def inbox(
        self, actor: Actor, limit: int, cursor: str | None, oldest_first: bool
    ) -> InboxPage:
        """What the caller may open, a page at a time (docs/api.md `GET /v1/inbox`)."""
        after = decode_id_cursor(cursor)
        page: list[ItemSummary] = []
        next_cursor: str | None = None
        if not actor.is_secretariat:  # the secretariat reads nothing (art. 14(3))
            page, next_cursor = await self._inbox_page(actor, limit, after, oldest_first)
        shown = [entry.item.id for entry in page]
        await self._auditor.record(
            self._auditor.draft(
                actor, AuditAction.ITEM_LIST, details={"count": len(shown)}, item_refs=shown
            )
        )
        return InboxPage(items=tuple(page), next_cursor=next_cursor)

    async def _inbox_page(
        self, actor: Actor, limit: int, after: str | None, oldest_first: bool
    ) -> tuple[list[ItemSummary], str | None]:
        page: list[ItemSummary] = []
        position = after
        async with self._store.read() as uow:
            while len(page) < limit:
                batch = await uow.items.delivered_to(
                    actor.member_id,
                    count=limit * 2,
                    after=position,
                    oldest_first=oldest_first,
                    handler=actor.is_handler,
                )
                if not batch:
                    return page, None
                for stored in batch:
                    position = stored.id
                    if not tlp.may_read(actor.reader, stored.facts):
                        continue
                    content = await self._content_or_none(actor, stored)
                    if content is None:
                        continue
                    page.append(ItemSummary(item=stored, title=content.title))
                    if len(page) == limit:
                        return page, encode_cursor(stored.id)
                if len(batch) < limit * 2:
                    return page, None
        return page, None

    # -- TAXII collections ----------------------------------------------------

    async def collection_page(
        self,
        actor: Actor,
        collection: tlp.CollectionSpec,
        *,
        added_after: datetime | None,
        after: str | None,
        count: int,
        inclusive: bool = False,
    ) -> tuple[list[OpenedItem], str | None]:
        """Up to `count` items of `collection` the caller may open, oldest first
        from just after `after` (or from it, `inclusive`), each opened as `read`
        opens it (victim masked, handling), and the id to continue after (None:
        the collection ends here).

        The decision is `tlp.selects`: exactly `may_read`, as for `GET
        /v1/items/{id}`, narrowed by the collection (docs/taxii.md). Not audited
        here: the edge audits what it returned (`record_listing`), as the inbox
        does.
        """
        if not tlp.may_use_collection(actor.reader, collection) or not collection.kinds:
            return [], None
        opened: list[OpenedItem] = []
        position = after
        async with self._store.read() as uow:
            while len(opened) < count:
                batch = await uow.items.delivered_matching(
                    actor.member_id,
                    kinds=collection.kinds,
                    confidences=collection.confidences,
                    added_after=added_after,
                    after=position,
                    count=count,
                    handler=actor.is_handler,
                    inclusive=inclusive and position == after,
                )
                for stored in batch:
                    position = stored.id
                    if not tlp.selects(actor.reader, collection, stored.facts):
                        continue
                    content = await self._content_or_none(actor, stored)
                    if content is None:
                        continue
                    opened.append(self._opened(actor, stored, content, {}))
                    if len(opened) == count:
                        return opened, stored.id
                if len(batch) < count:
                    return opened, None
        return opened, position

    async def collection_items_holding(
        self, actor: Actor, collection: tlp.CollectionSpec, stix_ids: Iterable[str]
    ) -> list[OpenedItem]:
        """The items of `collection` the caller may open that hold an object with one
        of `stix_ids`, oldest first, opened as `collection_page` opens them.

        Found through the STIX object index, not by opening the collection;
        the decision is the same `tlp.selects`. Not audited here: the edge
        audits what it returned.
        """
        if not tlp.may_use_collection(actor.reader, collection) or not collection.kinds:
            return []
        return await self._open_each(
            actor,
            await self._holding(stix_ids),
            # A listing shows active items only.
            lambda s: s.withdrawn_at is None and tlp.selects(actor.reader, collection, s.facts),
        )

    async def readable_items_holding(self, actor: Actor, stix_ids: Iterable[str]) -> list[str]:
        """The ids of the items the caller may open that hold an object with one of
        `stix_ids` (a TAXII `derived_from` naming STIX ids), oldest first."""
        return [
            s.facts.id
            for s in await self._holding(stix_ids)
            if s is not None and tlp.may_read(actor.reader, s.facts)
        ]

    async def _holding(self, stix_ids: Iterable[str]) -> list[StoredItem | None]:
        """The stored items the STIX object index names for `stix_ids`, oldest first."""
        async with self._store.read() as uow:
            ids = await uow.stix_refs.items_holding(self._stix_refs.of_all(stix_ids))
            found = await uow.items.get_many(ids)
        return [found.get(i) for i in ids]

    async def opened_many(self, actor: Actor, item_ids: list[str]) -> list[OpenedItem]:
        """The items of `item_ids` the caller may open, opened as `read` opens them.

        Not audited: for a use case that audits what it does with them (a
        TAXII answer names its item in the feedback service's own event).
        """
        async with self._store.read() as uow:
            found = await uow.items.get_many(item_ids)
        return await self._open_each(
            actor,
            (found.get(i) for i in dict.fromkeys(item_ids)),
            lambda s: bool(tlp.may_read(actor.reader, s.facts)),
        )

    async def record_listing(
        self, actor: Actor, item_ids: list[str], details: dict[str, object]
    ) -> None:
        """Audit a listing that showed `item_ids` (a TAXII page, like the inbox)."""
        shown = list(dict.fromkeys(item_ids))
        await self._auditor.record(
            self._auditor.draft(
                actor,
                AuditAction.ITEM_LIST,
                details={"count": len(shown), **details},
                item_refs=shown,
            )
        )

    async def record_reads(
        self, actor: Actor, item_ids: list[str], details: dict[str, object]
    ) -> None:
        """Audit reads of `item_ids` by object (a TAXII object or versions read)."""
        auditor = self._auditor
        drafts = [
            auditor.draft(
                actor,
                AuditAction.ITEM_READ,
                item_id=item_id,
                details={"decrypted": True, **details},
            )
            for item_id in dict.fromkeys(item_ids)
        ]
        if drafts:
            await auditor.record(*drafts)

    # -- scope, consent, withdraw ---------------------------------------------

    async def change_scope(self, actor: Actor, item_id: str, scope: Scope) -> ScopeChangeResult:
        """A new scope version: narrowing is the provider's right; widening a derived
        item needs every source provider's consent again (art. 17(1),(3))."""
        auditor = self._auditor
        now = self._clock()
        stored = await self._visible(actor, item_id, AuditAction.ITEM_SCOPE_CHANGE)
        allowed = tlp.may_change_scope(actor.reader, stored.facts)
        if not allowed:
            raise await auditor.deny(
                Forbidden("only the item's provider changes its scope", reason=allowed.reasons[0]),
                auditor.draft(
                    actor,
                    AuditAction.ITEM_SCOPE_CHANGE,
                    "denied",
                    item_id=stored.id,
                    reason=reasons(allowed),
                ),
            )
        if stored.facts.status is ItemStatus.WITHDRAWN:
            raise Conflict("the item was withdrawn")
        async with self._store.read() as uow:
            bodies = await uow.members.bodies_with_handlers(now)
            sources = await uow.items.get_many(stored.facts.derived_from)
        old = stored.facts
        requested = dataclasses.replace(old, scope=scope)
        # The new scope must be one the provider could have submitted (rule 6).
        admissible = tlp.may_submit(actor.reader, requested, bodies)
        if not admissible:
            raise await auditor.deny(
                submission_error(admissible),
                auditor.draft(
                    actor,
                    AuditAction.ITEM_SCOPE_CHANGE,
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
        return await self._new_version(
            actor,
            stored,
            new,
            bodies,
            VersionChange.WIDENED if widened else VersionChange.NARROWED,
            now,
            reset_pending=pending,
            follow_ceilings=True,
        )

    async def consent(
        self, actor: Actor, source_id: str, derived_item_id: str
    ) -> ScopeChangeResult:
        """A source provider lets a derived item reach the scope it asked for (art. 17(3))."""
        auditor = self._auditor
        now = self._clock()
        source = await self._visible(actor, source_id, AuditAction.ITEM_CONSENT)
        allowed = tlp.may_consent(actor.reader, source.facts)
        if not allowed:
            raise await auditor.deny(
                Forbidden("only the source item's provider can consent", reason=allowed.reasons[0]),
                auditor.draft(
                    actor,
                    AuditAction.ITEM_CONSENT,
                    "denied",
                    item_id=source.id,
                    reason=reasons(allowed),
                ),
            )
        async with self._store.read() as uow:
            derived = await uow.items.get(derived_item_id)
            waiting = await uow.items.pending_consent_providers(derived_item_id) if derived else []
            bodies = await uow.members.bodies_with_handlers(now)
        if (
            derived is None
            or actor.member_id not in waiting
            or source.id not in {c.source_id for c in derived.facts.constraints}
        ):
            raise await auditor.deny(
                NotFound("no consent request for that derived item", field="derived_item_id"),
                auditor.draft(
                    actor,
                    AuditAction.ITEM_CONSENT,
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
            actor, derived, new, bodies, VersionChange.CONSENT, now, consent_by=actor
        )

    async def _new_version(
        self,
        actor: Actor,
        stored: StoredItem,
        new: ItemFacts,
        bodies: dict[str, Body],
        change: VersionChange,
        now: datetime,
        *,
        reset_pending: list[str] | None = None,
        consent_by: Actor | None = None,
        follow_ceilings: bool = False,
    ) -> ScopeChangeResult:
        auditor = self._auditor
        version = stored.scope_version + 1
        try:
            wrapped, kek_version = rebind_key(self._keys, stored, new, version)
        except IntegrityAlarm:
            await self._alarm(actor, stored.id)
            raise
        routing = tlp.recipients_for(new, bodies.values())
        # What the caller may be told of the sources whose consent is waited for
        # (art. 17(3)): only those it may open (SPEC §3 rule 10).
        seen = await self._seen_sources(actor, new)
        alarms: list[str] = []
        async with self._store.write() as uow:
            if await uow.items.scope_version(new.id) != version - 1:
                raise Conflict("the item's scope changed meanwhile; retry")
            await self._store_version(
                uow,
                new,
                version,
                change,
                routing,
                bodies,
                (wrapped, kek_version),
                stored.feedback_due,
                actor.user_id,
                now,
            )
            if consent_by is not None:
                await uow.items.record_consent(
                    new.id, consent_by.member_id, consent_by.user_id, now
                )
            if reset_pending is not None:
                await uow.items.request_consents(new.id, reset_pending, now)
            waiting = await uow.items.pending_consent_providers(new.id)
            shown = pending_view(new, waiting, seen)
            await uow.audit.append(
                [
                    auditor.draft(
                        actor,
                        AuditAction.ITEM_CONSENT if consent_by else AuditAction.ITEM_SCOPE_CHANGE,
                        item_id=new.id,
                        details={
                            "version": version,
                            "change": change.value,
                            "recipients": len(routing.recipients),
                            # The item's access log shows this to its provider.
                            "pending_consents": _providers(shown),
                        },
                    )
                ]
            )
            if follow_ceilings:
                alarms = await self._follow_ceilings(uow, actor, new, bodies, now)
        for item_id in alarms:
            await self._alarm(actor, item_id)
        return ScopeChangeResult(
            id=new.id,
            version=version,
            change=change,
            recipients=len(routing.recipients),
            dropped=tlp.dropped_seen_by(actor.reader, new, bodies.values()),
            pending_consents=shown,
        )

    async def _store_version(
        self,
        uow: UnitOfWork,
        facts: ItemFacts,
        version: int,
        change: VersionChange,
        routing: tlp.Routing,
        bodies: dict[str, Body],
        key: tuple[bytes, int],
        feedback_due: datetime | None,
        by_user_id: str,
        now: datetime,
    ) -> None:
        """Store `facts` as scope version `version` of its item with its rebound data
        key, tell its audience (`scope_changed`: live connections decide again) and
        bring the obligations in line (SPEC §4: newly reached members owe, dropped
        ones no longer do)."""
        audience_id = await uow.items.ensure_audience(routing.recipients, now)
        wrapped, kek_version = key
        await uow.items.add_scope_version(
            facts,
            version,
            change,
            audience_id=audience_id,
            wrapped_key=wrapped,
            kek_version=kek_version,
            by_user_id=by_user_id,
            at=now,
        )
        await uow.feed.append(
            [item_event(EventKind.SCOPE_CHANGED, facts, audience_id, version, now)]
        )
        await reconcile_obligations(
            uow,
            facts,
            {m: bodies[m] for m in routing.recipients},
            feedback_due,
            self._due_defaults,
            now,
        )

    async def _follow_ceilings(
        self,
        uow: UnitOfWork,
        actor: Actor,
        source: ItemFacts,
        bodies: dict[str, Body],
        now: datetime,
    ) -> list[str]:
        """Clip every item built on `source` by its new scope, in the same transaction
        (SPEC §3 rule 2: the ceiling is live); the ids whose key failed to rebind.

        Each clipped item gets a new scope version, audited as a scope change by
        the system (the version row keeps the user whose change caused it), and
        a `scope_changed` event so that live connections decide again. Ceilings are flattened onto
        every item built on a source, however indirectly, so one pass finds all.
        """
        auditor = self._auditor
        alarms: list[str] = []
        for derived in await uow.items.carrying_ceiling_of(source.id):
            clipped = tlp.reclip(derived.facts, source)
            if clipped is None:
                continue  # consented away, or the id matched something else
            version = derived.scope_version + 1
            try:
                wrapped, kek_version = rebind_key(self._keys, derived, clipped, version)
            except IntegrityAlarm:
                # A tampered item opens for no one anyway; alarm once committed.
                alarms.append(derived.id)
                continue
            routing = tlp.recipients_for(clipped, bodies.values())
            await self._store_version(
                uow,
                clipped,
                version,
                VersionChange.CEILING,
                routing,
                bodies,
                (wrapped, kek_version),
                derived.feedback_due,
                actor.user_id,
                now,
            )
            await uow.audit.append(
                [
                    # By the system: the derived item's access log, which its provider
                    # reads, must not name who is behind a ceiling it may not see
                    # (rule 10); the source's own event, in this same transaction,
                    # records who changed the source.
                    auditor.draft(
                        None,
                        AuditAction.ITEM_SCOPE_CHANGE,
                        item_id=clipped.id,
                        details={
                            "version": version,
                            "change": VersionChange.CEILING.value,
                            "recipients": len(routing.recipients),
                        },
                    )
                ]
            )
        return alarms

    async def _seen_sources(self, actor: Actor, facts: ItemFacts) -> frozenset[str]:
        """The sources behind `facts`' ceilings that `actor` may open (art. 17(3))."""
        ids = {c.source_id for c in facts.constraints}
        if not ids:
            return frozenset()
        async with self._store.read() as uow:
            found = await uow.items.get_many(ids)
        return frozenset(i for i, s in found.items() if tlp.may_read(actor.reader, s.facts))

    async def pending_consents(self, actor: Actor) -> tuple[ConsentRequest, ...]:
        """Consent requests waiting for the caller's member, with what they ask for."""
        async with self._store.read() as uow:
            requests = await uow.items.consent_requests_for(actor.member_id)
            derived = await uow.items.get_many([item_id for item_id, _ in requests])
        out: list[ConsentRequest] = []
        for item_id, requested_at in requests:
            d = derived.get(item_id)
            if d is None or d.facts.status is not ItemStatus.ACTIVE:
                continue
            out.append(
                ConsentRequest(
                    item=d,
                    requested_at=requested_at,
                    source_item_ids=tuple(sources_of(d.facts, actor.member_id)),
                )
            )
        await self._auditor.record(
            self._auditor.draft(
                actor,
                AuditAction.CONSENT_LIST,
                details={"count": len(out)},
                item_refs=[r.item.id for r in out],
            )
        )
        return tuple(out)

    async def withdraw(self, actor: Actor, item_id: str) -> Withdrawal:
        """The provider withdraws: the data key is erased, metadata and audit remain."""
        auditor = self._auditor
        now = self._clock()
        stored = await self._visible(
            actor, item_id, AuditAction.ITEM_WITHDRAW, allow_withdrawn=True
        )
        allowed = tlp.may_withdraw(actor.reader, stored.facts)
        if not allowed:
            raise await auditor.deny(
                Forbidden("only the item's provider withdraws it", reason=allowed.reasons[0]),
                auditor.draft(
                    actor,
                    AuditAction.ITEM_WITHDRAW,
                    "denied",
                    item_id=stored.id,
                    reason=reasons(allowed),
                ),
            )
        async with self._store.write() as uow:
            await uow.items.withdraw(stored.id, now)
            await uow.stix_refs.forget(stored.id)
            # Task force (SPEC §4): nothing is owed on a withdrawn item.
            await cancel_for_item(uow, stored.id, now)
            # Told to those it was delivered to; content is already gone.
            await uow.feed.append(
                [
                    item_event(
                        EventKind.WITHDRAWN,
                        stored.facts,
                        stored.audience_id,
                        stored.scope_version,
                        now,
                    )
                ]
            )
            await uow.audit.append(
                [auditor.draft(actor, AuditAction.ITEM_WITHDRAW, item_id=stored.id)]
            )
        return Withdrawal(id=stored.id, withdrawn_at=now)

    async def access_log(
        self, actor: Actor, item_id: str, limit: int, after_seq: int | None
    ) -> AuditPage:
        """Every access to an item, for its provider and the coordinator (SPEC §5)."""
        auditor = self._auditor
        stored = await self._visible(
            actor, item_id, AuditAction.ITEM_ACCESS_LOG, allow_withdrawn=True
        )
        if not (actor.member_id == stored.facts.provider_id or actor.is_coordinator):
            raise await auditor.deny(
                Forbidden(
                    "only the provider and the coordinator see an item's access log",
                    reason="not_provider",
                ),
                auditor.draft(
                    actor,
                    AuditAction.ITEM_ACCESS_LOG,
                    "denied",
                    item_id=stored.id,
                    reason="not_provider",
                ),
            )
        async with self._store.read() as uow:
            page = await uow.audit.page(
                AuditFilter(item=stored.id), after_seq=after_seq, limit=limit
            )
        await auditor.record(auditor.draft(actor, AuditAction.ITEM_ACCESS_LOG, item_id=stored.id))
        return page

    async def _visible(
        self, actor: Actor, item_id: str, action: AuditAction, *, allow_withdrawn: bool = False
    ) -> StoredItem:
        # One query, one decision and one audited denial whether the id is absent
        # or only not the caller's: neither the answer nor the work tells them
        # apart (docs/api.md, SPEC §3 rule 10).
        started = time.perf_counter()
        async with self._store.read() as uow:
            stored = await uow.items.get(item_id)
        decision = _decide(tlp.may_read, actor, stored)
        if (
            stored is not None
            and allow_withdrawn
            and stored.facts.status is ItemStatus.WITHDRAWN
            and _keeps_metadata(actor, stored.facts)
        ):
            return stored
        if stored is None or not decision:
            raise await self._not_found(actor, action, item_id, _why(stored, decision), started)
        return stored


# What a decision about an absent id is taken on: the same rule runs on it, so the
# denial of an absent id does the work of a forbidden one (SPEC §3 rule 10).
_ABSENT = ItemFacts(
    id="",
    provider_id="",
    kind=ItemKind.NOTICE,
    confidence=Confidence.UNCONFIRMED,
    tlp=Tlp.RED,
    secret=True,
    scope=Scope(),
    status=ItemStatus.WITHDRAWN,
)


def _decide(
    rule: Callable[[Reader, ItemFacts], tlp.Decision], actor: Actor, stored: StoredItem | None
) -> tlp.Decision:
    """`rule` on the stored item, or on `_ABSENT` for an absent id (always a denial)."""
    return rule(actor.reader, stored.facts if stored is not None else _ABSENT)


def _why(stored: StoredItem | None, decision: tlp.Decision) -> str:
    """The audited reason of a denial: `not_found` for an absent id."""
    return "not_found" if stored is None else reasons(decision)


def _providers(pending: tuple[PendingConsent, ...]) -> list[str]:
    """The providers of `pending`, sorted, once each."""
    return sorted({p.provider_id for p in pending})


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


def _victim(
    reader: Reader, facts: ItemFacts, victim: dict[str, object] | None
) -> dict[str, object] | None:
    if victim is None:
        return None
    if tlp.victim_view(reader, facts) == "full":
        return dict(victim)
    # Charter annex: others learn only whether there is damage.
    return {"damage": bool(victim.get("damage"))}


def _provenance(reader: Reader, source: StoredItem | None, source_id: str) -> Provenance:
    if source is None or not tlp.may_read(reader, source.facts):
        return Provenance(id=source_id, visible=False)
    return Provenance(
        id=source.id,
        visible=True,
        kind=source.facts.kind,
        provider_id=source.facts.provider_id,
        tlp=source.facts.tlp,
    )
