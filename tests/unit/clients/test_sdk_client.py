"""CouncilClient against a fake broker: paths, headers, bodies, models, errors, pagination."""

from __future__ import annotations

from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from client_fakes import (
    BASE_URL,
    TOKEN,
    FakeBroker,
    error_json,
    event_json,
    handler_json,
    item_json,
    member_json,
    summary_json,
    user_json,
)
from pydantic import ValidationError

from clients.sdk import (
    USER_AGENT,
    AiohttpTransport,
    CallableTransport,
    Conflict,
    CouncilClient,
    Forbidden,
    Invalid,
    ItemDraft,
    NotFound,
    Request,
    Response,
    Scope,
    Unauthorized,
    UnexpectedResponse,
)


def _draft(**overrides: Any) -> ItemDraft:
    fields: dict[str, Any] = {
        "kind": "analysis",
        "title": "Loader drops a signed DLL",
        "body": "Seen on two customers.",
        "tlp": "AMBER",
        "secret": True,
        "confidence": "unconfirmed",
        "scope": Scope(groups=["tier_one_group"], exclude_attributes=["law_enforcement"]),
    }
    return ItemDraft(**{**fields, **overrides})


# -- headers and plumbing --------------------------------------------------------------


async def test_every_call_sends_the_bearer_token_and_user_agent(
    client: CouncilClient, fake_broker: FakeBroker, transport: CallableTransport
) -> None:
    """Each request carries Authorization: Bearer <token>, JSON Accept and the SDK's User-Agent."""
    fake_broker.on("GET", "/v1/items/it-1", item_json())
    await client.get_item("it-1")
    request = transport.requests[0]
    assert request.url == f"{BASE_URL}/v1/items/it-1"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"] == USER_AGENT


async def test_no_token_means_no_authorization_header(fake_broker: FakeBroker) -> None:
    """A client without a token calls the public endpoints anonymously."""
    transport = CallableTransport(fake_broker)
    fake_broker.on("GET", "/healthz", {"status": "ok"})
    fake_broker.on("GET", "/v1/roster", {"items": [{"id": "m-1", "name": "Vendor One"}]})
    anonymous = CouncilClient(BASE_URL, None, transport=transport)
    assert await anonymous.health() == {"status": "ok"}
    roster = await anonymous.roster()
    assert [entry.name for entry in roster.items] == ["Vendor One"]
    assert all("Authorization" not in request.headers for request in transport.requests)


async def test_base_url_trailing_slash_is_ignored(fake_broker: FakeBroker) -> None:
    """A base URL ending in '/' does not produce '//' in paths."""
    transport = CallableTransport(fake_broker)
    fake_broker.on("GET", "/healthz", {"status": "ok"})
    await CouncilClient(BASE_URL + "/", TOKEN, transport=transport).health()
    assert transport.requests[0].url == f"{BASE_URL}/healthz"


def test_base_url_must_be_http() -> None:
    """A base URL that is not http(s) is refused at construction."""
    with pytest.raises(ValueError, match="http"):
        CouncilClient("broker.test", TOKEN)


def test_repr_never_shows_the_token() -> None:
    """repr(client) masks the token."""
    assert TOKEN not in repr(
        CouncilClient(BASE_URL, TOKEN, transport=CallableTransport(lambda request: Response(200)))
    )


async def test_ids_are_encoded_as_one_path_segment(
    client: CouncilClient, fake_broker: FakeBroker, transport: CallableTransport
) -> None:
    """An id with '/' or '?' is percent-encoded so it cannot reach another endpoint."""
    fake_broker.on("GET", "/v1/items/a%2F..%2Fb%3Fc/feedback", {"counts": {}})
    assert await client.feedback("a/../b?c") == {"counts": {}}
    assert transport.requests[0].path == "/v1/items/a%2F..%2Fb%3Fc/feedback"


async def test_empty_id_is_refused_before_sending(
    client: CouncilClient, transport: CallableTransport
) -> None:
    """An empty id raises ValueError instead of hitting the collection endpoint."""
    with pytest.raises(ValueError, match="non-empty"):
        await client.get_item("")
    assert transport.requests == []


