"""Throttling rules: token buckets, a concurrency cap, and whose address a request is.

Pure: time is a parameter (seconds, any monotonic origin), nothing here reads
a clock or a socket. The services keep one of each per replica, in memory
(README, "Limits"): with N replicas behind a balancer an address or a token
gets up to N times the budget.

A token bucket holds up to `capacity` tokens and gains `rate` a second; a
request takes one, and is refused when less than one is left. `capacity`
requests may arrive at once; sustained, `rate` a second get through. A key
whose bucket has refilled is forgotten, so memory follows the keys active in
the last `capacity / rate` seconds, with a hard ceiling (`max_keys`).
"""

from __future__ import annotations

import functools
import ipaddress
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "ConcurrencyCap",
    "RateLimiter",
    "Verdict",
    "address_key",
    "client_address",
    "parse_networks",
]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a limiter decided: allowed or not, and when to retry.

    `retry_after` is in whole seconds (what `Retry-After` carries, at least 1
    when refused, 0 when allowed). `first_refusal` is true for the first
    refusal of a key since it was last allowed: the one worth an audit event
    (the rest of a flood is logged, not written to the chain).
    """

    allowed: bool
    retry_after: int = 0
    first_refusal: bool = False


_ALLOWED = Verdict(True)


class _Bucket:
    __slots__ = ("at", "refused", "tokens")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens = tokens
        self.at = at
        self.refused = False


class RateLimiter:
    """Token buckets by key (a source address, a user id)."""

    def __init__(self, rate: float, capacity: int, *, max_keys: int = 100_000) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a rate limiter needs a positive rate and a capacity of at least 1")
        self.rate = rate
        self.capacity = capacity
        self.max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}
        self._sweep_at = 1024

    def __len__(self) -> int:
        return len(self._buckets)

    def _refilled(self, bucket: _Bucket, now: float) -> float:
        # A clock that steps back gives no tokens, and takes none.
        elapsed = max(0.0, now - bucket.at)
        return min(float(self.capacity), bucket.tokens + elapsed * self.rate)

    def _refusal(self, bucket: _Bucket, tokens: float) -> Verdict:
        first = not bucket.refused
        bucket.refused = True
        wait = math.ceil((1.0 - tokens) / self.rate)
        return Verdict(False, max(1, wait), first)

    def peek(self, key: str, now: float) -> Verdict:
        """Whether `key` would be allowed now, without taking anything.

        Failed sign-ins are checked so before the attempt and taken after it
        fails: a successful sign-in costs nothing.
        """
        bucket = self._buckets.get(key)
        if bucket is None:
            return _ALLOWED
        tokens = self._refilled(bucket, now)
        if tokens >= 1.0:
            return _ALLOWED
        return self._refusal(bucket, tokens)

    def take(self, key: str, now: float) -> Verdict:
        """Take one token for `key` if it has one (allowed), else refuse with a wait."""
        bucket = self._buckets.get(key)
        if bucket is None:
            self._make_room(now)
            self._buckets[key] = _Bucket(self.capacity - 1.0, now)
            return _ALLOWED
        tokens = self._refilled(bucket, now)
        bucket.at = max(bucket.at, now)
        if tokens >= 1.0:
            bucket.tokens = tokens - 1.0
            bucket.refused = False
            return _ALLOWED
        bucket.tokens = tokens
        return self._refusal(bucket, tokens)

    def _make_room(self, now: float) -> None:
        # Amortised O(1): sweep when the table has doubled since the last sweep.
        if len(self._buckets) < min(self._sweep_at, self.max_keys):
            return
        full = float(self.capacity)
        for key in [k for k, b in self._buckets.items() if self._refilled(b, now) >= full]:
            del self._buckets[key]
        # Still at the ceiling: forget the keys touched longest ago (dict order
        # is first use; close enough for a bound that only a flood reaches).
        excess = len(self._buckets) - self.max_keys + 1
        if excess > 0:
            for key in list(self._buckets)[:excess]:
                del self._buckets[key]
        self._sweep_at = max(1024, 2 * len(self._buckets))


class ConcurrencyCap:
    """At most `limit` things open at once per key (a user's live streams)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a concurrency cap needs a limit of at least 1")
        self.limit = limit
        self._open: dict[str, int] = {}

    def open_count(self, key: str) -> int:
        """How many `key` holds open."""
        return self._open.get(key, 0)

    def acquire(self, key: str) -> bool:
        """Open one more for `key` if it is under the limit."""
        count = self._open.get(key, 0)
        if count >= self.limit:
            return False
        self._open[key] = count + 1
        return True

    def release(self, key: str) -> None:
        """Close one of `key`'s (what `acquire` opened)."""
        count = self._open.get(key, 0) - 1
        if count > 0:
            self._open[key] = count
        else:
            self._open.pop(key, None)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR networks (`10.0.0.5`, `10.1.0.0/16`, `::1`); ValueError names a bad one."""
    networks: list[Network] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an address or CIDR network: {entry!r}") from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]
) -> str:
    """The address a request comes from: the peer, or what trusted proxies say.

    Only when the peer is a trusted proxy is `X-Forwarded-For` read, from the
    right (the hop nearest the broker) leftwards, skipping trusted proxies: the
    first address that is not one is the client. Anything left of it was
    written by the client and proves nothing. A malformed entry ends the walk
    at the last trusted hop (an unreadable claim is not believed).
    """
    if not peer or not trusted:
        return peer or "unknown"  # the common case parses nothing: `address_key` will
    current = _address(peer)
    if current is None:
        return peer
    if not any(current in net for net in trusted):
        return str(current)
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        current = address
        if not any(current in net for net in trusted):
            break
    return str(current)


@functools.lru_cache(maxsize=4096)
def address_key(address: str) -> str:
    """The key failed sign-ins are counted under: an IPv4 address, or an IPv6 /64.

    One IPv6 host is usually given a whole /64; counting addresses in it one
    by one would let it try 2**64 times as often. An IPv4-mapped IPv6 address
    is its IPv4 address. Cached: parsing an address costs more than the rest
    of a request's limits together, and clients come back.
    """
    parsed = _address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed) if parsed is not None else address
