"""In memory: items, scope versions, audiences and consents."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from broker.domain import ItemFacts, ItemStatus, Tlp
from broker.domain.items import StoredItem, SubmitResult, VersionChange
from broker.errors import Conflict
from broker.store.items_repo import audience_id_for


@dataclass
class FakeConsent:
    """One consent request: asked at `requested_at`, given at `consented_at`."""

    requested_at: datetime
    consented_at: datetime | None = None
    consented_by: str | None = None


@dataclass(frozen=True)
class FakeScopeVersion:
    """One entry of an item's scope-version history."""

    facts: ItemFacts
    change: VersionChange
    by_user_id: str
    at: datetime


class FakeItemRepository:
    """In memory: items, scope versions, audiences and consents."""

    def __init__(self) -> None:
        self.items: dict[str, StoredItem] = {}
        self.versions: dict[tuple[str, int], FakeScopeVersion] = {}
        self.audiences: dict[str, frozenset[str]] = {}
        self.consents: dict[tuple[str, str], FakeConsent] = {}
        # (user, Idempotency-Key) -> (request digest, answer)
        self.keyed: dict[tuple[str, str], tuple[str | None, SubmitResult]] = {}
        # What each submission wrote besides the item (other aggregates' rows).
        self.written: list[Any] = []

    async def get(self, item_id: str) -> StoredItem | None:
        """One item with its current scope version, or None."""
        return self.items.get(item_id)

    async def get_many(self, item_ids: Iterable[str]) -> dict[str, StoredItem]:
        """The items of `item_ids` that exist, by id."""
        return {i: self.items[i] for i in dict.fromkeys(item_ids) if i in self.items}

    async def carrying_ceiling_of(self, source_id: str) -> list[StoredItem]:
        """Live items whose current scope version carries a ceiling of `source_id`."""
        return sorted(
            (
                s
                for s in self.items.values()
                if s.facts.status is ItemStatus.ACTIVE
                and any(c.source_id == source_id for c in s.facts.constraints)
            ),
            key=lambda s: s.id,
        )

    async def delivered_to(
        self,
        member_id: str,
        *,
        count: int,
        after: str | None,
        oldest_first: bool,
        handler: bool,
    ) -> list[StoredItem]:
        """Active items delivered to `member_id`, by id after `after` (see the real one)."""
        found = [
            s
            for s in self.items.values()
            if member_id in self.audiences.get(s.audience_id, frozenset())
            and s.facts.status is ItemStatus.ACTIVE
            and (handler or not (s.facts.effective_secret or s.facts.effective_tlp is Tlp.RED))
            and (after is None or (s.id > after if oldest_first else s.id < after))
        ]
        found.sort(key=lambda s: s.id, reverse=not oldest_first)
        return found[:count]

    async def submitted_under(
        self, user_id: str, key: str
    ) -> tuple[str | None, SubmitResult] | None:
        """The digest and answer of what `user_id` submitted under `key`, if anything."""
        return self.keyed.get((user_id, key))

    async def scope_version(self, item_id: str) -> int | None:
        """The item's current scope version (None: no such item)."""
        stored = self.items.get(item_id)
        return stored.scope_version if stored else None

    async def ensure_audience(self, member_ids: frozenset[str], now: datetime) -> str:
        """Store a recipient set once and return its id."""
        audience_id = audience_id_for(member_ids)
        self.audiences.setdefault(audience_id, frozenset(member_ids))
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
        """Make `facts` the item's scope version `version`."""
        stored = self.items[facts.id]
        self.items[facts.id] = dataclasses.replace(
            stored,
            facts=dataclasses.replace(facts, status=stored.facts.status),
            scope_version=version,
            audience_id=audience_id,
            wrapped_key=wrapped_key,
            kek_version=kek_version,
        )
        self.versions[(facts.id, version)] = FakeScopeVersion(facts, change, by_user_id, at)

    async def withdraw(self, item_id: str, at: datetime) -> None:
        """Mark the item withdrawn and destroy its content."""
        stored = self.items[item_id]
        self.items[item_id] = dataclasses.replace(
            stored,
            facts=dataclasses.replace(stored.facts, status=ItemStatus.WITHDRAWN),
            withdrawn_at=at,
            nonce=None,
            ciphertext=None,
            wrapped_key=None,
            kek_version=None,
        )

    async def pending_consent_providers(self, derived_item_id: str) -> list[str]:
        """Source providers whose consent the derived item still waits for, sorted."""
        return sorted(
            provider
            for (item_id, provider), c in self.consents.items()
            if item_id == derived_item_id and c.consented_at is None
        )

    async def consent_requests_for(self, provider_id: str) -> list[tuple[str, datetime]]:
        """Derived items waiting for `provider_id`, oldest request first."""
        waiting = [
            (item_id, c.requested_at)
            for (item_id, provider), c in self.consents.items()
            if provider == provider_id and c.consented_at is None
        ]
        return sorted(waiting, key=lambda w: w[1])

    async def request_consents(
        self, derived_item_id: str, provider_ids: Sequence[str], at: datetime
    ) -> None:
        """Replace the derived item's consent requests."""
        for key in [k for k in self.consents if k[0] == derived_item_id]:
            del self.consents[key]
        for provider in provider_ids:
            self.consents[(derived_item_id, provider)] = FakeConsent(requested_at=at)

    async def record_consent(
        self, derived_item_id: str, provider_id: str, by_user_id: str, at: datetime
    ) -> None:
        """`provider_id` consented to the derived item's reach."""
        consent = self.consents.get((derived_item_id, provider_id))
        if consent is not None:
            consent.consented_at, consent.consented_by = at, by_user_id

    async def write_submission(self, prepared: Any) -> SubmitResult:
        """One submission as `write_submissions` stores it: a retried key answers the
        first result (or Conflict for a different request)."""
        if prepared.idempotency_key is not None:
            key = (prepared.user_id, prepared.idempotency_key)
            if key in self.keyed:
                digest, result = self.keyed[key]
                if digest != prepared.digest:
                    raise Conflict(
                        "this Idempotency-Key was used for a different submission",
                        field="Idempotency-Key",
                    )
                return result
            self.keyed[key] = (prepared.digest, prepared.result)
        facts, envelope = prepared.facts, prepared.envelope
        self.audiences.setdefault(prepared.audience_id, prepared.audience_members)
        self.items[facts.id] = StoredItem(
            facts=facts,
            scope_version=1,
            created_at=prepared.created_at,
            feedback_due=prepared.feedback_due,
            withdrawn_at=None,
            audience_id=prepared.audience_id,
            nonce=envelope.nonce,
            ciphertext=envelope.ciphertext,
            wrapped_key=envelope.wrapped_key,
            kek_version=envelope.kek_version,
        )
        self.versions[(facts.id, 1)] = FakeScopeVersion(
            facts, VersionChange.SUBMITTED, prepared.user_id, prepared.created_at
        )
        for provider in prepared.pending_consents:
            self.consents[(facts.id, provider)] = FakeConsent(requested_at=prepared.created_at)
        self.written.append(prepared)
        result: SubmitResult = prepared.result
        return result