async def test_context_manager_closes_only_its_own_transport() -> None:
    """Leaving `async with` closes a transport the client created, never an injected one."""
    injected = AiohttpTransport()
    closed: list[bool] = []

    async def record_close() -> None:
        closed.append(True)

    injected.aclose = record_close  # type: ignore[method-assign]
    async with CouncilClient(BASE_URL, TOKEN, transport=injected):
        pass
    assert closed == []

    async with CouncilClient(BASE_URL, TOKEN) as own:
        default = own._transport
        assert isinstance(default, AiohttpTransport)
        default.aclose = record_close  # type: ignore[method-assign]
    assert closed == [True]


# -- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"), [(401, Unauthorized), (403, Forbidden), (404, NotFound), (409, Conflict)]
)
async def test_non_2xx_raises_the_mapped_error(
    client: CouncilClient, fake_broker: FakeBroker, status: int, cls: type[Exception]
) -> None:
    """A non-2xx answer raises the subclass for its status with the broker's message."""
    fake_broker.on("POST", "/v1/items/it-1/withdraw", error_json("nope", "refused here"), status)
    with pytest.raises(cls, match="refused here"):
        await client.withdraw("it-1")


async def test_invalid_carries_the_field(client: CouncilClient, fake_broker: FakeBroker) -> None:
    """A 422 exposes the offending field path."""
    fake_broker.on("POST", "/v1/items", error_json("required", "secret is required", "secret"), 422)
    with pytest.raises(Invalid) as caught:
        await client.submit({"kind": "analysis", "title": "t", "tlp": "AMBER"})
    assert caught.value.field == "secret"
    assert caught.value.code == "required"


async def test_an_answer_that_is_not_json_is_unexpected(
    client: CouncilClient, fake_broker: FakeBroker
) -> None:
    """A 2xx answer that is not JSON raises UnexpectedResponse."""
    fake_broker.on("GET", "/v1/items/it-1", Response(200, body=b"<html>"))
    with pytest.raises(UnexpectedResponse, match="not JSON"):
        await client.get_item("it-1")


async def test_an_answer_of_the_wrong_shape_is_unexpected(
    client: CouncilClient, fake_broker: FakeBroker
) -> None:
    """A 2xx answer missing required fields raises UnexpectedResponse, not a pydantic error."""
    fake_broker.on("GET", "/v1/items/it-1", {"id": "it-1", "title": "secret words", "version": "x"})
    with pytest.raises(UnexpectedResponse, match="does not match Item: version: ") as caught:
        await client.get_item("it-1")
    assert "secret words" not in str(caught.value)


async def test_an_answer_that_is_not_an_object_is_unexpected(
    client: CouncilClient, fake_broker: FakeBroker
) -> None:
    """Endpoints that return objects refuse a JSON list."""
    fake_broker.on("GET", "/v1/ledger", [1, 2])
    with pytest.raises(UnexpectedResponse, match="not a JSON object"):
        await client.ledger()


# -- models ----------------------------------------------------------------------------


async def test_new_server_fields_do_not_break_the_client(
    client: CouncilClient, fake_broker: FakeBroker
) -> None:
    """Fields the client does not know are kept on the model instead of refused."""
    fake_broker.on("GET", "/v1/items/it-1", item_json(reactions=3, status="quarantined"))
    item = await client.get_item("it-1")
    assert item.model_extra == {"reactions": 3}
    assert item.status == "quarantined"
    assert item.model_dump()["reactions"] == 3


async def test_item_is_parsed_with_handling_provenance_and_masked_victim(
    client: CouncilClient, fake_broker: FakeBroker
) -> None:
    """get_item returns the typed item with nested handling, effective, provenance and victim."""
    fake_broker.on("GET", "/v1/items/it-1", item_json())
    item = await client.get_item("it-1")
    assert item.created_at == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    assert item.handling is not None and item.handling.may_reshare is False
    assert item.handling.notes[1] == "Handlers only"
    assert item.effective is not None and item.effective.tlp == "AMBER+STRICT"
    assert item.provenance[0].provider_id == "m-3"
    assert item.victim is not None and item.victim.name is None and item.victim.damage
    assert item.scope is not None and item.scope.exclude_attributes == ["law_enforcement"]


