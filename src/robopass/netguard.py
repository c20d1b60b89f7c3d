"""Outbound requests go to public addresses only (SPEC §12): the guard against SSRF.

The registry makes requests to URLs its users give it — webhook subscriptions and peer
registries. Without a guard, "subscribe ``http://127.0.0.1:5432/``" turns the server into a
port scanner of its own network. So a destination is allowed only when **every** address its
host resolves to is a public unicast address: not loopback, private (RFC 1918, unique local),
shared (100.64/10), link-local (incl. 169.254.169.254, the cloud metadata service), multicast,
reserved, documentation or unspecified — for IPv4, IPv6 and IPv4 inside IPv6 (mapped, 6to4,
Teredo). Integer and short forms of IPv4 (``http://2130706433/``, ``0x7f.1``, ``0177.0.0.1``)
are read the way the C resolver reads them, so they are checked as the address they mean.

It is checked twice:

1. when the URL is registered (:func:`check_url`: a 422 ``forbidden_destination`` naming the
   field); a name that does not resolve yet is accepted (it is checked again at each call);
2. at every request (:class:`robopass.outbound.GuardedTransport`): the host is resolved,
   every address checked, and the connection made to the checked address itself — the URL's
   host stays in the ``Host`` header and TLS SNI/certificate check — so a DNS answer that
   changes between the check and the connection (DNS rebinding) cannot redirect it.

The operator may allow non-public destinations with one setting,
``ROBOPASS_ALLOW_PRIVATE_DESTINATIONS=1`` (a closed test network; the test suite uses it).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from robopass.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class ForbiddenDestination(InvalidInput):
    code = "forbidden_destination"


def _system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as an IP literal means (any form the C resolver accepts:
    dotted, integer, octal, hex, short; IPv6 with or without brackets), else None."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host):
        try:  # inet_aton reads 2130706433, 0x7f.1, 0177.0.0.1 as the resolver does
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def is_public(address: IPAddress) -> bool:
    """A global unicast address (IPv4 inside IPv6 judged by the IPv4 address)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (
            address.teredo[1] if address.teredo else None)
        if embedded is not None:
            return is_public(embedded) and (address.ipv4_mapped is not None
                                            or address.is_global)
    return address.is_global and not address.is_multicast and not address.is_reserved


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    return host, port


def resolve_checked(host: str, port: int, *, allow_private: bool,
                    resolve: Resolver = _system_resolve, field: str = "url") -> list[str]:
    """The addresses to connect to for ``host`` — all of them public unless ``allow_private``.

    Raises :class:`ForbiddenDestination` when any address is not public, and ``OSError``
    (``socket.gaierror``) when the name does not resolve."""
    literal = literal_address(host)
    addresses = [str(literal)] if literal is not None else resolve(host, port)
    if not addresses:
        raise OSError(f"{host} has no address")
    if not allow_private:
        for text in addresses:
            if not is_public(ipaddress.ip_address(text.split("%", 1)[0])):
                raise ForbiddenDestination(
                    f"{host} resolves to {text}, which is not a public address (loopback, "
                    "private, link-local, multicast and reserved addresses are refused)",
                    field=field)
    return addresses


def allow_private_default() -> bool:
    from robopass.config import get_settings

    return get_settings().allow_private_destinations


def check_url(url: str, *, field: str = "url", allow_private: bool | None = None,
              resolve: Resolver = _system_resolve) -> None:
    """Refuse (422 ``forbidden_destination``) a URL whose host is or resolves to a non-public
    address. A name that does not resolve now is let through: every request checks again."""
    if allow_private is None:
        allow_private = allow_private_default()
    host, port = _host_port(url)
    try:
        resolve_checked(host, port, allow_private=allow_private, resolve=resolve, field=field)
    except OSError:
        return
