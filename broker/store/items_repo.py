"""Items, their scope versions, audiences and consent requests."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from broker.domain import (
    Confidence,
    ItemFacts,
    ItemKind,
    ItemStatus,
    Scope,
    SourceConstraint,
    Tlp,
)
from broker.domain.items import PendingConsent, StoredItem, SubmitResult, VersionChange
from broker.store.tables import (
    audience_members,
    audiences,
    consents,
    item_ceilings,
    items,
    scope_versions,
)
from broker.store.upsert import insert_ignoring_duplicates

__all__ = [
    "ItemRepository",
    "StoredItem",
    "audience_id_for",
    "scope_version_row",
    "submit_result_from_json",
    "submit_result_to_json",
]


def _constraints_to_json(constraints: Iterable[SourceConstraint]) -> list[dict[str, Any]]:
    # A stable JSON form of source ceilings (art. 17(3)), as the scope versions keep them.
    return sorted(
        (
            {
                "source_id": c.source_id,
                "provider_id": c.provider_id,
                "scope": c.scope.to_json(),
                "tlp": str(c.tlp),
                "secret": c.secret,
            }
            for c in constraints
        ),
        key=lambda c: (c["provider_id"], c["source_id"]),
    )


def _constraints_from_json(data: list[dict[str, Any]]) -> tuple[SourceConstraint, ...]:
    return tuple(
        SourceConstraint(
            source_id=c["source_id"],
            provider_id=c["provider_id"],
            scope=Scope.from_json(c["scope"]),
            tlp=Tlp(c["tlp"]),
            secret=bool(c["secret"]),
        )
        for c in data
    )


def _stored(row: Any) -> StoredItem:
    # An item row joined with its current scope version.
    return StoredItem(
        facts=ItemFacts(
            id=row.id,
            provider_id=row.provider_id,
            kind=ItemKind(row.kind),
            confidence=Confidence(row.confidence),
            tlp=Tlp(row.tlp),
            secret=bool(row.secret),
            scope=Scope.from_json(row.scope),
            constraints=_constraints_from_json(row.constraints),
            status=ItemStatus(row.status),
            derived_from=tuple(row.derived_from),
        ),
        scope_version=int(row.scope_version),
        created_at=row.created_at,
        feedback_due=row.feedback_due,
        withdrawn_at=row.withdrawn_at,
        audience_id=row.audience_id,
        nonce=row.nonce,
        ciphertext=row.ciphertext,
        wrapped_key=row.wrapped_key,
        kek_version=int(row.kek_version) if row.kek_version is not None else None,
    )


def _item_with_scope() -> Any:
    return select(
        items,
        scope_versions.c.scope,
        scope_versions.c.constraints,
    ).join(
        scope_versions,
        and_(
            scope_versions.c.item_id == items.c.id,
            scope_versions.c.version == items.c.scope_version,
        ),
    )


def audience_id_for(member_ids: Iterable[str]) -> str:
    """A content address for a recipient set: equal sets share one audience."""
    digest = hashlib.sha256()
    for member_id in sorted(set(member_ids)):
        digest.update(member_id.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def scope_version_row(
    facts: ItemFacts, version: int, change: VersionChange, by_user_id: str, at: datetime
) -> dict[str, Any]:
    """The row that records scope version `version` of an item (the history, art. 17)."""
    return {
        "item_id": facts.id,
        "version": version,
        "scope": facts.scope.to_json(),
        "constraints": _constraints_to_json(facts.constraints),
        "change": change.value,
        "created_at": at,
        "created_by": by_user_id,
    }


def submit_result_to_json(result: SubmitResult) -> dict[str, Any]:
    """The stored form of a submission's answer (the `submit_result` column), kept for
    a retried Idempotency-Key; it is also the form rows stored before it took."""
    return {
        "id": result.id,
        "version": result.version,
        "recipients": result.recipients,
        "dropped": dict(result.dropped),
        "pending_consents": [
            {"source_item_id": p.source_item_id, "provider_id": p.provider_id}
            for p in result.pending_consents
        ],
    }


def submit_result_from_json(data: Mapping[str, Any]) -> SubmitResult:
    """Inverse of `submit_result_to_json`."""
    return SubmitResult(
        id=data["id"],
        version=int(data["version"]),
        recipients=int(data["recipients"]),
        dropped=dict(data["dropped"]),
        pending_consents=tuple(
            PendingConsent(source_item_id=p["source_item_id"], provider_id=p["provider_id"])
            for p in data["pending_consents"]
        ),
    )


class ItemRepository:
    """Items with their scope versions, audiences and consent requests, on one unit of
    work's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, item_id: str) -> StoredItem | None:
        """One item with its current scope version, or None."""
        query = _item_with_scope().where(items.c.id == item_id)
        row = (await self._conn.execute(query)).one_or_none()
        return _stored(row) if row else None

    async def get_many(self, item_ids: Iterable[str]) -> dict[str, StoredItem]:
        """The items of `item_ids` that exist, by id."""
        ids = list(dict.fromkeys(item_ids))
        if not ids:
            return {}
        rows = (await self._conn.execute(_item_with_scope().where(items.c.id.in_(ids)))).all()
        return {r.id: _stored(r) for r in rows}

    async def carrying_ceiling_of(self, source_id: str) -> list[StoredItem]:
        """The live items that carry a ceiling of `source_id` (art. 17(3)), by id.

        Ceilings are flattened onto every item built on a source, however
        indirectly, and each is recorded with the item (`item_ceilings`), so one
        indexed look-up finds them all. A ceiling since consented away is still
        listed; the caller keeps the items whose ceilings are the source's
        (`broker.tlp.reclip`).
        """
        query = (
            _item_with_scope()
            .join(item_ceilings, item_ceilings.c.item_id == items.c.id)
            .where(
                item_ceilings.c.source_id == source_id,
                items.c.status == ItemStatus.ACTIVE.value,
            )
            .order_by(items.c.id)
        )
        rows = (await self._conn.execute(query)).all()
        return [_stored(r) for r in rows]

    async def delivered_to(
        self,
        member_id: str,
        *,
        count: int,
        after: str | None,
        oldest_first: bool,
        handler: bool,
    ) -> list[StoredItem]:
        """Up to `count` active items whose audience includes `member_id`, by id, after
        `after`; without `handler`, none a handler alone may open."""
        # Delivery is the audience snapshot taken when the scope version was
        # routed; the policy re-checks each row against today's facts (rule 7).
        query = (
            select(items.c.id)
            .join(audience_members, audience_members.c.audience_id == items.c.audience_id)
            .where(
                audience_members.c.member_id == member_id,
                items.c.status == ItemStatus.ACTIVE.value,
            )
            .limit(count)
        )
        if not handler:
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
        ids = list((await self._conn.execute(query)).scalars())
        found = await self.get_many(ids)
        return [found[i] for i in ids if i in found]

    async def delivered_matching(
        self,
        member_id: str,
        *,
        kinds: Iterable[ItemKind],
        confidences: Iterable[Confidence],
        added_after: datetime | None,
        after: str | None,
        count: int,
        handler: bool,
        inclusive: bool = False,
    ) -> list[StoredItem]:
        """Up to `count` active items delivered to `member_id`, oldest first by id,
        of `kinds` and `confidences`, created after `added_after` and with an id
        after `after` (or from it, `inclusive`); without `handler`, none a
        handler alone may open.

        The TAXII collections' listing (docs/taxii.md): ids are ULIDs, so the
        id order is the order items were added in. Like `delivered_to`, a
        candidate list: the policy re-checks every row (rule 7).
        """
        query = (
            select(items.c.id)
            .join(audience_members, audience_members.c.audience_id == items.c.audience_id)
            .where(
                audience_members.c.member_id == member_id,
                items.c.status == ItemStatus.ACTIVE.value,
                items.c.kind.in_([k.value for k in kinds]),
                items.c.confidence.in_([c.value for c in confidences]),
            )
            .order_by(items.c.id.asc())
            .limit(count)
        )
        if not handler:
            # Art. 18(4), TLP:RED: what only a handler may open is skipped in SQL.
            query = query.where(
                and_(items.c.effective_secret.is_(False), items.c.effective_tlp != Tlp.RED.value)
            )
        if added_after is not None:
            query = query.where(items.c.created_at > added_after)
        if after is not None:
            query = query.where(items.c.id >= after if inclusive else items.c.id > after)
        ids = list((await self._conn.execute(query)).scalars())
        found = await self.get_many(ids)
        return [found[i] for i in ids if i in found]

    async def scope_version(self, item_id: str) -> int | None:
        """The item's current scope version as committed (None: no such item)."""
        query = select(items.c.scope_version).where(items.c.id == item_id)
        version = (await self._conn.execute(query)).scalar_one_or_none()
        return int(version) if version is not None else None

    async def ensure_audience(self, member_ids: frozenset[str], now: datetime) -> str:
        """Store a recipient set once and return its id."""
        audience_id = audience_id_for(member_ids)
        exists = (
            await self._conn.execute(select(audiences.c.id).where(audiences.c.id == audience_id))
        ).first()
        if exists is None:
            await insert_ignoring_duplicates(
                self._conn,
                audiences,
                [{"id": audience_id, "size": len(member_ids), "created_at": now}],
            )
            await insert_ignoring_duplicates(
                self._conn,
                audience_members,
                [{"audience_id": audience_id, "member_id": m} for m in sorted(member_ids)],
            )
        return audience_id

    async def add_scope_version(
        self,
        facts: ItemFacts,
        version: int,
        change: VersionChange,
        *,
        audience_id: str,
        wrapped_key: bytes,
        kek_version: int,
        by_user_id: str,
        at: datetime,
    ) -> None:
        """Make `facts` the item's scope version `version`, delivered to `audience_id`, its
        data key re-wrapped for it; the old version stays in the history."""
        await self._conn.execute(
            update(items)
            .where(items.c.id == facts.id)
            .values(
                scope_version=version,
                audience_id=audience_id,
                effective_tlp=str(facts.effective_tlp),
                effective_secret=facts.effective_secret,
                wrapped_key=wrapped_key,
                kek_version=kek_version,
            )
        )
        await self._conn.execute(
            insert(scope_versions).values(scope_version_row(facts, version, change, by_user_id, at))
        )

    async def withdraw(self, item_id: str, at: datetime) -> None:
        """Mark the item withdrawn at `at` and destroy its content."""
        await self._conn.execute(
            update(items)
            .where(items.c.id == item_id)
            .values(
                status=ItemStatus.WITHDRAWN.value,
                withdrawn_at=at,
                # Crypto-shredding: without its wrapped key the ciphertext is noise;
                # the ciphertext goes too so nothing is left to attack.
                wrapped_key=None,
                ciphertext=None,
                nonce=None,
                kek_version=None,
            )
        )

    async def pending_consent_providers(self, derived_item_id: str) -> list[str]:
        """Source providers whose consent a derived item still waits for, sorted."""
        query = select(consents.c.provider_id).where(
            consents.c.derived_item_id == derived_item_id, consents.c.consented_at.is_(None)
        )
        return sorted((await self._conn.execute(query)).scalars())

    async def consent_requests_for(self, provider_id: str) -> list[tuple[str, datetime]]:
        """The derived items waiting for `provider_id`'s consent with when each asked,
        oldest request first."""
        query = (
            select(consents.c.derived_item_id, consents.c.requested_at)
            .where(consents.c.provider_id == provider_id, consents.c.consented_at.is_(None))
            .order_by(consents.c.requested_at)
        )
        rows = (await self._conn.execute(query)).all()
        return [(r.derived_item_id, r.requested_at) for r in rows]

    async def request_consents(
        self, derived_item_id: str, provider_ids: Sequence[str], at: datetime
    ) -> None:
        """Replace the derived item's consent requests by one per provider of
        `provider_ids` (a widening asks every source provider again, art. 17(3))."""
        await self._conn.execute(
            delete(consents).where(consents.c.derived_item_id == derived_item_id)
        )
        if provider_ids:
            await self._conn.execute(
                insert(consents),
                [
                    {"derived_item_id": derived_item_id, "provider_id": p, "requested_at": at}
                    for p in provider_ids
                ],
            )

    async def record_consent(
        self, derived_item_id: str, provider_id: str, by_user_id: str, at: datetime
    ) -> None:
        """`provider_id` consented, through `by_user_id`, to the derived item's reach."""
        await self._conn.execute(
            update(consents)
            .where(
                consents.c.derived_item_id == derived_item_id,
                consents.c.provider_id == provider_id,
            )
            .values(consented_at=at, consented_by=by_user_id)
        )