def test_draft_requires_secret() -> None:
    """An ItemDraft without `secret` is refused (charter art. 18(1),(2))."""
    with pytest.raises(ValidationError, match="secret"):
        ItemDraft(kind="analysis", title="t", tlp="AMBER")  # type: ignore[call-arg]


def test_draft_secret_must_be_a_real_bool() -> None:
    """`secret` is not coerced from strings like "yes"."""
    with pytest.raises(ValidationError):
        _draft(secret="yes")


def test_draft_refuses_unknown_fields_and_values() -> None:
    """A typo in a field name or a TLP label fails before it is sent."""
    with pytest.raises(ValidationError):
        _draft(titel="t")
    with pytest.raises(ValidationError):
        _draft(tlp="AMBER_STRICT")


def test_draft_json_leaves_out_unset_fields_and_writes_iso_durations() -> None:
    """to_json omits None fields and writes a timedelta due as an ISO 8601 duration."""
    draft = ItemDraft(
        kind="countermeasure",
        title="t",
        tlp="GREEN",
        secret=False,
        feedback={"due": timedelta(hours=4)},
    )
    assert draft.to_json() == {
        "kind": "countermeasure",
        "title": "t",
        "tlp": "GREEN",
        "secret": False,
        "derived_from": [],
        "feedback": {"due": "PT4H"},
    }


# -- members, users, handlers ----------------------------------------------------------


async def test_member_calls_use_the_documented_paths(
    client: CouncilClient, fake_broker: FakeBroker, transport: CallableTransport
) -> None:
    """create/list/get/update member hit POST, GET, GET and PATCH on /v1/members."""
    fake_broker.on("POST", "/v1/members", member_json(), 201)
    fake_broker.on("GET", "/v1/members", {"items": [member_json()], "next_cursor": None})
    fake_broker.on("GET", "/v1/members/m-1", member_json())
    fake_broker.on("PATCH", "/v1/members/m-1", member_json(listed=False))

    created = await client.create_member(name="Vendor One", category="cyber_business")
    page = await client.list_members(limit=10)
    fetched = await client.get_member("m-1")
    updated = await client.update_member("m-1", listed=False)

    assert created.tier == "tier_one" and fetched.id == "m-1"
    assert [m.id for m in page.items] == ["m-1"] and page.next_cursor is None
    assert updated.listed is False
    assert [(r.method, r.path) for r in transport.requests] == [
        ("POST", "/v1/members"),
        ("GET", "/v1/members"),
        ("GET", "/v1/members/m-1"),
        ("PATCH", "/v1/members/m-1"),
    ]
    assert transport.requests[0].json == {"name": "Vendor One", "category": "cyber_business"}
    assert transport.requests[1].params == {"limit": "10"}
    assert transport.requests[3].json == {"listed": False}


async def test_create_user_returns_the_user_and_its_one_time_token(
    client: CouncilClient, fake_broker: FakeBroker, transport: CallableTransport
) -> None:
    """create_user posts name and role and returns (User, token)."""
    fake_broker.on(
        "POST", "/v1/members/m-1/users", {"user": user_json(), "token": "new-token"}, 201
    )
    user, token = await client.create_user("m-1", "Alice", "member_user")
    assert (user.id, user.revoked_at, token) == ("u-1", None, "new-token")
    assert transport.requests[0].json == {"name": "Alice", "role": "member_user"}


async def test_create_user_without_a_token_is_unexpected(
    client: CouncilClient, fake_broker: FakeBroker
) -> None:
    """An answer without the token cannot be used and raises UnexpectedResponse."""
    fake_broker.on("POST", "/v1/members/m-1/users", {"user": user_json()}, 201)
    with pytest.raises(UnexpectedResponse, match="no token"):
        await client.create_user("m-1", "Alice", "member_user")


