"""The client address of an API request, behind reverse proxies: what per-IP rate limits count.

Only a peer in VITRINE_TRUSTED_PROXIES is believed about who it forwards for. Each proxy appends the address it
saw to X-Forwarded-For, so the chain is read from the right: trusted proxies are skipped, and the first address
that is not one is the client. Anything further left was written by that client and may be invented; a request
from an untrusted peer counts against the peer's own address whatever its headers say.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The address per-IP limits count: `peer` (the TCP peer) unless it is a trusted proxy, else the right-most
    X-Forwarded-For address that is not a trusted proxy (`forwarded_for`: every such header, in order)."""
    if peer is None:
        return "unknown"
    current = _parse(peer)
    if current is None or not _is_trusted(current, trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:  # not an address: the proxy's own report ends here
            break
        current = address
        if not _is_trusted(address, trusted):
            break
    return str(current)


def _is_trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address in network for network in trusted)


def _parse(text: str) -> Address | None:
    """An address as proxies write it: bare, IPv4 with a port (1.2.3.4:5678) or bracketed IPv6 ([::1]:443)."""
    candidate = text.strip()
    if candidate.startswith("["):
        candidate = candidate[1 : candidate.find("]")] if "]" in candidate else ""
    elif candidate.count(":") == 1:
        candidate = candidate.split(":", 1)[0]
    try:
        address = ip_address(candidate)
    except ValueError:
        return None
    mapped = address.ipv4_mapped if isinstance(address, IPv6Address) else None
    return mapped or address
