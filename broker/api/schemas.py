"""JSON Schemas of every 2xx body the broker answers, as the views (`broker.api.views`) build them.

One schema per operation, keyed by `(method, path)`; `broker.api.openapi` puts
them in the OpenAPI document, and a test checks every operation has one and
that real answers validate against it (so a view and its schema cannot drift).
Fields are required when the view always writes them; a value the caller may
not be shown is `null`, never absent (docs/api.md: masked, not hidden).
"""

from __future__ import annotations

from typing import Any

from broker.domain import Category, Confidence, ItemKind, Tier, Tlp
from broker.domain.items import VersionChange
from broker.domain.model import MemberStatus, Role
from broker.domain.obligations import AnswerChange
from broker.feedback import ObligationKind, ObligationStatus

__all__ = ["RESPONSE_SCHEMAS", "Schema"]

Schema = dict[str, Any]

_STR: Schema = {"type": "string"}
_ID: Schema = {"type": "string", "minLength": 1}
_TIME: Schema = {"type": "string", "format": "date-time"}
_TIME_OR_NULL: Schema = {"type": ["string", "null"], "format": "date-time"}
_STR_OR_NULL: Schema = {"type": ["string", "null"]}
_BOOL: Schema = {"type": "boolean"}
_INT: Schema = {"type": "integer", "minimum": 0}


def _enum(values: Any, *, nullable: bool = False) -> Schema:
    allowed: list[Any] = [str(v) for v in values]
    return {"enum": [*allowed, None] if nullable else allowed}