@pytest.mark.parametrize("wrapped", [True, False])
async def test_revoke_user_posts_to_the_revoke_path(
    client: CouncilClient, fake_broker: FakeBroker, transport: CallableTransport, wrapped: bool
) -> None:
    """revoke_user POSTs .../users/{id}/revoke and reads the user, bare or under "user"."""
    revoked = user_json(revoked_at="2024-05-02T00:00:00Z")
    fake_broker.on(
        "POST", "/v1/members/m-1/users/u-1/revoke", {"user": revoked} if wrapped else revoked
    )
    user = await client.revoke_user("m-1", "u-1")
    assert user.revoked_at == datetime(2024, 5, 2, tzinfo=UTC)
    assert transport.requests[0].method == "POST"


async def test_handler_calls(
    client: CouncilClient, fake_broker: FakeBroker, transport: CallableTransport
) -> None:
    """add/list/remove handler use POST, GET and DELETE under /v1/members/{id}/handlers."""
    fake_broker.on("POST", "/v1/members/m-1/handlers", handler_json(), 201)
    fake_broker.on(
        "GET", "/v1/members/m-1/handlers", {"items": [handler_json()], "next_cursor": None}
    )
    fake_broker.on("DELETE", "/v1/members/m-1/handlers/u-1", Response(204))

    when = datetime(2024, 6, 1, tzinfo=UTC)
    added = await client.add_handler("m-1", "u-1", effective_from=when)
    await client.add_handler("m-1", "u-1")
    listed = await client.list_handlers("m-1")
    removed = await client.remove_handler("m-1", "u-1")

    assert added.user_id == "u-1" and listed.items[0].effective_until is None
    assert removed is None
    assert transport.requests[0].json == {
        "user_id": "u-1",
        "effective_from": "2024-06-01T00:00:00+00:00",
    }
    assert transport.requests[1].json == {"user_id": "u-1"}
    assert transport.requests[3].method == "DELETE"


async def test_remove_handler_returns_the_ended_registration_when_sent(
    client: CouncilClient, fake_broker: FakeBroker
) -> None:
    """When DELETE answers with the registration, remove_handler returns it."""
    ended = handler_json(effective_until="2024-06-01T00:00:00Z")
    fake_broker.on("DELETE", "/v1/members/m-1/handlers/u-1", ended)
    removed = await client.remove_handler("m-1", "u-1")
    assert removed is not None and removed.effective_until is not None


# -- items ---------------------------------------------------------------------------


async def test_submit_sends_the_draft_and_the_idempotency_key(
    client: CouncilClient, fake_broker: FakeBroker, transport: CallableTransport
) -> None:
    """submit posts the draft as JSON with the Idempotency-Key header and parses the result."""
    fake_broker.on(
        "POST",
        "/v1/items",
        {
            "id": "it-9",
            "version": 1,
            "recipients": 4,
            "dropped": {"refuses_secrets": 1},
            "pending_consents": [{"source_item_id": "it-0", "provider_id": "m-3"}],
        },
        201,
    )
    result = await client.submit(_draft(), idempotency_key="retry-safe-1")
    request = transport.requests[0]
    assert request.headers["Idempotency-Key"] == "retry-safe-1"
    assert request.json == {
        "kind": "analysis",
        "title": "Loader drops a signed DLL",
        "body": "Seen on two customers.",
        "tlp": "AMBER",
        "secret": True,
        "confidence": "unconfirmed",
        "scope": {
            "groups": ["tier_one_group"],
            "members": [],
            "exclude_members": [],
            "exclude_attributes": ["law_enforcement"],
        },
        "derived_from": [],
    }
    assert (result.id, result.recipients, result.dropped) == ("it-9", 4, {"refuses_secrets": 1})
    assert result.pending_consents[0].provider_id == "m-3"


async def test_submit_without_key_sends_no_idempotency_header(
    client: CouncilClient, fake_broker: FakeBroker, transport: CallableTransport
) -> None:
    """Without idempotency_key no Idempotency-Key header is sent."""
    fake_broker.on("POST", "/v1/items", {"id": "it-9", "version": 1, "recipients": 0}, 201)
    result = await client.submit(_draft())
    assert "Idempotency-Key" not in transport.requests[0].headers
    assert result.dropped == {} and result.pending_consents == []


