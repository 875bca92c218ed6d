"""Members, users, handlers and the public roster (docs/api.md "Members")."""

from __future__ import annotations

from aiohttp import web

from broker.api.common import actor, operation, parse, respond, services
from broker.api.models import (
    HandlerCreate,
    MemberCreate,
    MemberPatch,
    TokenRotate,
    UserCreate,
    WithdrawalIn,
    dump,
)
from broker.api.views.members import (
    created_user_view,
    handler_view,
    handlers_view,
    member_view,
    members_view,
    roster_view,
    user_view,
    users_view,
)
from broker.domain import MemberStatus
from broker.domain.members import NewMember

__all__ = [
    "TAG",
    "add_handler",
    "create_member",
    "create_user",
    "get_member",
    "list_handlers",
    "list_members",
    "list_users",
    "me",
    "patch_member",
    "remove_handler",
    "revoke_user",
    "roster",
    "rotate_token",
    "routes",
    "withdraw_member",
]

routes = web.RouteTableDef()
TAG = "members"


@routes.post("/v1/members")
@operation(
    "post",
    "/v1/members",
    "Admit a member (coordinator)",
    tag=TAG,
    body=MemberCreate,
    responses={201: "the member"},
)
async def create_member(request: web.Request) -> web.Response:
    caller = await actor(request)
    body = await parse(request, MemberCreate)
    fields = body.model_dump()
    fields["status"] = MemberStatus(fields["status"])
    member = await services(request).members.create_member(caller, NewMember(**fields))
    return respond(member_view(member), 201)


@routes.get("/v1/members")
@operation(
    "get", "/v1/members", "Every body (coordinator, secretariat); a member sees itself", tag=TAG
)
async def list_members(request: web.Request) -> web.Response:
    caller = await actor(request)
    members = await services(request).members.list_members(caller)
    return respond(members_view(members))


@routes.get("/v1/members/{id}")
@operation("get", "/v1/members/{id}", "One member", tag=TAG)
async def get_member(request: web.Request) -> web.Response:
    caller = await actor(request)
    member = await services(request).members.get_member(caller, request.match_info["id"])
    return respond(member_view(member))


@routes.patch("/v1/members/{id}")
@operation(
    "patch",
    "/v1/members/{id}",
    "Change a member (coordinator; own admin: self-service)",
    tag=TAG,
    body=MemberPatch,
)
async def patch_member(request: web.Request) -> web.Response:
    caller = await actor(request)
    body = await parse(request, MemberPatch)
    member = await services(request).members.update_member(
        caller, request.match_info["id"], dump(body)
    )
    return respond(member_view(member))


@routes.post("/v1/members/{id}/users")
@operation(
    "post",
    "/v1/members/{id}/users",
    "Create a user; its token is shown once",
    tag=TAG,
    body=UserCreate,
    responses={201: "{user, token}"},
)
async def create_user(request: web.Request) -> web.Response:
    caller = await actor(request)
    body = await parse(request, UserCreate)
    created = await services(request).members.create_user(
        caller, request.match_info["id"], body.name, body.role, body.lifetime, chair=body.chair
    )
    return respond(created_user_view(created), 201)


@routes.get("/v1/members/{id}/users")
@operation(
    "get", "/v1/members/{id}/users", "The users of a member (its admins, coordinator)", tag=TAG
)
async def list_users(request: web.Request) -> web.Response:
    caller = await actor(request)
    found = await services(request).members.list_users(caller, request.match_info["id"])
    return respond(users_view(found))


@routes.post("/v1/members/{id}/users/{user_id}/revoke")
@operation("post", "/v1/members/{id}/users/{user_id}/revoke", "Revoke a user's token", tag=TAG)
async def revoke_user(request: web.Request) -> web.Response:
    caller = await actor(request)
    user = await services(request).members.revoke_user(
        caller, request.match_info["id"], request.match_info["user_id"]
    )
    return respond(user_view(user))


@routes.post("/v1/members/{id}/users/{user_id}/token")
@operation(
    "post",
    "/v1/members/{id}/users/{user_id}/token",
    "Rotate a user's token: a new one, shown once; the old one stops at once",
    tag=TAG,
    body=TokenRotate,
    responses={200: "{user, token}"},
)
async def rotate_token(request: web.Request) -> web.Response:
    caller = await actor(request)
    body = await parse(request, TokenRotate)
    created = await services(request).members.rotate_token(
        caller, request.match_info["id"], request.match_info["user_id"], body.lifetime
    )
    return respond(created_user_view(created))


@routes.post("/v1/members/{id}/handlers")
@operation(
    "post",
    "/v1/members/{id}/handlers",
    "Register a handler of secret information",
    tag=TAG,
    body=HandlerCreate,
    responses={201: "the handler registration"},
)
async def add_handler(request: web.Request) -> web.Response:
    caller = await actor(request)
    body = await parse(request, HandlerCreate)
    handler = await services(request).members.add_handler(
        caller, request.match_info["id"], body.user_id, body.effective_from
    )
    return respond(handler_view(handler), 201)


@routes.delete("/v1/members/{id}/handlers/{user_id}")
@operation("delete", "/v1/members/{id}/handlers/{user_id}", "End a handler registration", tag=TAG)
async def remove_handler(request: web.Request) -> web.Response:
    caller = await actor(request)
    handler = await services(request).members.remove_handler(
        caller, request.match_info["id"], request.match_info["user_id"]
    )
    return respond(handler_view(handler))


@routes.get("/v1/members/{id}/handlers")
@operation(
    "get", "/v1/members/{id}/handlers", "Handler registrations with effective times", tag=TAG
)
async def list_handlers(request: web.Request) -> web.Response:
    caller = await actor(request)
    found = await services(request).members.list_handlers(caller, request.match_info["id"])
    return respond(handlers_view(found))


@routes.post("/v1/members/{id}/withdrawal")
@operation(
    "post",
    "/v1/members/{id}/withdrawal",
    "The member's notice of withdrawal, effective at once (its own admin; art. 7)",
    tag=TAG,
    body=WithdrawalIn,
    responses={200: "the member, withdrawn"},
)
async def withdraw_member(request: web.Request) -> web.Response:
    caller = await actor(request)
    body = await parse(request, WithdrawalIn)
    member = await services(request).members.withdraw(caller, request.match_info["id"], body.reason)
    return respond(member_view(member))


@routes.get("/v1/roster")
@operation(
    "get", "/v1/roster", "The public roster: listed, active members (art. 25)", tag=TAG, public=True
)
async def roster(request: web.Request) -> web.Response:
    entries = await services(request).members.roster()
    return respond(roster_view(entries))


@routes.get("/v1/me")
@operation(
    "get",
    "/v1/me",
    "The signed-in user: its id, name, role, member and handler status",
    tag=TAG,
)
async def me(request: web.Request) -> web.Response:
    """`GET /v1/me`: who the token signs in as (what a TAXII client needs as its user name)."""
    caller = await actor(request)
    return respond(
        {
            "user_id": caller.user_id,
            "name": caller.user_name,
            "role": str(caller.role),
            "member_id": caller.member_id,
            "member_kind": str(caller.body.kind),
            "tier": str(caller.body.tier),
            "is_handler": caller.is_handler,
        }
    )
