"""Sample broker payloads and a routing fake broker, shared by the client tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clients.sdk import Request, Response

BASE_URL = "https://broker.test"
TOKEN = "tok_3f9a7c1e5b2d4f60a8e9"
NOW = "2024-05-01T09:30:00Z"


def member_json(**overrides: Any) -> dict[str, Any]:
    """A member as GET /v1/members/{id} returns it."""
    member = {
        "id": "m-1",
        "name": "Vendor One",
        "kind": "member",
        "category": "cyber_business",
        "tier": "tier_one",
        "status": "active",
        "regulator": False,
        "law_enforcement": False,
        "foreign": False,
        "mutual_aid": False,
        "listed": True,
        "refuses_secrets": False,
        "early_warning": True,
        "created_at": NOW,
    }
    return {**member, **overrides}


def user_json(**overrides: Any) -> dict[str, Any]:
    """A user as POST /v1/members/{id}/users returns it."""
    return {
        "id": "u-1",
        "member_id": "m-1",
        "name": "Alice",
        "role": "member_user",
        "created_at": NOW,
        "revoked_at": None,
        **overrides,
    }


def handler_json(**overrides: Any) -> dict[str, Any]:
    """A handler registration."""
    return {
        "member_id": "m-1",
        "user_id": "u-1",
        "effective_from": NOW,
        "effective_until": None,
        **overrides,
    }


def summary_json(item_id: str = "it-1", **overrides: Any) -> dict[str, Any]:
    """An inbox entry."""
    return {
        "id": item_id,
        "kind": "analysis",
        "title": f"Title of {item_id}",
        "tlp": "AMBER",
        "secret": False,
        "confidence": "unconfirmed",
        "provider_id": "m-2",
        "created_at": NOW,
        "version": 1,
        **overrides,
    }


def item_json(**overrides: Any) -> dict[str, Any]:
    """An item as GET /v1/items/{id} returns it to a recipient."""
    return {
        "id": "it-1",
        "version": 2,
        "kind": "countermeasure",
        "title": "Block outbound SMB",
        "body": "Apply the vendor patch before reboot.",
        "stix": {"type": "bundle", "id": "bundle--1", "objects": [{"type": "indicator"}]},
        "tlp": "AMBER",
        "secret": True,
        "confidence": "low",
        "scope": {
            "groups": ["tier_two"],
            "members": [],
            "exclude_members": [],
            "exclude_attributes": ["law_enforcement"],
        },
        "provider_id": "m-2",
        "status": "active",
        "created_at": NOW,
        "derived_from": ["it-0"],
        "provenance": [{"id": "it-0", "kind": "analysis", "provider_id": "m-3", "tlp": "RED"}],
        "victim": {"damage": True},
        "handling": {
            "tlp": "AMBER+STRICT",
            "may_reshare": False,
            "audience": "your organisation only",
            "notes": ["Inside your organisation only (TLP AMBER+STRICT)", "Handlers only"],
        },
        "effective": {"tlp": "AMBER+STRICT", "secret": True},
        "feedback_due": "2024-05-01T13:30:00Z",
        **overrides,
    }


def event_json(seq: int = 1, **overrides: Any) -> dict[str, Any]:
    """An audit event."""
    return {
        "seq": seq,
        "id": f"ev-{seq}",
        "at": NOW,
        "actor_user_id": "u-1",
        "actor_member_id": "m-1",
        "action": "item.read",
        "item_id": "it-1",
        "subject_member_id": None,
        "outcome": "allowed",
        "reason": None,
        "details": {},
        **overrides,
    }


def error_json(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The broker's error body."""
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


Route = Response | Callable[[Request], Response]


class FakeBroker:
    """Answers (method, path) with a canned response; anything else is the broker's 404."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}

    def on(self, method: str, path: str, answer: Route | Any, status: int = 200) -> None:
        """Answer ``method path`` with ``answer`` (a Response, a callable, or JSON data)."""
        if not isinstance(answer, Response) and not callable(answer):
            answer = Response.from_json(answer, status)
        self.routes[(method, path)] = answer

    def __call__(self, request: Request) -> Response:
        route = self.routes.get((request.method, request.path))
        if route is None:
            return Response.from_json(error_json("not_found", "not found"), 404)
        return route(request) if callable(route) else route
