"""Resolutions and information requests as docs/api.md shows them (SPEC §6).

How much of a resolution a caller sees is the policy's answer
(`broker.governance.resolution_view`); this module only renders it: the
council offices see votes and recusals, the published record names recused
seats, the member a resolution is about sees the outcome, and nobody but the
offices ever sees how a seat voted (art. 27).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from broker.domain.resolutions import InformationRequest, Resolution, ResolutionBody, Tally
from broker.domain.timestamps import rfc3339, rfc3339_or_none
from broker.governance import View
from broker.services.resolutions import ResolutionPage, Shown

__all__ = [
    "information_request_view",
    "information_requests_view",
    "resolution_page_view",
    "resolution_view",
    "tally_view",
]


def tally_view(tally: Tally, body: ResolutionBody) -> dict[str, int]:
    """The count: committee seats, or (assembly) members present, proxies, objections."""
    view = {
        "yes": tally.yes,
        "no": tally.no,
        "abstain": tally.abstain,
        "recused": tally.recused,
        "seats": tally.seats,
        "entitled": tally.entitled,
    }
    if body is ResolutionBody.ASSEMBLY:
        view |= {
            "present": tally.present,
            "proxies": tally.proxies,
            "objections": tally.objections,
        }
    return view


def resolution_view(shown: Shown) -> dict[str, Any]:
    """One resolution, cut to what its viewer may see."""
    r: Resolution = shown.resolution
    view: dict[str, Any] = {
        "id": r.id,
        "kind": r.kind.value,
        "body": r.body.value,
        "title": r.title,
        "subject_member_id": r.subject_member_id,
        "status": r.status.value,
        "tally": tally_view(r.tally, r.body),
        "decided_at": rfc3339_or_none(r.decided_at),
        "effective_at": rfc3339_or_none(r.effective_at),
        "published_at": rfc3339_or_none(r.published_at),
    }
    if shown.view in (View.FULL, View.VOTER):
        # The matter itself: for those who decide it, and the offices. Reasons for
        # refusing an admission may stay undisclosed to the applicant (art. 6(3)).
        view |= {
            "text": r.text,
            "created_at": rfc3339(r.created_at),
            "closes_at": rfc3339_or_none(r.closes_at),
        }
    if shown.view is View.FULL:
        view |= {
            "created_by": r.created_by,
            "seats": list(r.seats),
            "purpose": r.purpose,
            "scope": r.scope.to_json() if r.scope is not None else None,
            "target_member_ids": list(r.target_member_ids),
            "refusal_reason": r.refusal_reason,
            "votes": [
                {"user_id": b.user_id, "voter_id": b.voter_id, "vote": b.vote.value, "seat": b.seat}
                for b in r.ballots
                if b.vote is not None
            ],
            "proxies": [
                {"member_id": b.voter_id, "proxy_to": b.proxy_to}
                for b in r.ballots
                if b.proxy_to is not None
            ],
        }
    if shown.view in (View.FULL, View.PUBLISHED):
        # The record names recused seats (seed practice: the interested member left
        # the deliberation); the offices also see the declared reason.
        view["recusals"] = [
            {"user_id": b.user_id, **({"reason": b.reason} if shown.view is View.FULL else {})}
            for b in r.ballots
            if b.recused
        ]
    return view


def resolution_page_view(page: ResolutionPage) -> dict[str, Any]:
    """A page of resolutions (docs/api.md pagination)."""
    return {
        "items": [resolution_view(shown) for shown in page.items],
        "next_cursor": page.next_cursor,
    }


def information_request_view(request: InformationRequest) -> dict[str, Any]:
    """A passed art. 23 request as its target sees it: purpose, the answers' scope."""
    return {
        "id": request.id,
        "information_request_id": request.id,
        "title": request.title,
        "purpose": request.purpose,
        "scope": request.scope.to_json(),
        "member_id": request.member_id,
        "requested_at": rfc3339(request.requested_at),
        "status": "answered" if request.answered_at is not None else "open",
        "answered_at": rfc3339_or_none(request.answered_at),
        "answer_item_ids": list(request.answer_item_ids),
    }


def information_requests_view(requests: Iterable[InformationRequest]) -> dict[str, Any]:
    """The caller's information requests, as one page."""
    return {"items": [information_request_view(r) for r in requests], "next_cursor": None}
