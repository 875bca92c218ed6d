"""Items written straight into a broker's database, shaped as `ItemService.submit` writes them.

Seeding a million items through HTTP would take most of an hour; this writes
the same rows with SQLAlchemy Core bulk inserts through the broker's own
``Database``, sealed with the broker's own recipe (``seal_content`` with
``key_aad``) under the data directory's key ring, and routed by the broker's
own policy into one shared audience (``ensure_audience``), so every seeded
item opens and lists exactly like a submitted one.

What submit also writes and seeding does not: the ``item.submit`` audit
event (the read path appends to the chain head, whatever its length) and
obligations (high-confidence countermeasures create none).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import random
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from ulid import ULID

from broker import tlp
from broker.crypto import KeyRing, canonical_json
from broker.domain import Confidence, Group, ItemFacts, ItemKind, ItemStatus, Scope, Tlp
from broker.domain.items import ItemContent, VersionChange
from broker.domain.stix_ids import note_id_for
from broker.services.sealing import seal_content
from broker.services.stix_refs import index_key, ref_of
from broker.settings import Settings
from broker.store import Database
from broker.store.items_repo import ItemRepository, scope_version_row
from broker.store.members_repo import bodies_with_handlers
from broker.store.tables import items, scope_versions, stix_refs

__all__ = ["SeedPlan", "SeedStats", "seed_items"]

BODY_BYTES = 1024


@dataclass(frozen=True)
class SeedPlan:
    """Who provides the seeded items and when they were submitted.

    Item ``i`` is submitted at ``newest - (offset + i) * step`` seconds, so a
    later plan with a larger ``offset`` adds older history below what is there.
    """

    data_dir: Path
    database_url: str
    provider_id: str
    submitter_user_id: str
    count: int
    offset: int = 0
    newest: float = field(default_factory=time.time)
    step: float = 2.0
    batch: int = 5000


@dataclass
class SeedStats:
    """What was seeded and how long it took."""

    count: int
    seconds: float
    recipients: int
    sample_ids: list[str]

    @property
    def rate(self) -> float:
        """Items per second."""
        return self.count / self.seconds if self.seconds else 0.0


def _template(plan: SeedPlan) -> ItemFacts:
    return ItemFacts(
        id="seed",
        provider_id=plan.provider_id,
        kind=ItemKind.COUNTERMEASURE,
        confidence=Confidence.HIGH,
        tlp=Tlp.GREEN,
        secret=False,
        scope=Scope(groups=frozenset({Group.ALL_MEMBERS})),
    )


async def seed_items(
    plan: SeedPlan, *, say: Callable[[str], None] = lambda _: None, sample: int = 5000
) -> SeedStats:
    """Write `plan.count` items in transactions of `plan.batch`; return a sample of their ids."""
    ring = KeyRing.load(plan.data_dir / "keyring.json")
    due = Settings().feedback_due_countermeasure
    db = Database(plan.database_url)
    rng = random.Random(plan.offset)  # noqa: S311 - filler text
    body = "".join(rng.choices(string.ascii_letters + " ", k=BODY_BYTES))
    template = _template(plan)
    keep = min(1.0, sample / max(1, plan.count))
    sample_ids: list[str] = []
    started = time.perf_counter()
    try:
        now = datetime.now(UTC)
        async with db.read() as conn:
            bodies = await bodies_with_handlers(conn, now)
        routing = tlp.recipients_for(template, bodies.values())
        async with db.write() as conn:
            audience_id = await ItemRepository(conn).ensure_audience(routing.recipients, now)
        result = {
            "version": 1,
            "recipients": len(routing.recipients),
            "dropped": dict(routing.dropped),
            "pending_consents": [],
        }

        refs_key = index_key(ring)
        Rows = tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]

        def rows(first: int, last: int) -> Rows:
            item_rows: list[dict[str, Any]] = []
            scope_rows: list[dict[str, Any]] = []
            # Indexed as the broker indexes what it stores: the note each item is served as.
            ref_rows: list[dict[str, Any]] = []
            for i in range(first, last):
                at = plan.newest - (plan.offset + i) * plan.step
                created = datetime.fromtimestamp(at, UTC)
                item_id = str(ULID.from_timestamp(at))
                facts = dataclasses.replace(template, id=item_id)
                title = f"Seeded countermeasure {plan.offset + i:08d}"
                content = {"title": title, "body": body, "stix": None, "victim": None}
                sealed = ItemContent(title=title, body=body, stix=None, victim=None)
                envelope = seal_content(ring, facts, sealed)
                item_rows.append(
                    {
                        "id": item_id,
                        "provider_id": plan.provider_id,
                        "submitter_user_id": plan.submitter_user_id,
                        "kind": str(facts.kind),
                        "confidence": str(facts.confidence),
                        "tlp": str(facts.tlp),
                        "secret": facts.secret,
                        "effective_tlp": str(facts.effective_tlp),
                        "effective_secret": facts.effective_secret,
                        "status": ItemStatus.ACTIVE.value,
                        "scope_version": 1,
                        "audience_id": audience_id,
                        "derived_from": [],
                        "feedback_due": created + due,
                        "created_at": created,
                        "withdrawn_at": None,
                        "nonce": envelope.nonce,
                        "ciphertext": envelope.ciphertext,
                        "wrapped_key": envelope.wrapped_key,
                        "kek_version": envelope.kek_version,
                        "idempotency_key": None,
                        "request_digest": hashlib.sha256(canonical_json(content)).hexdigest(),
                        "submit_result": {"id": item_id, **result},
                        "stix_indexed": True,
                    }
                )
                ref_rows.append({"ref": ref_of(refs_key, note_id_for(item_id)), "item_id": item_id})
                scope_rows.append(
                    scope_version_row(
                        facts, 1, VersionChange.SUBMITTED, plan.submitter_user_id, created
                    )
                )
                if rng.random() < keep:
                    sample_ids.append(item_id)
            return item_rows, scope_rows, ref_rows

        async def write(batch: Rows) -> None:
            async with db.write() as conn:
                await conn.execute(insert(items), batch[0])
                await conn.execute(insert(scope_versions), batch[1])
                await conn.execute(insert(stix_refs), batch[2])

        # Sealing the next batch (in a thread) overlaps writing this one: the
        # database work happens mostly outside the GIL.
        reported = started
        starts = list(range(0, plan.count, plan.batch))
        batch = rows(0, min(plan.count, plan.batch)) if starts else None
        for number, first in enumerate(starts):
            assert batch is not None
            upcoming = None
            if number + 1 < len(starts):
                nxt = starts[number + 1]
                upcoming = asyncio.to_thread(rows, nxt, min(plan.count, nxt + plan.batch))
            if upcoming is not None:
                _, batch = await asyncio.gather(write(batch), upcoming)
            else:
                await write(batch)
            if time.perf_counter() - reported > 15:
                reported = time.perf_counter()
                say(f"seeded {first + plan.batch:,} of {plan.count:,}")
    finally:
        await db.dispose()
    return SeedStats(
        count=plan.count,
        seconds=time.perf_counter() - started,
        recipients=len(routing.recipients),
        sample_ids=sample_ids,
    )
