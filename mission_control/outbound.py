"""HTTP requests to URLs our users configure (push endpoints, alert webhooks), kept off our own network.

Without this an admin could point a push agent at ``http://127.0.0.1:8199/`` (or the cloud metadata
service at ``169.254.169.254``) and have the worker send requests there (SSRF). So a URL is refused
when its host is, or resolves to, a loopback, private, link-local (metadata), shared, multicast or
reserved address, unless ``MC_OUTBOUND_ALLOW`` names that address's network (e.g. ``10.1.0.0/16`` for
agents inside your VPC; the test settings allow loopback for the tests' own servers).

It is checked when the URL is saved (a 400 ``url_not_allowed``) and again at every send, after DNS
resolution: ``post`` resolves the host once, checks every address it got, and connects to the checked
address itself (the ``Host`` header and TLS SNI/certificate check keep the name), so a name that
resolves to a public address when saved and to 127.0.0.1 when sent (DNS rebinding) gets nowhere.
Redirects are not followed.
"""

import ipaddress
import socket
from functools import lru_cache

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OutboundRefused(Exception):
    """A URL we will not send to. ``code`` is stable: ``url_not_allowed`` or ``url_unresolvable``."""

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def allowed_networks() -> tuple:
    """``MC_OUTBOUND_ALLOW``: networks that may be reached although they are not public."""
    return _networks(tuple(settings.MC_OUTBOUND_ALLOW))


def _embedded_ipv4(address: Address) -> Address:
    """The IPv4 address hidden in an IPv6 one (mapped, 6to4, NAT64), or the address itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return address.ipv4_mapped
        if address.sixtofour:
            return address.sixtofour
        if address.teredo:
            return address.teredo[1]
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def why_not_public(address: Address) -> str | None:
    """What kind of non-public address this is (``"loopback"``, ...), or None for a public one."""
    address = _embedded_ipv4(address)
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local (cloud metadata)"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified or address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "non-public"
    return None


def check_address(address: Address, host: str) -> None:
    reason = why_not_public(address)
    if reason and not any(address in network for network in allowed_networks()):
        raise OutboundRefused(
            "url_not_allowed",
            f"{host} is a {reason} address ({address}); only public addresses may be sent to "
            "(MC_OUTBOUND_ALLOW lists exceptions).",
        )


def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to (a literal address is itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundRefused("url_unresolvable", f"{host} does not resolve ({exc}).") from None
    addresses: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise OutboundRefused("url_not_allowed", f"Not a URL: {exc}.") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise OutboundRefused("url_not_allowed", "Only http:// and https:// URLs with a host may be sent to.")
    return parsed


def checked_address(url: str) -> tuple[httpx.URL, Address]:
    """Resolve the URL's host and check every address; the parsed URL and the address to use."""
    parsed = _parse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = resolve(parsed.host, port)
    for address in addresses:  # all of them: a name may mix a public and a private record
        check_address(address, parsed.host)
    return parsed, addresses[0]


def validate_url(url: str) -> None:
    """Refuse a URL that points at a non-public address (when it is saved). A name that does not
    resolve yet is accepted: nothing can be reached through it, and every send checks again."""
    if not url:
        return
    try:
        checked_address(url)
    except OutboundRefused as exc:
        if exc.code != "url_unresolvable":
            raise


def public_url_validator(url: str) -> None:
    """``validate_url`` for Django forms (the admin)."""
    try:
        validate_url(url)
    except OutboundRefused as exc:
        raise ValidationError(str(exc), code=exc.code) from None


def post(url: str, *, timeout: float, **kwargs) -> httpx.Response:
    """``httpx.post`` to ``url``, connecting only to the public address checked just now."""
    parsed, address = checked_address(url)
    headers = {**kwargs.pop("headers", {}), "Host": parsed.netloc.decode("ascii")}
    extensions = {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
    pinned = parsed.copy_with(host=str(address))
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        return client.post(pinned, headers=headers, extensions=extensions, **kwargs)