def _object(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    """An object with these fields (`required` always present)."""
    return {
        "type": "object",
        "required": sorted(required),
        "properties": {**required, **(optional or {})},
    }


def _page(item: Schema) -> Schema:
    """docs/api.md "Conventions": `{"items": [...], "next_cursor": ...}`."""
    return _object({"items": {"type": "array", "items": item}, "next_cursor": _STR_OR_NULL})


_TLP = _enum(Tlp)
_SCOPE = _object(
    {
        name: {"type": "array", "items": _STR}
        for name in ("groups", "members", "exclude_members", "exclude_attributes")
    }
)
_PENDING = _object({"source_item_id": _ID, "provider_id": _ID})
_DROPPED: Schema = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
_FLAGS = (
    "regulator",
    "law_enforcement",
    "foreign",
    "mutual_aid",
    "listed",
    "refuses_secrets",
    "early_warning",
)

MEMBER = _object(
    {
        "id": _ID,
        "name": _STR,
        "kind": _STR,
        "category": _enum(Category),
        "tier": _enum(Tier),
        "status": _enum(MemberStatus),
        "created_at": _TIME,
        **dict.fromkeys(_FLAGS, _BOOL),
    }
)
USER = _object(
    {
        "id": _ID,
        "member_id": _ID,
        "name": _STR,
        "role": _enum(Role),
        "created_at": _TIME,
        "revoked_at": _TIME_OR_NULL,
        "expires_at": _TIME_OR_NULL,
        "last_used_at": _TIME_OR_NULL,
    }
)
HANDLER = _object(
    {
        "member_id": _ID,
        "user_id": _ID,
        "effective_from": _TIME,
        "effective_until": _TIME_OR_NULL,
    }
)
ROSTER_ENTRY = _object({"id": _ID, "name": _STR, "category": _enum(Category)})

SUBMITTED = _object(
    {
        "id": _ID,
        "version": {"type": "integer", "minimum": 1},
        "recipients": _INT,
        "dropped": _DROPPED,
        "pending_consents": {"type": "array", "items": _PENDING},
    }
)
SCOPE_VERSION = _object(
    {
        "id": _ID,
        "version": {"type": "integer", "minimum": 1},
        "change": _enum(VersionChange),
        "recipients": _INT,
        "dropped": _DROPPED,
        "pending_consents": {"type": "array", "items": _PENDING},
    }
)
_PROVENANCE: Schema = {
    "oneOf": [
        _object({"id": _ID, "visible": {"const": False}}),
        _object(
            {
                "id": _ID,
                "visible": {"const": True},
                "kind": _enum(ItemKind),
                "provider_id": _ID,
                "tlp": _TLP,
            }
        ),
    ]
}
ITEM = _object(
    {
        "id": _ID,
        "version": {"type": "integer", "minimum": 1},
        "kind": _enum(ItemKind),
        "confidence": _enum(Confidence),
        "tlp": _TLP,
        "secret": _BOOL,
        "effective": _object({"tlp": _TLP, "secret": _BOOL}),
        "provider_id": _ID,
        "status": _STR,
        "created_at": _TIME,
        "withdrawn_at": _TIME_OR_NULL,
        "feedback_due": _TIME_OR_NULL,
        "derived_from": {"type": "array", "items": _ID},
        "scope": {"oneOf": [_SCOPE, {"type": "null"}]},
        "provenance": {"type": "array", "items": _PROVENANCE},
        "title": _STR_OR_NULL,
        "body": _STR_OR_NULL,
        "stix": {"type": ["object", "null"]},
        "victim": {"type": ["object", "null"]},
        "handling": {
            "oneOf": [
                {"type": "null"},
                _object(
                    {
                        "tlp": _STR,
                        "may_reshare": _BOOL,
                        "audience": _STR,
                        "notes": {"type": "array", "items": _STR},
                    }
                ),
            ]
        },
    }
)
INBOX_ENTRY = _object(
    {
        "id": _ID,
        "kind": _enum(ItemKind),
        "title": _STR_OR_NULL,
        "tlp": _TLP,
        "secret": _BOOL,
        "confidence": _enum(Confidence),
        "provider_id": _ID,
        "created_at": _TIME,
        "version": {"type": "integer", "minimum": 1},
    }
)
CONSENT_REQUEST = _object(
    {
        "derived_item_id": _ID,
        "requested_by": _ID,
        "requested_at": _TIME,
        "source_item_ids": {"type": "array", "items": _ID},
        "requested": _object(
            {"kind": _enum(ItemKind), "tlp": _TLP, "secret": _BOOL, "scope": _SCOPE}
        ),
    }
)
WITHDRAWAL = _object({"id": _ID, "status": {"const": "withdrawn"}, "withdrawn_at": _TIME})

AUDIT_EVENT = _object(
    {
        "type": {"const": "event"},
        "seq": _INT,
        "id": _ID,
        "at": _TIME,
        "actor_user_id": _STR_OR_NULL,
        "actor_member_id": _STR_OR_NULL,
        "action": _STR,
        "item_id": _STR_OR_NULL,
        "subject_member_id": _STR_OR_NULL,
        "outcome": _enum(["allowed", "denied"]),
        "reason": _STR_OR_NULL,
        "details": {"type": ["object", "null"]},
        "prev_hash": _STR,
        "hash": _STR,
    }
)
CHECKPOINT = _object(
    {"size": _INT, "head": _STR, "signature": _STR, "key_id": _STR, "at": _TIME},
    {"type": {"const": "checkpoint"}},
)
KEYS = _object(
    {
        "type": {"const": "keys"},
        "algorithm": {"const": "Ed25519"},
        "current": _STR,
        "keys": {"type": "array", "items": _object({"key_id": _STR, "public_key": _STR})},
    }
)

_ANSWER_FIELDS: dict[str, Schema] = {
    "obligation_id": _ID,
    "item_id": _ID,
    "kind": _enum(ObligationKind),
    "status": _enum(ObligationStatus),
    "due_at": _TIME,
    "overdue": _BOOL,
    "verdict": _STR_OR_NULL,
    "comment": _STR_OR_NULL,
    "answered_at": _TIME_OR_NULL,
    "late": _BOOL,
    "changes": _INT,
}
ANSWER = _object(_ANSWER_FIELDS, {"change": _enum(AnswerChange)})
OWED = _object(
    {k: v for k, v in _ANSWER_FIELDS.items() if k != "comment"}
    | {
        "id": _ID,
        "due": _TIME,
        "title": _STR_OR_NULL,
        "reminded_at": _TIME_OR_NULL,
        "overdue_marked_at": _TIME_OR_NULL,
    }
)
_COUNTS: Schema = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
_BY_CATEGORY: Schema = {"type": "object", "additionalProperties": _COUNTS}
FEEDBACK = _object(
    {
        "item_id": _ID,
        "view": _STR,
        "item": _object(
            {
                "kind": _enum(ItemKind),
                "confidence": _enum(Confidence),
                "status": _STR,
                "feedback_due": _TIME_OR_NULL,
            }
        ),
        "summary": {
            "oneOf": [
                {"type": "null"},
                _object(
                    {
                        "quick_answers": _COUNTS,
                        "quick_answers_by_category": _BY_CATEGORY,
                        "expert_feedback": _COUNTS,
                        "expert_feedback_by_category": _BY_CATEGORY,
                    }
                ),
            ]
        },
        "answers": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "array",
                    "items": _object(
                        _ANSWER_FIELDS
                        | {
                            "member_id": _ID,
                            "member_name": _STR,
                            "category": _enum(Category),
                            "tier": _enum(Tier),
                        }
                    ),
                },
            ]
        },
        "own": {"oneOf": [{"type": "null"}, _object(_ANSWER_FIELDS)]},
    }
)
LEDGER = _object(
    {
        "period": _object({"name": _STR, "start": _TIME, "end": _TIME}),
        "policy": _object(
            {"min_original_submissions_tier_one": _INT, "min_on_time_ratio": {"type": "number"}}
        ),
        "items": {
            "type": "array",
            "items": _object(
                {
                    "member_id": _ID,
                    "name": _STR,
                    "kind": _STR,
                    "tier": _enum(Tier),
                    "category": _enum(Category),
                    "status": _enum(MemberStatus),
                    "original_submissions": _INT,
                    "feedback_given": _INT,
                    "answers_on_time": _INT,
                    "answers_late": _INT,
                    "answers_missing": _INT,
                    "obligations_total": _INT,
                    "score": {"type": "number"},
                    "flagged": _BOOL,
                    "reasons": {"type": "array", "items": _STR},
                }
            ),
        },
        "next_cursor": {"type": "null"},
    }
)

