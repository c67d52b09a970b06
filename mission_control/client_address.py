"""The address of the client behind a request: the one function rate limits, sign-in lockouts, logs
and the audit log all use.

``X-Forwarded-For`` is written by whoever sends the request, so it is believed only when the
connection comes from a proxy named in ``MC_TRUSTED_PROXIES`` (addresses or CIDRs). Then the header is
read from the right, skipping further trusted proxies, and the first address that is not one is the
client (what nginx's ``real_ip_recursive`` and werkzeug's ``ProxyFix`` do). With no proxy configured
the header is ignored: the peer address is the client.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def trusted_proxies() -> tuple[Network, ...]:
    """``MC_TRUSTED_PROXIES`` parsed (a list of addresses or CIDRs; empty: trust no proxy)."""
    return _networks(tuple(settings.MC_TRUSTED_PROXIES))


def parse_address(value: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from a header or the peer, or None when it is not one (ports and brackets dropped)."""
    value = (value or "").strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:5123"
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _is_trusted(address, networks: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in networks)


def client_address(request) -> str:
    """The client's address as text; ``"unknown"`` when the peer gave none that parses."""
    request = getattr(request, "_request", request)  # DRF's Request wraps Django's
    cached = getattr(request, "mc_client_address", None)
    if cached:
        return cached
    meta = getattr(request, "META", {})
    peer = parse_address(meta.get("REMOTE_ADDR"))
    networks = trusted_proxies()
    client = peer
    if _is_trusted(peer, networks):
        hops = [hop for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        for hop in reversed(hops):
            address = parse_address(hop)
            if address is None:  # garbage from the client's side of the chain: stop believing it
                break
            client = address
            if not _is_trusted(address, networks):
                break
    text = str(client) if client is not None else "unknown"
    request.mc_client_address = text
    return text
