"""The client address: the one function every limit, throttle, ban and log line
uses to say who is on the other end.

The socket peer is the client, unless the peer is a trusted proxy
(`TRUSTED_PROXIES`, CIDRs, default none): then the client is the right-most
`X-Forwarded-For` entry that is not itself a trusted proxy. A proxy appends the
address it saw to whatever the client sent, so entries left of the last trusted
hop are the client's own words and are never believed.
"""

import functools
import ipaddress
from collections.abc import Iterable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from django.conf import settings
from django.http import HttpResponseForbidden

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"


@functools.lru_cache(maxsize=16)
def networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    """Return the networks of a tuple of CIDRs (cached: settings rarely change)."""
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:5678"
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def in_networks(address: str, cidrs: Iterable[str]) -> bool:
    """Return whether `address` lies in one of `cidrs`."""
    ip = _ip(address)
    return ip is not None and any(ip in net for net in networks(tuple(cidrs)))


def client_address(peer: str | None, forwarded_for: str | None) -> str:
    """Return the client's address given the socket peer and the request's
    X-Forwarded-For header (all of its values joined with commas)."""
    peer_ip = _ip(peer) if peer else None
    if peer_ip is None:
        return peer or UNKNOWN
    trusted = networks(tuple(settings.TRUSTED_PROXIES))
    if not forwarded_for or not any(peer_ip in net for net in trusted):
        return str(peer_ip)
    client = peer_ip
    for entry in reversed(forwarded_for.split(",")):
        hop = _ip(entry)
        if hop is None:
            # A trusted proxy wrote something that is no address: believe no
            # further and keep the last hop that was vouched for.
            break
        client = hop
        if not any(hop in net for net in trusted):
            break
    return str(client)


def scope_address(scope) -> str:
    """Return the client address of an ASGI scope (socket or HTTP)."""
    peer = scope.get("client")
    forwarded = [
        value.decode("latin-1")
        for name, value in scope.get("headers", ())
        if name == b"x-forwarded-for"
    ]
    return client_address(peer[0] if peer else None, ",".join(forwarded) or None)


def request_address(request) -> str:
    """Return the client address of a Django request."""
    return client_address(
        request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR")
    )


def allowed(address: str) -> bool:
    """Return whether `WS_IP_ALLOWLIST` (empty: everyone) admits `address`."""
    allowlist = settings.WS_IP_ALLOWLIST
    return not allowlist or in_networks(address, allowlist)


class ApiAllowlistMiddleware:
    """Refuse `/api/` requests from addresses outside `WS_IP_ALLOWLIST` (403)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        return _refusal(request) or self.get_response(request)

    async def _acall(self, request):
        return _refusal(request) or await self.get_response(request)


def _refusal(request) -> HttpResponseForbidden | None:
    if (
        settings.WS_IP_ALLOWLIST
        and request.path.startswith("/api/")
        and not allowed(request_address(request))
    ):
        return HttpResponseForbidden("address not allowed")
    return None
