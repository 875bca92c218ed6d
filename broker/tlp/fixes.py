"""What a person does about a refusal: one line of advice per error code.

Pure: a table from the codes the broker answers in (the policy's `Reason`,
`TargetRefusal`, the feedback errors' codes and the HTTP error codes of
`broker.errors`) to one sentence for the person who was refused. The error
body carries it as `fix`, next to `code` (docs/api.md, Conventions).

A fix never tells more than the refusal it accompanies: a 404 says the same
for "absent" and "not yours" (SPEC §3 rule 10), so its fix does too, and the
reasons behind a 404 are only ever shown in the audit log, never to the caller.
"""

from __future__ import annotations

from types import MappingProxyType

from broker.tlp._decision import Reason
from broker.tlp._webhook_targets import TargetRefusal

__all__ = ["FIXES", "fix_for"]

_REASONS: dict[str, str] = {
    Reason.WITHDRAWN: (
        "the provider withdrew this item; ask the provider for a new one if you still need it"
    ),
    Reason.SECRETARIAT_NO_CONTENT: (
        "the secretariat reads contents only through break-glass with a written reason "
        "(council break-glass ...)"
    ),
    Reason.INACTIVE_MEMBER: (
        "your member is not active (applicant, restricted, withdrawn or expelled): "
        "ask the coordinator to restore its status"
    ),
    Reason.OUT_OF_SCOPE: (
        "ask the provider to add your member or one of its groups to the item's scope"
    ),
    Reason.EXCLUDED_MEMBER: (
        "the provider excluded your member by name; only the provider can change that"
    ),
    Reason.EXCLUDED_ATTRIBUTE: (
        "the provider excluded an attribute your member carries (e.g. law enforcement); "
        "only the provider can change that"
    ),
    Reason.OUTSIDE_CEILING: (
        "the source's provider must consent before this derived item reaches you "
        "(council consent ...)"
    ),
    Reason.REFUSES_SECRETS: (
        "your member declared it refuses secret information; its administrator can change "
        "that (refuses_secrets=false, council members set)"
    ),
    Reason.NO_HANDLER: (
        "register a handler for your member (council handlers add ...) to receive secret items"
    ),
    Reason.NOT_HANDLER: (
        "only a registered handler reads secret and TLP:RED items: ask your member's "
        "administrator to register you (council handlers add ...)"
    ),
    Reason.ANALYSIS_STAYS_IN_TIER_ONE: (
        "raw analysis goes to the tier-one group only: scope it to tier_one, "
        "or submit a countermeasure for wider groups"
    ),
    Reason.TIER_TWO_NO_ANALYSIS: (
        "tier-two members receive countermeasures, not analysis: ask the provider "
        "for a derived countermeasure"
    ),
    Reason.CONSULTATION_STAYS_IN_TIER_ONE: (
        "a consultation reaches the coordinator and the tier-one group only; nothing to change"
    ),
    Reason.GENERAL_NEEDS_HIGH_CONFIDENCE: (
        "general members receive only high-confidence countermeasures: raise the "
        "confidence once it is confirmed, or scope to the task force"
    ),
    Reason.EARLY_WARNING_OPTED_OUT: (
        "your member opted out of early warnings; its administrator can opt back in "
        "(early_warning=true, council members set)"
    ),
    Reason.NOT_PROVIDER: "only a user of the providing member may do this: sign in with its token",
    Reason.NOT_SECRETARIAT: "break-glass is the secretariat's alone: ask the secretariat",
    Reason.RED_NOT_RESHAREABLE: (
        "TLP:RED is for its named recipients only: ask the provider to share it wider itself"
    ),
    Reason.SUBMITTER_NOT_HANDLER: (
        "register this user as a handler of your organisation "
        "(council handlers add ...) or submit with secret=false"
    ),
    Reason.KIND_NOT_ALLOWED: (
        "your member may not submit this kind of item: submit another kind "
        "(a consultation goes through council consultations)"
    ),
    Reason.CANNOT_READ_SOURCE: (
        "you can derive only from items you may open: check the ids in derived_from"
    ),
    Reason.NOT_DELIVERED: "this version did not reach your member; open the item's current version",
    Reason.NOT_ADDRESSED: "this event is addressed to another member; nothing to do",
    Reason.NOT_ADMIN: "ask an administrator of the member (a member_admin user) to do this",
    Reason.MEMBER_ADMINISTERS_ITSELF: (
        "this member has its own administrators: ask them; the coordinator may only "
        "revoke its users or handlers"
    ),
    Reason.CONTENT_MARKED_STRICTER: (
        "the STIX content carries a stricter TLP marking than the item: raise the item's "
        "tlp to match, or remove the marking"
    ),
    Reason.NOT_A_MEMBER: (
        "the coordinator and the secretariat run the council: they do not join, leave or "
        "report; act as a member's user instead"
    ),
    Reason.ALREADY_GONE: "this body has withdrawn or was expelled already: nothing to do",
    Reason.NOT_REPORTER: "only the reporter and the secretariat see a report; check its id",
    Reason.NOT_SECRETARIAT_STAFF: (
        "reports are handled by the secretariat's staff: sign in as one of its users, "
        "not a committee seat"
    ),
    Reason.REPORT_CLOSED: "a closed report stays closed: file a new report for a new concern",
    Reason.REPORT_STATUS_BACKWARDS: (
        "a report moves received, investigating, closed, never back: choose a later status"
    ),
    Reason.REASON_NOT_WRITTEN: ("write why you break the glass, in at least 10 visible characters"),
    Reason.NOT_A_MEMBER: (
        "only a member gives a notice of withdrawal; the coordinator and the secretariat stay"
    ),
    Reason.ALREADY_GONE: "this member has left the council already: nothing more to do",
    Reason.NOT_REPORTER: "only the user who filed a report and the secretariat see it",
    Reason.NOT_SECRETARIAT_STAFF: (
        "only the secretariat's staff handle violation reports (charter art. 29)"
    ),
    Reason.REPORT_CLOSED: "this report is closed; file a new report if something new happened",
    Reason.REPORT_STATUS_BACKWARDS: (
        "a report moves forward only: received, then investigating, then closed"
    ),
}

