"""Outbound HTTP through the SSRF guard (:mod:`robopass.netguard`): an httpx transport that
resolves the host, checks every address and connects to the checked address itself.

Apart from :mod:`robopass.netguard` so that what every server worker imports (the URL checks
of webhook and peer registration) does not import httpx: only the code that sends requests
does (webhook and hand-over delivery, peer lookups), and httpx brings click, rich and pygments
with it (~6 MB of resident memory in every process that imports it).
"""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx

from robopass.netguard import (
    ForbiddenDestination,
    Resolver,
    _system_resolve,
    allow_private_default,
    resolve_checked,
)


class GuardedTransport(httpx.HTTPTransport):
    """An httpx transport that connects only to checked public addresses (see the module
    docstring); ``allow_private`` as the setting says unless given."""

    def __init__(self, *, allow_private: bool | None = None,
                 resolve: Resolver = _system_resolve, **kw: Any) -> None:
        super().__init__(**kw)
        self.allow_private = allow_private_default() if allow_private is None else allow_private
        self.resolve = resolve

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        try:
            addresses = resolve_checked(host, port, allow_private=self.allow_private,
                                        resolve=self.resolve)
        except ForbiddenDestination as exc:
            raise httpx.ConnectError(exc.message, request=request) from exc
        except OSError as exc:
            raise httpx.ConnectError(f"{host} does not resolve: {exc}", request=request) from exc
        pinned = ipaddress.ip_address(addresses[0].split("%", 1)[0])
        if str(pinned) != host.strip("[]"):
            # the Host header was set from the URL when the request was built and stays
            request.url = request.url.copy_with(host=str(pinned))
            if request.url.scheme == "https":
                request.extensions = {**request.extensions, "sni_hostname": host}
        return super().handle_request(request)
