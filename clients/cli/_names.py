"""Member names for ids: what a person reads in tables instead of ULIDs.

The directory holds the bodies the caller may see (``GET /v1/members``: all of
them for the coordinator and the secretariat, its own for a member) and the
public roster (listed members, art. 25). An id it does not know is shown
shortened; the full id is always on ``show`` and in ``--json``.
"""

from __future__ import annotations

import click

from clients.cli._command import InputError
from clients.cli._output import clean
from clients.sdk import CouncilClient, CouncilError

__all__ = ["MEMBER", "Directory", "member_id", "short", "user_id"]

_SHORT = 8


def short(identifier: str | None) -> str:
    """An id cut to its last characters (a ULID's random part), marked as cut."""
    if identifier is None:
        return "-"
    text = clean(identifier)
    return text if len(text) <= _SHORT + 2 else f"…{text[-_SHORT:]}"


class Directory:
    """The member names the caller may know, looked up once per command."""

    def __init__(self, names: dict[str, str]) -> None:
        self._names = names

    @classmethod
    async def load(cls, client: CouncilClient) -> Directory:
        """Read the members the caller may list and the public roster; what fails is skipped."""
        names: dict[str, str] = {}
        try:
            roster = await client.roster()
            names.update({entry.id: entry.name for entry in roster.items})
        except CouncilError:
            pass
        cursor: str | None = None
        try:
            while True:
                page = await client.list_members(cursor=cursor, limit=200)
                names.update({member.id: member.name for member in page.items})
                if page.next_cursor is None or page.next_cursor == cursor:
                    break
                cursor = page.next_cursor
        except CouncilError:
            pass  # a member that may not list others still has the roster
        return cls(names)

    def name(self, member_id: str | None) -> str:
        """The member's name, else its shortened id."""
        if member_id is None:
            return "-"
        known = self._names.get(member_id)
        return clean(known) if known is not None else short(member_id)

    def named(self, member_id: str | None) -> str:
        """``name (id)``, for ``show``, or the id alone when the name is unknown."""
        if member_id is None:
            return "-"
        known = self._names.get(member_id)
        return f"{clean(known)} ({clean(member_id)})" if known is not None else clean(member_id)

    def resolve(self, text: str) -> str:
        """The id for ``text``: an id as is, else the one member of that name (any case)."""
        if text in self._names:
            return text
        matches = [mid for mid, name in self._names.items() if name.casefold() == text.casefold()]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InputError(f"{text!r} names {len(matches)} members: give the member's id")
        return text  # an id the directory does not hold: the broker decides


async def member_id(client: CouncilClient, text: str) -> str:
    """The member id for ``text`` (an id, or a member's name)."""
    return (await Directory.load(client)).resolve(text)


MEMBER = click.argument("member", metavar="MEMBER")
"""A member argument: its id or its name."""


async def user_id(client: CouncilClient, member: str, text: str) -> str:
    """The user id for ``text`` among ``member``'s users (an id, or a user's name)."""
    try:
        page = await client.list_users(member, limit=200)
    except CouncilError:
        return text  # who may not list the users names them by id; the broker decides
    if any(user.id == text for user in page.items):
        return text
    matches = [user.id for user in page.items if user.name.casefold() == text.casefold()]
    if len(matches) > 1:
        raise InputError(f"{text!r} names {len(matches)} users: give the user's id")
    return matches[0] if matches else text
