"""The address guard: a webhook may only reach the public internet.

A URL is refused unless it is ``http`` or ``https`` and its host is, and resolves only
to, public addresses: not loopback, private, link-local, multicast, reserved,
unspecified or shared (``100.64.0.0/10``), nor any of them wrapped in an IPv6 form
(IPv4-mapped, -compatible, 6to4, NAT64, Teredo). A numeric host must be a dotted quad:
``0x7f000001``, ``2130706433`` and ``127.1`` are refused however they would resolve. A
host named in ``JOBQUEUE_WEBHOOK_ALLOW_HOSTS`` passes without these checks (a receiver
on the same network, or a test's on ``127.0.0.1``).

The check runs at submit and again before each delivery. It does not pin the address
the HTTP client then connects to, so a name whose records change between the check and
the connection is not covered.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

from jobqueue.errors import InvalidRequest

ALLOW_HOSTS_VARIABLE = "JOBQUEUE_WEBHOOK_ALLOW_HOSTS"
MAX_URL_LENGTH = 2048
#: How long a name may take to resolve before the URL is refused as unresolvable.
RESOLVE_SECONDS = 5.0

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port)`` to the addresses the host resolves to, as text."""

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class UnsafeWebhookURL(InvalidRequest):
    """The webhook URL is not an ``http(s)`` URL of a public host."""


class UnresolvableHost(UnsafeWebhookURL):
    """The webhook URL's host does not resolve (perhaps only for now)."""


def allowed_hosts(value: str | None = None) -> frozenset[str]:
    """The hosts in *value* (default: ``JOBQUEUE_WEBHOOK_ALLOW_HOSTS``), comma-separated,
    lower-cased, IPv6 brackets removed."""
    raw = os.environ.get(ALLOW_HOSTS_VARIABLE, "") if value is None else value
    return frozenset(_bare(host) for host in raw.split(",") if host.strip())


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system's resolver gives for *host*."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_SECONDS):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise UnresolvableHost(f"webhook.url: {host!r} did not resolve in time") from None
    except (OSError, UnicodeError) as exc:
        raise UnresolvableHost(f"webhook.url: {host!r} does not resolve ({exc})") from None
    return [str(info[4][0]) for info in infos]


async def check_url(
    url: str, allow_hosts: frozenset[str] | None = None, resolve: Resolver | None = None
) -> None:
    """Return when *url* may receive webhooks; raise `UnsafeWebhookURL` saying why not.

    Args:
        url: the receiver's URL.
        allow_hosts: hosts exempt from the address checks (default: `allowed_hosts()`).
        resolve: how names become addresses (default: `system_resolver`); every address
            it gives must be public.
    """
    host, port = _host_and_port(url)
    if host in (allowed_hosts() if allow_hosts is None else allow_hosts):
        return
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        resolved = await (resolve or system_resolver)(host, port)
        addresses = [ipaddress.ip_address(text.partition("%")[0]) for text in resolved]
    if not addresses:
        raise UnresolvableHost(f"webhook.url: {host!r} resolves to no address")
    for address in addresses:
        if not is_public(address):
            shown = host if literal is not None else f"{host!r}, which resolves to {address},"
            raise UnsafeWebhookURL(
                f"webhook.url: {shown} is not a public address"
                f" (allow it with {ALLOW_HOSTS_VARIABLE})"
            )


def is_public(address: _IPAddress) -> bool:
    """Whether *address* is a public unicast address, in every form it may be wrapped in."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and not is_public(embedded):
            return False
        if address.is_site_local:
            return False
    elif address in _SHARED:
        return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    packed = int(address)
    if packed >> 32 == 0 or any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)  # IPv4-compatible or NAT64
    return None


def _host_and_port(url: str) -> tuple[str, int]:
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeWebhookURL(f"webhook.url: longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeWebhookURL(f"webhook.url: not a valid URL ({exc})") from None
    if parts.scheme not in {"http", "https"}:
        raise UnsafeWebhookURL("webhook.url: only http and https URLs are allowed")
    if not parts.hostname:
        raise UnsafeWebhookURL("webhook.url: the URL has no host")
    return _bare(parts.hostname), port or (443 if parts.scheme == "https" else 80)


def _literal(host: str) -> _IPAddress | None:
    """The address *host* spells, if it spells one; `UnsafeWebhookURL` for a numeric
    host that is not a plain dotted quad (``127.1``, ``0x7f000001``, ``2130706433``)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        socket.inet_aton(host)
    except OSError:
        return None
    raise UnsafeWebhookURL(f"webhook.url: {host!r} is not a dotted-quad IPv4 address")


def _bare(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()
