"""Client addresses and allowlists.

The client address is the TCP peer, unless the peer is one of the webhook's configured
``trusted_proxies``: then the right-most address in ``X-Forwarded-For`` that is not itself a
trusted proxy is used (the standard way to avoid trusting a spoofed left-most entry).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from functools import lru_cache
from urllib.parse import quote

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=4096)
def networks(items: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in items)


@lru_cache(maxsize=4096)
def parse_address(text: str) -> IPAddress | None:
    """An address from a peer or ``X-Forwarded-For`` entry (None if it is not one); cached:
    the same few senders and proxies come back on every request."""
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def contains(nets: Sequence[IPNetwork], address: IPAddress) -> bool:
    return any(address.version == net.version and address in net for net in nets)


def header_list(headers: Mapping[str, str], name: str) -> str | None:
    """Every field line of a list-valued header (``X-Forwarded-For``) joined with commas, in
    order — RFC 9110 §5.3: several lines are one comma-separated list. Reading only the
    first line would let a client's forged line stand in front of a trusted proxy's own."""
    getall = getattr(headers, "getall", None)
    if getall is not None:
        lines = [str(value) for value in getall(name, [])]
    else:
        value = headers.get(name)
        lines = [] if value is None else [value]
    return ",".join(lines) if lines else None


def client_address(peer: str | None, forwarded_for: str | None,
                   trusted_proxies: tuple[str, ...]) -> IPAddress | None:
    """The address to apply allowlists and rate limits to (None if unknown).

    ``forwarded_for`` is the whole ``X-Forwarded-For`` list (every header line, see
    :func:`header_list`)."""
    address = parse_address(peer or "")
    if address is None or not trusted_proxies or not forwarded_for:
        return address
    proxies = networks(trusted_proxies)
    if not contains(proxies, address):
        return address
    hops = [parse_address(part) for part in forwarded_for.split(",")[-20:]]
    for hop in reversed(hops):
        if hop is None:
            return address  # a garbled header: fall back to the peer we can see
        if not contains(proxies, hop):
            return hop
    return address


def allowed(address: IPAddress | None, allowlist: tuple[str, ...]) -> bool:
    """True when there is no allowlist, or the address is inside it."""
    if not allowlist:
        return True
    if address is None:
        return False
    return contains(networks(allowlist), address)


def source_url(base_url: str, path: str, external_id: str) -> str:
    """The configured read URL with the id URL-encoded (no ``/``, ``..`` or ``?`` survive)."""
    return base_url.rstrip("/") + path.replace("{id}", quote(external_id, safe=""))


def rate_key(address: IPAddress | None, ipv6_prefix: int = 64) -> str:
    """Whose rate-limit bucket a client uses: its IPv4 address, or its IPv6 network of
    ``ipv6_prefix`` bits (a host holds a whole /64 and could rotate through it freely)."""
    if address is None:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/{ipv6_prefix}", strict=False))
    return str(address)
