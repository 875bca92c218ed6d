"""The tamper-evident, append-only audit log's pure core (SPEC §5).

- :mod:`broker.audit.chain`: events, the hash chain, signed checkpoints.
- :mod:`broker.audit.verify`: offline verification that names the first bad event.
- :mod:`broker.audit.codec`: the JSON Lines export format.

Storage lives in ``broker.store``; nothing here does IO, reads the clock or
holds a key: times are passed in and signing goes through callables.
"""

from broker.audit.chain import (
    CHECKPOINT_DOMAIN,
    GENESIS,
    OUTCOMES,
    AuditChain,
    AuditEvent,
    Checkpoint,
    JSONValue,
    Outcome,
    Signer,
    checkpoint_message,
    event_digest,
    make_checkpoint,
)
from broker.audit.codec import (
    checkpoint_from_json,
    checkpoint_to_json,
    event_from_json,
    event_to_json,
    from_json_line,
    to_json_line,
)
from broker.audit.verify import (
    Problem,
    ProblemKind,
    SignatureVerifier,
    VerifyResult,
    verify_events,
)

__all__ = [
    "CHECKPOINT_DOMAIN",
    "GENESIS",
    "OUTCOMES",
    "AuditChain",
    "AuditEvent",
    "Checkpoint",
    "JSONValue",
    "Outcome",
    "Problem",
    "ProblemKind",
    "SignatureVerifier",
    "Signer",
    "VerifyResult",
    "checkpoint_from_json",
    "checkpoint_message",
    "checkpoint_to_json",
    "event_digest",
    "event_from_json",
    "event_to_json",
    "from_json_line",
    "make_checkpoint",
    "to_json_line",
    "verify_events",
]