_PARTY: Schema = {"oneOf": [{"type": "null"}, _object({"member_id": _ID, "name": _STR})]}
MESSAGE = _object(
    {
        "id": _ID,
        "body": _STR_OR_NULL,
        "created_at": _TIME,
        "from_consulter": _BOOL,
        "author": _PARTY,
    }
)
_CONSULTATION_LISTED: dict[str, Schema] = {
    "id": _ID,
    "title": _STR_OR_NULL,
    "created_at": _TIME,
    "last_message_at": _TIME,
    "messages": _INT,
    "reveal_identity": _BOOL,
    "revealed_at": _TIME_OR_NULL,
    "role": _STR,
    "mine": _BOOL,
    "consulter": _PARTY,
}
CONSULTATION = _object(
    _CONSULTATION_LISTED | {"body": _STR_OR_NULL, "replies": {"type": "array", "items": MESSAGE}}
)

WEBHOOK_REGISTERED = _object(
    {"id": _ID, "member_id": _ID, "url": _STR, "secret": _STR, "created_at": _TIME}
)
WEBHOOK = _object(
    {
        "id": _ID,
        "member_id": _ID,
        "url": _STR,
        "active": _BOOL,
        "cursor": _STR,
        "failing_attempts": _INT,
        "next_attempt_at": _TIME_OR_NULL,
        "last_error": _STR_OR_NULL,
        "dead_letters": {
            "type": "array",
            "items": _object(
                {"event_id": _STR, "attempts": _INT, "last_error": _STR_OR_NULL, "at": _TIME}
            ),
        },
        "created_at": _TIME,
    }
)
_STATUS = _object({"status": _STR})