async def test_submit_sends_a_dict_exactly_as_given(
    client: CouncilClient, fake_broker: FakeBroker, transport: CallableTransport
) -> None:
    """A dict is not validated, so a test can send what the broker must refuse."""
    fake_broker.on("POST", "/v1/items", {"id": "it-9", "version": 1, "recipients": 0}, 201)
    raw = {"kind": "analysis", "title": "no secrecy stated", "tlp": "AMBER", "extra": 1}
    await client.submit(raw)
    assert transport.requests[0].json == raw


async def test_inbox_sends_limit_order_and_cursor(
    client: CouncilClient, fake_broker: FakeBroker, transport: CallableTransport
) -> None:
    """inbox passes limit, cursor and order=oldest only when asked."""
    fake_broker.on("GET", "/v1/inbox", {"items": [summary_json()], "next_cursor": "c2"})
    newest = await client.inbox()
    await client.inbox(limit=5, order="oldest", cursor="c2")
    assert newest.items[0].title == "Title of it-1" and newest.next_cursor == "c2"
    assert transport.requests[0].params == {"limit": "50"}
    assert transport.requests[1].params == {"limit": "5", "order": "oldest", "cursor": "c2"}


async def test_inbox_refuses_an_unknown_order(client: CouncilClient) -> None:
    """An order other than newest/oldest is a ValueError."""
    with pytest.raises(ValueError, match="order"):
        await client.inbox(order="random")  # type: ignore[arg-type]


def _paged(pages: dict[str | None, tuple[list[str], str | None]]) -> Any:
    def handler(request: Request) -> Response:
        ids, next_cursor = pages[request.params.get("cursor")]
        return Response.from_json(
            {"items": [summary_json(i) for i in ids], "next_cursor": next_cursor}
        )

    return handler


async def test_iter_inbox_follows_cursors_to_the_last_page(
    client: CouncilClient, fake_broker: FakeBroker, transport: CallableTransport
) -> None:
    """iter_inbox yields every entry of every page, passing each next_cursor along."""
    fake_broker.on(
        "GET",
        "/v1/inbox",
        _paged({None: (["a", "b"], "c1"), "c1": (["c"], "c2"), "c2": ([], None)}),
    )
    ids = [entry.id async for entry in client.iter_inbox(limit=2, order="oldest")]
    assert ids == ["a", "b", "c"]
    assert [r.params.get("cursor") for r in transport.requests] == [None, "c1", "c2"]
    assert all(
        r.params["order"] == "oldest" and r.params["limit"] == "2" for r in transport.requests
    )


async def test_iter_inbox_stops_on_a_repeated_cursor(
    client: CouncilClient, fake_broker: FakeBroker
) -> None:
    """A broker that hands back an old cursor raises instead of looping forever."""
    fake_broker.on("GET", "/v1/inbox", _paged({None: (["a"], "c1"), "c1": (["b"], "c1")}))
    seen: list[str] = []
    with pytest.raises(UnexpectedResponse, match="repeated cursor"):
        async for entry in client.iter_inbox():
            seen.append(entry.id)
    assert seen == ["a", "b"]


async def test_item_actions_use_their_paths_and_bodies(
    client: CouncilClient, fake_broker: FakeBroker, transport: CallableTransport
) -> None:
    """change_scope, consent, withdraw and break_glass send the documented requests."""
    fake_broker.on("POST", "/v1/items/it-1/scope", {"id": "it-1", "version": 3, "recipients": 2})
    fake_broker.on("POST", "/v1/items/it-0/consents", {"consented": True})
    fake_broker.on("POST", "/v1/items/it-1/withdraw", {"id": "it-1", "status": "withdrawn"})
    fake_broker.on("POST", "/v1/items/it-1/break-glass", item_json())

    scoped = await client.change_scope("it-1", Scope(groups=["tier_two"]))
    await client.change_scope("it-1", {"groups": ["task_force"]})
    await client.consent("it-0", "it-1")
    withdrawn = await client.withdraw("it-1")
    item = await client.break_glass("it-1", "dispute 2024-17: settle what was shared")

    assert scoped.version == 3 and scoped.recipients == 2
    assert withdrawn["status"] == "withdrawn" and item.id == "it-1"
    bodies = [r.json for r in transport.requests]
    assert bodies == [
        {
            "scope": {
                "groups": ["tier_two"],
                "members": [],
                "exclude_members": [],
                "exclude_attributes": [],
            }
        },
        {"scope": {"groups": ["task_force"]}},
        {"derived_item_id": "it-1"},
        {},
        {"reason": "dispute 2024-17: settle what was shared"},
    ]


