"""The council broker SDK: an async client over aiohttp with typed models.

::

    from clients.sdk import CouncilClient, ItemDraft, Scope

    async with CouncilClient("https://broker.example", token) as council:
        result = await council.submit(
            ItemDraft(kind="analysis", title="...", body="...", tlp="AMBER",
                      secret=False, scope=Scope(groups=["tier_one_group"])),
            idempotency_key="submit-2024-001",
        )

Tests replace the network with :class:`CallableTransport`; every failure is a
:class:`CouncilError` (the tree is drawn in ``clients.sdk._errors``).
"""

from clients.sdk._audit import AuditVerification, public_keys, verify_audit_export
from clients.sdk._client import USER_AGENT, CouncilClient
from clients.sdk._errors import (
    Conflict,
    CouncilError,
    Forbidden,
    Invalid,
    NotFound,
    Problem,
    RateLimited,
    ServerError,
    TooLarge,
    TransportError,
    Unauthorized,
    UnexpectedResponse,
    error_from_response,
    error_with_details,
)
from clients.sdk._models import (
    AuditEvent,
    Checkpoint,
    Confidence,
    ConsentRequest,
    Consultation,
    Effective,
    FeedbackRequest,
    Handler,
    Handling,
    Item,
    ItemDraft,
    ItemKind,
    ItemSummary,
    Member,
    Obligation,
    Page,
    PendingConsent,
    Provenance,
    RosterEntry,
    Scope,
    ScopeResult,
    SubmitResult,
    TlpLevel,
    User,
    Victim,
    Webhook,
)
from clients.sdk._stream import StreamClosed, StreamEvent
from clients.sdk._transport import (
    AiohttpTransport,
    CallableTransport,
    Request,
    RequestHandler,
    Response,
    StreamingTransport,
    StreamResponse,
    Transport,
)

__all__ = [
    "USER_AGENT",
    "AiohttpTransport",
    "AuditEvent",
    "AuditVerification",
    "CallableTransport",
    "Checkpoint",
    "Confidence",
    "Conflict",
    "ConsentRequest",
    "Consultation",
    "CouncilClient",
    "CouncilError",
    "Effective",
    "FeedbackRequest",
    "Forbidden",
    "Handler",
    "Handling",
    "Invalid",
    "Item",
    "ItemDraft",
    "ItemKind",
    "ItemSummary",
    "Member",
    "NotFound",
    "Obligation",
    "Page",
    "PendingConsent",
    "Problem",
    "Provenance",
    "RateLimited",
    "Request",
    "RequestHandler",
    "Response",
    "RosterEntry",
    "Scope",
    "ScopeResult",
    "ServerError",
    "StreamClosed",
    "StreamEvent",
    "StreamResponse",
    "StreamingTransport",
    "SubmitResult",
    "TlpLevel",
    "TooLarge",
    "Transport",
    "TransportError",
    "Unauthorized",
    "UnexpectedResponse",
    "User",
    "Victim",
    "Webhook",
    "error_from_response",
    "error_with_details",
    "public_keys",
    "verify_audit_export",
]