# Governance (SPEC §6)
_COUNT = {"type": "integer", "minimum": 0}
_TALLY = {
    "type": "object",
    "required": ["yes", "no", "abstain", "recused", "seats", "entitled"],
    "properties": {
        name: _COUNT
        for name in (
            "yes",
            "no",
            "abstain",
            "recused",
            "seats",
            "entitled",
            "present",
            "proxies",
            "objections",
        )
    },
}
_RESOLUTION = {
    "type": "object",
    "required": [
        "id",
        "kind",
        "body",
        "title",
        "subject_member_id",
        "status",
        "tally",
        "decided_at",
        "effective_at",
    ],
    "properties": {
        "id": _ID,
        "kind": {
            "enum": [
                "admission",
                "restriction",
                "lift_restriction",
                "expulsion",
                "task_force_exception",
                "information_request",
                "amendment",
                "assembly_matter",
            ]
        },
        "body": {"enum": ["committee", "assembly"]},
        "title": {"type": "string"},
        "text": {"type": ["string", "null"]},
        "subject_member_id": {"type": ["string", "null"]},
        "status": {"enum": ["open", "passed", "failed", "no_quorum", "refused"]},
        "tally": _TALLY,
        "decided_at": {"type": ["string", "null"]},
        "effective_at": {"type": ["string", "null"]},
        "published_at": {"type": ["string", "null"]},
        "closes_at": {"type": ["string", "null"]},
        "votes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["user_id", "vote"],
                "properties": {
                    "user_id": _ID,
                    "voter_id": _ID,
                    "vote": {"enum": ["yes", "no", "abstain"]},
                },
            },
        },
        "recusals": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["user_id"],
                "properties": {"user_id": _ID, "reason": {"type": "string"}},
            },
        },
    },
}
_INFORMATION_REQUEST = {
    "type": "object",
    "required": ["id", "title", "purpose", "scope", "member_id", "status", "requested_at"],
    "properties": {
        "id": _ID,
        "title": {"type": "string"},
        "purpose": {"type": "string"},
        "scope": {"type": "object"},
        "member_id": _ID,
        "status": {"enum": ["open", "answered"]},
        "requested_at": _ID,
        "answered_at": {"type": ["string", "null"]},
        "answer_item_ids": {"type": "array", "items": {"type": "string"}},
    },
}


REPORT = _object(
    {
        "id": _ID,
        "kind": _STR,
        "status": _STR,
        "text": _STR,
        "item_id": _STR_OR_NULL,
        "member_id": _STR_OR_NULL,
        "note": _STR_OR_NULL,
        "reporter": _object({"member_id": _ID, "user_id": _ID}),
        "created_at": _TIME,
        "updated_at": _TIME,
    }
)
ME = _object(
    {
        "user_id": _ID,
        "name": _STR,
        "role": _enum(Role),
        "member_id": _ID,
        "member_kind": _STR,
        "tier": _enum(Tier),
        "is_handler": _BOOL,
    }
)

