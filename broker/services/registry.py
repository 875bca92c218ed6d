"""The services, built together over their shared dependencies (the composition
root's view: `broker.app` builds one `Services` per process)."""

from __future__ import annotations

from broker.crypto import KeyRing
from broker.services.audit import AuditService
from broker.services.auditor import Auditor
from broker.services.auth import Authenticator
from broker.services.clock import Clock
from broker.services.consultations import ConsultationService
from broker.services.directory import Directory
from broker.services.feedback import FeedbackService
from broker.services.items import ItemService
from broker.services.keyring import Keys
from broker.services.ledger import LedgerService, contribution_policy
from broker.services.members import MemberService
from broker.services.obligations import due_periods
from broker.services.reports import ReportService
from broker.services.resolutions import ResolutionService
from broker.services.stix_refs import StixRefs
from broker.services.submissions import SubmissionService
from broker.services.sweeper import Sweeper
from broker.services.taxii import TaxiiService
from broker.services.throttle import Throttle
from broker.services.webhooks import WebhookService, WebhookTargets
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
        self.throttle = Throttle(settings, clock, self.auditor)
        self.auth = Authenticator(
            store=store,
            directory=self.directory,
            clock=clock,
            throttle=self.throttle,
            auditor=self.auditor,
            require_certificate=settings.client_ca is not None,
        )
        self.members = MemberService(
            store=store, clock=clock, auditor=self.auditor, directory=self.directory
        )
        self.stix_refs = StixRefs(store=store, keys=keys)
        self.submissions = SubmissionService(
            store=store,
            clock=clock,
            keys=keys,
            directory=self.directory,
            auditor=self.auditor,
            due_defaults=due_periods(settings),
            stix_refs=self.stix_refs,
        )
        self.items = ItemService(
            store=store,
            clock=clock,
            keys=keys,
            auditor=self.auditor,
            due_defaults=due_periods(settings),
            stix_refs=self.stix_refs,
        )
        self.audit = AuditService(
            store=store,
            keys=keys,
            clock=clock,
            auditor=self.auditor,
            checkpoint_every=settings.checkpoint_every_events,
        )
        self.webhooks = WebhookService(
            store=store,
            keys=keys,
            clock=clock,
            auditor=self.auditor,
            targets=WebhookTargets.from_settings(
                settings.webhook_allow_hosts, settings.webhook_allow_private
            ),
        )
        self.feedback = FeedbackService(store=store, clock=clock, keys=keys, auditor=self.auditor)
        self.ledger = LedgerService(
            store=store, clock=clock, auditor=self.auditor, policy=contribution_policy(settings)
        )
        self.consultations = ConsultationService(
            store=store, clock=clock, keys=keys, auditor=self.auditor
        )
        self.resolutions = ResolutionService(
            store=store, clock=clock, keys=keys, auditor=self.auditor, directory=self.directory
        )
        self.reports = ReportService(store=store, clock=clock, keys=keys, auditor=self.auditor)
        self.taxii = TaxiiService(store=store, clock=clock, directory=self.directory)
        self.sweeper = Sweeper(
            store=store, clock=clock, auditor=self.auditor, reminder_lead=settings.reminder_lead
        )

    @property
    def ring(self) -> KeyRing:
        """The key ring in use."""
        return self.keys.ring
