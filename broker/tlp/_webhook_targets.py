"""Where a member's webhook may send its events: public addresses only, unless the
operator allow-lists a target.

A webhook carries a member's events out of the broker, so its target must be
the member's own system on the internet, never the broker's own network: not
loopback, link-local (cloud metadata), private or otherwise non-public
addresses, and not a name that does not resolve. The rule is asked at
registration and again at delivery, after DNS resolution (a name may be made
to resolve elsewhere later), against every address the name resolves to.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["TargetAllowList", "TargetRefusal", "address_refusal", "webhook_target_refusal"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not public either


class TargetRefusal(StrEnum):
    """Why a webhook target is refused."""

    UNRESOLVABLE = "unresolvable"
    """The host name resolves to no address (or is no valid address)."""

    LOOPBACK = "loopback"
    """The broker's own host (127.0.0.0/8, ::1)."""

    LINK_LOCAL = "link_local"
    """The local link, where cloud metadata services answer (169.254.0.0/16, fe80::/10)."""

    PRIVATE = "private"
    """A private network (RFC 1918, unique local fc00::/7, shared 100.64.0.0/10)."""

    NOT_PUBLIC = "not_public"
    """Any other address that is not public: unspecified, multicast, reserved, documentation."""


@dataclass(frozen=True, slots=True)
class TargetAllowList:
    """The operator's exceptions: host names and networks webhooks may reach although
    they are not public, and whether private networks are allowed at all."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()
    private: bool = False

    @classmethod
    def parse(cls, entries: Iterable[str], *, allow_private: bool = False) -> TargetAllowList:
        """From the setting's entries: host names, addresses or networks (CIDR)."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            text = entry.strip().strip("[]").lower().rstrip(".")
            if not text:
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                hosts.add(text)
        return cls(hosts=frozenset(hosts), networks=tuple(networks), private=allow_private)

    def allows_host(self, host: str) -> bool:
        """Whether `host` is allow-listed by name."""
        return host.strip("[]").lower().rstrip(".") in self.hosts


def address_refusal(address: str, allow: TargetAllowList) -> TargetRefusal | None:
    """Why one resolved address may not be a webhook target; None if it may."""
    try:
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return TargetRefusal.UNRESOLVABLE
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if any(ip in network for network in allow.networks):
        return None
    if ip.is_loopback:
        return TargetRefusal.LOOPBACK
    if ip.is_link_local:
        return TargetRefusal.LINK_LOCAL
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved or ip in _THIS_NETWORK:
        return TargetRefusal.NOT_PUBLIC  # 0.0.0.0 and :: reach the broker's own host
    if ip.is_global:
        return None
    if ip.is_private or ip in _SHARED:
        # Documentation and benchmarking ranges count as private in `ipaddress`;
        # nobody runs a member's system there, so allowing private allows them too.
        return None if allow.private else TargetRefusal.PRIVATE
    return TargetRefusal.NOT_PUBLIC


def webhook_target_refusal(
    host: str, addresses: Sequence[str], allow: TargetAllowList
) -> TargetRefusal | None:
    """Why a webhook may not send to `host`, which resolved to `addresses`; None if it
    may. Every address must be acceptable: a name that also resolves inward is refused."""
    if allow.allows_host(host):
        return None
    if not addresses:
        return TargetRefusal.UNRESOLVABLE
    for address in addresses:
        refusal = address_refusal(address, allow)
        if refusal is not None:
            return refusal
    return None
