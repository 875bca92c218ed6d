"""Items, their scope versions, audiences and consent requests."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.engine import Row
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
from broker.store.tables import audience_members, audiences, consents, items, scope_versions
from broker.store.upsert import insert_ignoring_duplicates


@dataclass(frozen=True, slots=True)
class StoredItem:
    """An item row with its current scope version, as the services need it."""

    row: Row[Any]
    facts: ItemFacts

    @property
    def id(self) -> str:
        """The item id."""
        return str(self.row.id)


def constraints_to_json(constraints: Iterable[SourceConstraint]) -> list[dict[str, Any]]:
    """A stable JSON form of source ceilings (art. 17(3))."""
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


def constraints_from_json(data: list[dict[str, Any]]) -> tuple[SourceConstraint, ...]:
    """Inverse of `constraints_to_json`."""
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


def facts_from_rows(row: Any, scope_row: Any) -> ItemFacts:
    """Rebuild the policy's view of an item from its row and scope version."""
    return ItemFacts(
        id=row.id,
        provider_id=row.provider_id,
        kind=ItemKind(row.kind),
        confidence=Confidence(row.confidence),
        tlp=Tlp(row.tlp),
        secret=bool(row.secret),
        scope=Scope.from_json(scope_row.scope),
        constraints=constraints_from_json(scope_row.constraints),
        status=ItemStatus(row.status),
        derived_from=tuple(row.derived_from),
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


def _stored(row: Any) -> StoredItem:
    return StoredItem(row=row, facts=facts_from_rows(row, row))


async def get_item(conn: AsyncConnection, item_id: str) -> StoredItem | None:
    """One item with its current scope, or None."""
    row = (await conn.execute(_item_with_scope().where(items.c.id == item_id))).one_or_none()
    return _stored(row) if row else None


async def get_items(conn: AsyncConnection, item_ids: Iterable[str]) -> dict[str, StoredItem]:
    """Several items by id."""
    ids = list(dict.fromkeys(item_ids))
    if not ids:
        return {}
    rows = (await conn.execute(_item_with_scope().where(items.c.id.in_(ids)))).all()
    return {r.id: _stored(r) for r in rows}


def audience_id_for(member_ids: Iterable[str]) -> str:
    """A content address for a recipient set: equal sets share one audience."""
    digest = hashlib.sha256()
    for member_id in sorted(set(member_ids)):
        digest.update(member_id.encode())
        digest.update(b"\n")
    return digest.hexdigest()


async def ensure_audience(conn: AsyncConnection, member_ids: frozenset[str], now: datetime) -> str:
    """Store a recipient set once and return its id."""
    audience_id = audience_id_for(member_ids)
    exists = (
        await conn.execute(select(audiences.c.id).where(audiences.c.id == audience_id))
    ).first()
    if exists is None:
        await insert_ignoring_duplicates(
            conn, audiences, [{"id": audience_id, "size": len(member_ids), "created_at": now}]
        )
        await insert_ignoring_duplicates(
            conn,
            audience_members,
            [{"audience_id": audience_id, "member_id": m} for m in sorted(member_ids)],
        )
    return audience_id


async def item_by_idempotency_key(conn: AsyncConnection, user_id: str, key: str) -> Row[Any] | None:
    """The item a user already submitted under `key`, if any."""
    query = select(items).where(
        items.c.submitter_user_id == user_id, items.c.idempotency_key == key
    )
    return (await conn.execute(query)).one_or_none()


async def pending_consent_providers(conn: AsyncConnection, derived_item_id: str) -> list[str]:
    """Source providers whose consent a derived item still waits for."""
    query = select(consents.c.provider_id).where(
        consents.c.derived_item_id == derived_item_id, consents.c.consented_at.is_(None)
    )
    return sorted((await conn.execute(query)).scalars())


async def consented_providers(conn: AsyncConnection, derived_item_id: str) -> frozenset[str]:
    """Source providers that consented to a derived item's reach."""
    query = select(consents.c.provider_id).where(
        consents.c.derived_item_id == derived_item_id, consents.c.consented_at.is_not(None)
    )
    return frozenset((await conn.execute(query)).scalars())


class ItemRepository:
    """Items with their scope versions, audiences and consent requests, on one unit of
    work's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, item_id: str) -> StoredItem | None:
        """One item with its current scope version, or None."""
        return await get_item(self._conn, item_id)

    async def get_many(self, item_ids: Iterable[str]) -> dict[str, StoredItem]:
        """The items of `item_ids` that exist, by id."""
        return await get_items(self._conn, item_ids)
