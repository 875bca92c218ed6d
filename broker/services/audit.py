"""Querying, exporting and checkpointing the audit log (SPEC §5).

Only the secretariat and the coordinator query the whole log; providers see
their own items' access logs through `ItemService.access_log`. Every query
and export is itself audited.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import structlog

from broker.audit import Checkpoint, checkpoint_to_json, event_to_json, make_checkpoint
from broker.errors import Forbidden
from broker.services.core import Actor, Core, RingSigner, rfc3339
from broker.store.audit_repo import (
    all_checkpoints,
    chain_head,
    event_from_row,
    insert_checkpoint,
    latest_checkpoint,
    query_events,
    stream_events,
)

log = structlog.get_logger("broker.audit")


async def page_of_events(
    core: Core, *, limit: int, after_seq: int | None, **filters: str | None
) -> dict[str, Any]:
    """A page of audit events matching `filters`, with a seq cursor."""
    async with core.db.read() as conn:
        rows = (
            await conn.execute(query_events(limit=limit + 1, after_seq=after_seq, **filters))
        ).all()
    events = [event_to_json(event_from_row(r)) for r in rows[:limit]]
    more = len(rows) > limit
    return {"items": events, "next_cursor": str(events[-1]["seq"]) if more else None}


class AuditService:
    """The audit log as the secretariat and coordinator use it."""

    def __init__(self, core: Core) -> None:
        self.core = core

    async def _require_auditor(self, actor: Actor, action: str) -> None:
        if not (actor.is_secretariat or actor.is_coordinator):
            raise await self.core.deny(
                Forbidden("only the secretariat and the coordinator read the audit log"),
                self.core.draft(actor, action, "denied", reason="not_auditor"),
            )

    async def query(
        self, actor: Actor, *, limit: int, after_seq: int | None, filters: dict[str, str | None]
    ) -> dict[str, Any]:
        """A filtered page of the log (API.md `GET /v1/audit`)."""
        await self._require_auditor(actor, "audit.query")
        page = await page_of_events(self.core, limit=limit, after_seq=after_seq, **filters)
        await self.core.audit(
            self.core.draft(
                actor, "audit.query", details={k: v for k, v in filters.items() if v is not None}
            )
        )
        return page

    async def export(self, actor: Actor) -> AsyncIterator[bytes]:
        """The whole log as JSON Lines, events then checkpoints, streamed."""
        await self._require_auditor(actor, "audit.export")
        await self.core.audit(self.core.draft(actor, "audit.export"))
        return self._export_lines()

    async def _export_lines(self) -> AsyncIterator[bytes]:
        async with self.core.db.read() as conn:
            # Checkpoints first, read before the events: every one then covers
            # only events this export contains, and a verifier reading the
            # stream once knows what to check as it goes.
            for checkpoint in await all_checkpoints(conn):
                yield _line(checkpoint_to_json(checkpoint))
            async for event in stream_events(conn):
                yield _line(event_to_json(event))

    async def latest_checkpoint(self, actor: Actor) -> dict[str, Any] | None:
        """The newest signed checkpoint (API.md `GET /v1/audit/checkpoints/latest`)."""
        await self._require_auditor(actor, "audit.checkpoint")
        async with self.core.db.read() as conn:
            checkpoint = await latest_checkpoint(conn)
        return _checkpoint_view(checkpoint) if checkpoint else None

    async def checkpoint(self, *, force: bool = False) -> Checkpoint | None:
        """Sign the current head if the log grew enough since the last checkpoint."""
        core = self.core
        async with core.db.write() as conn:
            size, head = await chain_head(conn)
            last = await latest_checkpoint(conn)
            last_size = last.size if last else 0
            if size == last_size or (
                not force and size - last_size < core.settings.checkpoint_every_events
            ):
                return None
            checkpoint = make_checkpoint(size, head, rfc3339(core.clock()), RingSigner(core.ring))
            await insert_checkpoint(conn, checkpoint)
        log.info("audit_checkpoint", size=checkpoint.size)
        return checkpoint


def _checkpoint_view(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "size": checkpoint.size,
        "head": checkpoint.head,
        "signature": checkpoint.signature,
        "key_id": checkpoint.key_id,
        "at": checkpoint.at,
    }


def _line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False).encode() + b"\n"