async def test_access_log_is_a_page_of_events(
    client: CouncilClient, fake_broker: FakeBroker, transport: CallableTransport
) -> None:
    """access_log returns audit events for one item."""
    fake_broker.on(
        "GET", "/v1/items/it-1/access-log", {"items": [event_json(1, action="break_glass")]}
    )
    page = await client.access_log("it-1", limit=20)
    assert page.items[0].action == "break_glass" and page.next_cursor is None
    assert transport.requests[0].params == {"limit": "20"}


# -- audit -----------------------------------------------------------------------------


async def test_audit_sends_only_the_filters_given(
    client: CouncilClient, fake_broker: FakeBroker, transport: CallableTransport
) -> None:
    """audit turns filters into query parameters, dates in ISO 8601, and skips the unset ones."""
    fake_broker.on("GET", "/v1/audit", {"items": [event_json(7)], "next_cursor": "n"})
    page = await client.audit(
        item="it-1", outcome="denied", since=datetime(2024, 5, 1, tzinfo=UTC), until="2024-06-01"
    )
    assert page.items[0].seq == 7 and page.next_cursor == "n"
    assert transport.requests[0].params == {
        "item": "it-1",
        "outcome": "denied",
        "since": "2024-05-01T00:00:00+00:00",
        "until": "2024-06-01",
    }


async def test_audit_export_reassembles_lines_across_chunks(fake_broker: FakeBroker) -> None:
    """audit_export yields one dict per JSON line, even when lines span chunk boundaries."""
    body = (
        b'{"seq": 1, "action": "item.read"}\n\n'
        b'{"seq": 2, "action": "item.submit", "details": {"k": "\xe6\xa9\x9f"}}\n'
        b'{"seq": 3}'  # the last line may lack its newline
    )
    fake_broker.on(
        "GET", "/v1/audit/export", Response(200, {"content-type": "application/jsonl"}, body)
    )
    transport = CallableTransport(fake_broker, chunk_size=5)
    client = CouncilClient(BASE_URL, TOKEN, transport=transport)
    records = [record async for record in client.audit_export()]
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[1]["details"] == {"k": "機"}
    request = transport.requests[0]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "application/jsonl" in request.headers["Accept"]


async def test_audit_export_can_stop_early(client: CouncilClient, fake_broker: FakeBroker) -> None:
    """Breaking out of the export through aclosing releases it cleanly."""
    fake_broker.on(
        "GET", "/v1/audit/export", Response.from_json_lines(event_json(i) for i in range(5))
    )
    async with aclosing(client.audit_export()) as events:
        async for event in events:
            assert event["seq"] == 0
            break


async def test_audit_export_maps_error_statuses(
    client: CouncilClient, fake_broker: FakeBroker
) -> None:
    """An export the caller may not make raises the mapped error."""
    fake_broker.on("GET", "/v1/audit/export", error_json("forbidden", "secretariat only"), 403)
    with pytest.raises(Forbidden, match="secretariat only"):
        [record async for record in client.audit_export()]


@pytest.mark.parametrize("line", [b"not json", b"[1, 2]"])
async def test_audit_export_refuses_a_bad_line(
    client: CouncilClient, fake_broker: FakeBroker, line: bytes
) -> None:
    """A line that is not a JSON object raises UnexpectedResponse."""
    fake_broker.on("GET", "/v1/audit/export", Response(200, body=b'{"seq": 1}\n' + line + b"\n"))
    with pytest.raises(UnexpectedResponse, match="audit export"):
        [record async for record in client.audit_export()]


class _PlainTransport:
    """A transport without stream(): the export falls back to one whole response."""

    def __init__(self, answer: Response) -> None:
        self.answer = answer

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        json: Any | None,
        params: dict[str, str] | None,
    ) -> Response:
        return self.answer


