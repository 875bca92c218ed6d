"""The services, built together over one `Core` (the composition root's view)."""

from __future__ import annotations

from datetime import datetime

from broker.domain import ItemKind
from broker.errors import InvalidInput
from broker.feedback import resolve_due
from broker.services.audit import AuditService
from broker.services.core import Core
from broker.services.items import ItemService
from broker.services.members import MemberService
from broker.services.submissions import SubmissionService
from broker.services.webhooks import WebhookService


class Services:
    """Every use case of the broker, sharing one database, key ring and clock."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.members = MemberService(core)
        self.submissions = SubmissionService(core)
        self.items = ItemService(core)
        self.audit = AuditService(core)
        self.webhooks = WebhookService(core)

    def due_time(self, kind: ItemKind, requested: str | None) -> datetime | None:
        """When feedback on a new item falls due: as asked, else the kind's default (SPEC §4)."""
        settings = self.core.settings
        defaults = {
            ItemKind.ANALYSIS: settings.feedback_due_analysis,
            ItemKind.COUNTERMEASURE: settings.feedback_due_countermeasure,
        }
        if requested is None and kind not in defaults:
            return None
        try:
            return resolve_due(self.core.clock(), requested, kind, defaults)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="feedback.due") from None
