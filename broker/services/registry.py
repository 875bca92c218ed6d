"""The services, built together over their shared dependencies (the composition
root's view: `broker.app` builds one `Services` per process)."""

from __future__ import annotations

from broker.crypto import KeyRing
from broker.services.audit import AuditService
from broker.services.auditor import Auditor
from broker.services.clock import Clock
from broker.services.core import Core
from broker.services.directory import Directory
from broker.services.items import ItemService
from broker.services.keyring import Keys
from broker.services.members import MemberService
from broker.services.obligations import due_periods
from broker.services.submissions import SubmissionService
from broker.services.webhooks import WebhookService
from broker.settings import Settings
from broker.store.uow import Store

__all__ = ["Services"]


class Services:
    """Every use case of the broker, over one store, key ring, clock, directory and auditor."""

    def __init__(self, settings: Settings, store: Store, keys: Keys, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.keys = keys
        self.clock = clock
        self.directory = Directory(store, clock, settings.directory_ttl)
        self.auditor = Auditor(store, clock)
        self.core = core = Core(settings, store, keys, clock, self.directory, self.auditor)
        self.members = MemberService(core)
        self.submissions = SubmissionService(
            store=store,
            clock=clock,
            keys=keys,
            directory=self.directory,
            auditor=self.auditor,
            due_defaults=due_periods(settings),
        )
        self.items = ItemService(
            store=store,
            clock=clock,
            keys=keys,
            auditor=self.auditor,
            due_defaults=due_periods(settings),
        )
        self.audit = AuditService(core)
        self.webhooks = WebhookService(core)

    @property
    def ring(self) -> KeyRing:
        """The key ring in use."""
        return self.keys.ring