_TARGETS: dict[str, str] = {
    TargetRefusal.UNRESOLVABLE: "use a host name that resolves in public DNS, or a public address",
    TargetRefusal.LOOPBACK: (
        "webhooks cannot reach the broker's own host: use a public address, or ask the "
        "operator to allow-list it (COUNCIL_WEBHOOK_ALLOW_HOSTS)"
    ),
    TargetRefusal.LINK_LOCAL: (
        "webhooks cannot reach link-local addresses (cloud metadata): use a public address"
    ),
    TargetRefusal.PRIVATE: (
        "webhooks cannot reach private networks: use a public address, or ask the operator "
        "to allow-list it (COUNCIL_WEBHOOK_ALLOW_HOSTS, COUNCIL_WEBHOOK_ALLOW_PRIVATE)"
    ),
    TargetRefusal.NOT_PUBLIC: "use a public address (not multicast, reserved or documentation)",
}

# broker.feedback's errors (their `code`) and the answers the feedback service
# refuses with (SPEC §4: what is owed, until when it may change).
_FEEDBACK: dict[str, str] = {
    "invalid_verdict": (
        "give a verdict allowed for this obligation (council obligations shows what is owed)"
    ),
    "obligation_closed": "nothing is owed any more (the item was withdrawn or your member left)",
    "answer_locked": "the due time has passed after you answered: the answer can no longer change",
    "no_obligation": "your member owes nothing on this item: see council obligations",
    "feedback_error": "see council obligations for what your member owes, and by when",
}

# The governance use cases' precise codes (SPEC §6), given with their 409 or 404.
_GOVERNANCE: dict[str, str] = {
    "already_voted": "your seat or member has acted on this resolution already",
    "closed": "the resolution is decided: see council resolution ID for its outcome",
    "open": "wait until the resolution is decided (council resolution ID)",
    "proxy_chain": "give your proxy to a member that votes itself, not to one that gave its own",
    "subject_status": "the member's status does not allow this kind of resolution now",
    "already_open": "a resolution of this kind on this member is open already: vote on that one",
    "no_committee": "the secretariat has no committee seats yet: create them first",
    "not_foreign": "a task-force exception is only for a foreign member (charter art. 6(4))",
    "decided_by_resolution": (
        "open a steering-committee resolution instead (council resolutions; charter art. 6, 8)"
    ),
    "needs_task_force_exception": (
        "a foreign member needs a passed task_force_exception resolution before a tier "
        "(charter art. 6(4))"
    ),
    "scope_mismatch": "answer an information request with exactly the scope it names",
    "chair_taken": "the committee has a chair: revoke that seat before naming another",
}

# broker.errors: the HTTP error codes, for errors without a more precise one.
_HTTP: dict[str, str] = {
    "internal": "retry later; if it persists, tell the operator the X-Request-Id of the answer",
    "unauthorized": (
        "send a valid token (Authorization: Bearer ..., or COUNCIL_TOKEN for the council "
        "command); ask your member's administrator for a new one if it was revoked"
    ),
    "forbidden": "ask your member's administrator or the coordinator if you need this right",
    "not_found": "check the id; if it is right, the item is not shared with your member",
    "conflict": "reload the resource and retry if it still makes sense",
    "too_large": "send a smaller body (the operator sets COUNCIL_MAX_BODY_BYTES)",
    "invalid": "correct the field named (problems lists every one) and send the request again",
    "malformed_json": "send a body that is one valid JSON object (Content-Type: application/json)",
    "rate_limited": "wait the Retry-After seconds, then retry",
    "timeout": "send the whole body at once, promptly (a slow or stalled upload is cut off)",
    "unavailable": "retry after the Retry-After seconds; nothing was stored",
    "storage_full": "nothing was stored: tell the operator, who must free space; then retry",
    "integrity_error": (
        "stored data was changed outside the broker: tell the operator, who runs "
        "council-broker audit verify"
    ),
    "method_not_allowed": "use one of the methods in the Allow header",
    "http_error": "check the request against the HTTP API reference (GET /docs)",
    "timeout": "send the whole body promptly: the broker stops waiting after its body timeout",
    "unavailable": "the broker's database does not answer: wait Retry-After seconds and retry",
    "storage_full": (
        "the broker's disk is full: tell the operator, who must free space; nothing was stored"
    ),
}

FIXES: MappingProxyType[str, str] = MappingProxyType(
    _REASONS | _TARGETS | _FEEDBACK | _GOVERNANCE | _HTTP
)
"""Every error code the broker answers in, with the one line that says how to fix it."""


def fix_for(code: str) -> str | None:
    """The fix for `code` (a refusal reason, a feedback code or an HTTP error code)."""
    return FIXES.get(code)