async def test_audit_export_works_over_a_transport_that_cannot_stream() -> None:
    """A transport with only request() still yields every exported record."""
    plain = _PlainTransport(Response.from_json_lines([{"seq": 1}, {"seq": 2}]))
    client = CouncilClient(BASE_URL, TOKEN, transport=plain)
    assert [r async for r in client.audit_export()] == [{"seq": 1}, {"seq": 2}]
    failing = CouncilClient(BASE_URL, TOKEN, transport=_PlainTransport(Response(401)))
    with pytest.raises(Unauthorized):
        [r async for r in failing.audit_export()]


async def test_latest_checkpoint(client: CouncilClient, fake_broker: FakeBroker) -> None:
    """latest_checkpoint parses size, head, signature, key id and time."""
    fake_broker.on(
        "GET",
        "/v1/audit/checkpoints/latest",
        {
            "size": 42,
            "head": "ab12",
            "signature": "c2ln",
            "key_id": "k1",
            "at": "2024-05-01T10:00:00Z",
        },
    )
    checkpoint = await client.latest_checkpoint()
    assert (checkpoint.size, checkpoint.key_id) == (42, "k1")


# -- task force and feedback -----------------------------------------------------------


async def test_obligations_collects_every_page(
    client: CouncilClient, fake_broker: FakeBroker, transport: CallableTransport
) -> None:
    """obligations returns one list built from all pages of GET /v1/obligations."""

    def pages(request: Request) -> Response:
        if request.params.get("cursor") is None:
            owed = [{"item_id": "it-1", "due": "2024-05-01T13:30:00Z", "kind": "answer"}]
            return Response.from_json({"items": owed, "next_cursor": "p2"})
        return Response.from_json({"items": [{"item_id": "it-2"}], "next_cursor": None})

    fake_broker.on("GET", "/v1/obligations", pages)
    owed = await client.obligations()
    assert [o.item_id for o in owed] == ["it-1", "it-2"]
    assert owed[0].due == datetime(2024, 5, 1, 13, 30, tzinfo=UTC)
    assert len(transport.requests) == 2


async def test_feedback_ledger_and_answers(
    client: CouncilClient, fake_broker: FakeBroker, transport: CallableTransport
) -> None:
    """answer posts the verdict (and a comment if given); feedback and ledger return dicts."""
    fake_broker.on("POST", "/v1/items/it-1/feedback", {"verdict": "came"}, 201)
    fake_broker.on("GET", "/v1/items/it-1/feedback", {"counts": {"came": 2}})
    fake_broker.on("GET", "/v1/ledger", {"members": []})

    await client.answer("it-1", "came")
    await client.answer("it-1", "not_came", comment="nothing in our logs")
    assert await client.feedback("it-1") == {"counts": {"came": 2}}
    assert await client.ledger("2024-Q2") == {"members": []}
    await client.ledger()

    assert transport.requests[0].json == {"verdict": "came"}
    assert transport.requests[1].json == {"verdict": "not_came", "comment": "nothing in our logs"}
    assert transport.requests[3].params == {"period": "2024-Q2"}
    assert transport.requests[4].params == {}


async def test_consultations(
    client: CouncilClient, fake_broker: FakeBroker, transport: CallableTransport
) -> None:
    """consult, reply_consultation and get_consultation use /v1/consultations."""
    fake_broker.on("POST", "/v1/consultations", {"id": "c-1", "title": "odd DNS"}, 201)
    fake_broker.on("POST", "/v1/consultations/c-1/replies", {"id": "r-1"}, 201)
    fake_broker.on("GET", "/v1/consultations/c-1", {"id": "c-1", "replies": [{"body": "seen it"}]})

    created = await client.consult("odd DNS", "something feels off")
    await client.consult("odd DNS", "something feels off", reveal_identity=True)
    await client.reply_consultation("c-1", "seen it")
    fetched = await client.get_consultation("c-1")

    assert created.id == "c-1" and fetched.replies == [{"body": "seen it"}]
    assert [r.json for r in transport.requests[:3]] == [
        {"title": "odd DNS", "body": "something feels off", "reveal_identity": False},
        {"title": "odd DNS", "body": "something feels off", "reveal_identity": True},
        {"body": "seen it"},
    ]
