"""TAXII 2.1 filters (§3.4) and the opaque `next` (§3.5, Appendix B).

A malformed filter is a 400. `next` is bound to the caller and to every
filter except `limit` (a client may change its page size between pages): an
HMAC under a key derived from the key ring covers the caller's user id, the
filters and the position, so a `next` used by another caller, with other
filters or altered is refused (400), and it tells nothing of what it points
at beyond what the page itself showed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from broker.taxii.errors import TaxiiError

__all__ = ["Filters", "NextTokens", "Position", "parse_filters", "parse_limit", "versions_kept"]

Position = tuple[str, int]
"""Where a page ended: the item id ("" for the council's own objects) and the
object's index within it."""

_MATCH_FIELDS = ("id", "type", "version", "spec_version")


@dataclass(frozen=True, slots=True)
class Filters:
    """The filters of one request (TAXII 2.1 §3.4.1), `limit` and `next` aside."""

    added_after: datetime | None = None
    ids: frozenset[str] | None = None
    types: frozenset[str] | None = None
    versions: tuple[str, ...] = ("last",)
    spec_versions: frozenset[str] | None = None

    def binding(self) -> str:
        """The canonical form a `next` is bound to."""
        return json.dumps(
            {
                "added_after": None if self.added_after is None else self.added_after.isoformat(),
                "id": None if self.ids is None else sorted(self.ids),
                "type": None if self.types is None else sorted(self.types),
                "version": list(self.versions),
                "spec_version": None if self.spec_versions is None else sorted(self.spec_versions),
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    def keeps(self, obj: Mapping[str, Any]) -> bool:
        """Whether `obj` passes the id, type and spec_version filters."""
        if self.ids is not None and obj.get("id") not in self.ids:
            return False
        if self.types is not None and obj.get("type") not in self.types:
            return False
        # Every object the council serves is STIX 2.1, the only spec version it speaks.
        return self.spec_versions is None or str(obj.get("spec_version", "2.1")) in (
            self.spec_versions
        )


def parse_timestamp(text: str, name: str) -> datetime:
    """A TAXII timestamp (RFC 3339, UTC or with an offset), or a 400 naming `name`."""
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or "T" not in text.upper():
        raise TaxiiError(
            400,
            "Bad filter",
            f"{name} must be an RFC 3339 timestamp such as 2026-01-01T00:00:00.000000Z",
        )
    return moment.astimezone(UTC)


def parse_filters(query: Mapping[str, str], allowed: Sequence[str]) -> Filters:
    """The filters of `query`; `allowed` names the match fields this endpoint takes.

    Match fields this endpoint does not take are ignored (TAXII 2.1 §3.4.1:
    unknown fields MAY be ignored); a malformed value is a 400.
    """
    added_after = None
    if "added_after" in query:
        added_after = parse_timestamp(query["added_after"], "added_after")
    values: dict[str, list[str]] = {}
    for field in _MATCH_FIELDS:
        raw = query.get(f"match[{field}]")
        if raw is None or field not in allowed:
            continue
        parts = [p.strip() for p in raw.split(",")]
        if not parts or any(not p for p in parts) or len(parts) > 100:
            raise TaxiiError(
                400, "Bad filter", f"match[{field}] is a comma-separated list of values"
            )
        values[field] = parts
    versions = tuple(values.get("version", ["last"]))
    for version in versions:
        if version not in ("first", "last", "all"):
            parse_timestamp(version, "match[version]")
    return Filters(
        added_after=added_after,
        ids=frozenset(values["id"]) if "id" in values else None,
        types=frozenset(values["type"]) if "type" in values else None,
        versions=versions,
        spec_versions=frozenset(values["spec_version"]) if "spec_version" in values else None,
    )


def parse_limit(query: Mapping[str, str], maximum: int) -> int:
    """`limit`: a positive whole number, at most `maximum` (the server may return fewer)."""
    raw = query.get("limit")
    if raw is None:
        return maximum
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9 or int(raw) < 1:
        raise TaxiiError(400, "Bad filter", "limit must be a positive whole number")
    return min(int(raw), maximum)


def versions_kept(filters: Filters, versions: Sequence[str]) -> set[str]:
    """Which of an object's `versions` (its `modified` values) `match[version]` keeps."""
    if not versions:
        return set()
    ordered = sorted(versions, key=_version_key)
    kept: set[str] = set()
    for wanted in filters.versions:
        if wanted == "all":
            kept.update(ordered)
        elif wanted == "first":
            kept.add(ordered[0])
        elif wanted == "last":
            kept.add(ordered[-1])
        else:
            moment = parse_timestamp(wanted, "match[version]")
            kept.update(v for v in ordered if _version_key(v) == moment)
    return kept


def _version_key(version: str) -> datetime:
    try:
        return datetime.fromisoformat(version.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


class NextTokens:
    """Makes and checks `next` values bound to a caller and its filters."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, user_id: str, binding: str, position: Position) -> bytes:
        message = json.dumps([user_id, binding, list(position)], separators=(",", ":"))
        return hmac.new(self._key, message.encode("utf-8"), hashlib.sha256).digest()[:16]

    def make(self, user_id: str, filters: Filters, position: Position) -> str:
        """An opaque `next` continuing after `position`, for this caller and filters."""
        payload = json.dumps(list(position), separators=(",", ":")).encode("utf-8")
        mac = self._mac(user_id, filters.binding(), position)
        return _b64(payload) + "." + _b64(mac)

    def check(self, token: str, user_id: str, filters: Filters) -> Position:
        """The position of `token`, or a 400 if it is not this caller's for these filters."""
        refused = TaxiiError(
            400,
            "Bad next",
            "this next value does not belong to this caller with these filters: "
            "repeat the request with the filters of the page that gave it, or start again",
        )
        if len(token) > 400 or token.count(".") != 1:
            raise refused
        payload_text, mac_text = token.split(".")
        try:
            decoded = json.loads(_unb64(payload_text))
            mac = _unb64(mac_text)
        except (ValueError, UnicodeDecodeError):
            raise refused from None
        if (
            not isinstance(decoded, list)
            or len(decoded) != 2
            or not isinstance(decoded[0], str)
            or not isinstance(decoded[1], int)
            or isinstance(decoded[1], bool)
        ):
            raise refused
        position: Position = (decoded[0], decoded[1])
        if not hmac.compare_digest(mac, self._mac(user_id, filters.binding(), position)):
            raise refused
        return position


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