RESPONSE_SCHEMAS: dict[tuple[str, str], Schema] = {
    # Operations
    ("get", "/healthz"): _STATUS,
    ("get", "/readyz"): _STATUS,
    ("get", "/openapi.json"): _object(
        {"openapi": _STR, "info": {"type": "object"}, "paths": {"type": "object"}}
    ),
    # Members
    ("post", "/v1/members"): MEMBER,
    ("get", "/v1/members"): _page(MEMBER),
    ("get", "/v1/members/{id}"): MEMBER,
    ("patch", "/v1/members/{id}"): MEMBER,
    ("post", "/v1/members/{id}/users"): _object({"user": USER, "token": _STR}),
    ("get", "/v1/members/{id}/users"): _page(USER),
    ("post", "/v1/members/{id}/users/{user_id}/revoke"): USER,
    ("post", "/v1/members/{id}/users/{user_id}/token"): _object({"user": USER, "token": _STR}),
    ("post", "/v1/members/{id}/handlers"): HANDLER,
    ("get", "/v1/members/{id}/handlers"): _page(HANDLER),
    ("delete", "/v1/members/{id}/handlers/{user_id}"): HANDLER,
    ("get", "/v1/roster"): _page(ROSTER_ENTRY),
    # Items
    ("post", "/v1/items"): SUBMITTED,
    ("get", "/v1/items/{id}"): ITEM,
    ("get", "/v1/inbox"): _page(INBOX_ENTRY),
    ("post", "/v1/items/{id}/scope"): SCOPE_VERSION,
    ("post", "/v1/items/{id}/consents"): SCOPE_VERSION,
    ("get", "/v1/consents"): _page(CONSENT_REQUEST),
    ("post", "/v1/items/{id}/withdraw"): WITHDRAWAL,
    ("get", "/v1/items/{id}/access-log"): _page(AUDIT_EVENT),
    ("post", "/v1/items/{id}/break-glass"): ITEM,
    # Audit
    ("get", "/v1/audit"): _page(AUDIT_EVENT),
    ("get", "/v1/audit/checkpoints/latest"): CHECKPOINT,
    ("get", "/v1/audit/keys"): KEYS,
    # Task force
    ("get", "/v1/obligations"): _page(OWED),
    ("post", "/v1/items/{id}/feedback"): ANSWER,
    ("get", "/v1/items/{id}/feedback"): FEEDBACK,
    ("get", "/v1/ledger"): LEDGER,
    ("post", "/v1/consultations"): CONSULTATION,
    ("get", "/v1/consultations"): _page(_object(_CONSULTATION_LISTED)),
    ("get", "/v1/consultations/{id}"): CONSULTATION,
    ("post", "/v1/consultations/{id}/replies"): MESSAGE,
    ("post", "/v1/consultations/{id}/reveal"): CONSULTATION,
    # Delivery
    ("post", "/v1/members/{id}/webhooks"): WEBHOOK_REGISTERED,
    ("get", "/v1/members/{id}/webhooks"): _page(WEBHOOK),
    ("delete", "/v1/members/{id}/webhooks/{webhook_id}"): _object(
        {"id": _ID, "active": {"const": False}}
    ),
    # Governance
    ("post", "/v1/resolutions"): _RESOLUTION,
    ("get", "/v1/resolutions"): _page(_RESOLUTION),
    ("get", "/v1/resolutions/{id}"): _RESOLUTION,
    ("post", "/v1/resolutions/{id}/votes"): _RESOLUTION,
    ("post", "/v1/resolutions/{id}/recusal"): _RESOLUTION,
    ("post", "/v1/resolutions/{id}/refusal"): _RESOLUTION,
    ("post", "/v1/resolutions/{id}/close"): _RESOLUTION,
    ("post", "/v1/resolutions/{id}/publish"): _RESOLUTION,
    ("get", "/v1/information-requests"): _page(_INFORMATION_REQUEST),
    ("post", "/v1/members/{id}/withdrawal"): MEMBER,
    ("get", "/v1/me"): ME,
    ("post", "/v1/reports"): REPORT,
    ("get", "/v1/reports"): _page(REPORT),
    ("get", "/v1/reports/{id}"): REPORT,
    ("patch", "/v1/reports/{id}"): REPORT,
    # MISP (docs/misp.md): MISP's own feed format, keyed by event uuid
    ("get", "/misp/feed/manifest.json"): {
        "type": "object",
        "additionalProperties": _object(
            {"info": _STR, "date": _STR, "timestamp": _INT, "Orgc": {"type": "object"}},
            {"Tag": {"type": "array"}, "analysis": _INT, "threat_level_id": _INT},
        ),
    },
    ("get", "/misp/feed/{uuid}.json"): _object({"Event": {"type": "object"}}),
    ("post", "/misp/proposals"): _object(
        {
            "title": _STR,
            "tlp": _STR_OR_NULL,
            "kind": _STR_OR_NULL,
            "confidence": _STR_OR_NULL,
            "scope": {"type": "object"},
            "stix_objects": _INT,
        }
    ),
    ("post", "/misp/sightings"): _object(
        {
            "answers": {
                "type": "array",
                "items": _object({"item_id": _ID, "answer": _STR, "change": _STR}),
            },
            "unmatched": {"type": "array", "items": _STR},
        }
    ),
}
"""The 2xx JSON body of every operation that answers one (streams and text bodies aside)."""
