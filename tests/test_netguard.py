"""The SSRF guard (SPEC §12): which destinations are public, in every spelling, and the
connection going to the address that was checked."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from robopass import netguard
from robopass.outbound import GuardedTransport


def _url(host: str, rest: str) -> str:
    return f"http://{host if ':' not in host or host.startswith('[') else f'[{host}]'}{rest}"


@pytest.mark.parametrize("host", [
    "127.0.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "0x7f.1", "127.1", "10.0.0.8",
    "172.16.3.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
    "240.0.0.1", "255.255.255.255", "198.18.0.1", "::1", "[::1]", "::", "fe80::1", "fc00::1",
    "ff02::1", "::ffff:127.0.0.1", "[::ffff:169.254.169.254]", "::ffff:10.1.2.3",
    "2002:7f00:1::1", "192.0.2.1", "2001:db8::1",
])
def test_non_public_addresses_are_refused(host: str) -> None:
    address = netguard.literal_address(host)
    assert address is not None
    assert not netguard.is_public(address)
    with pytest.raises(netguard.ForbiddenDestination) as err:
        netguard.check_url(_url(host, ":5432/x"), allow_private=False)
    assert err.value.code == "forbidden_destination" and err.value.extra["field"] == "url"
    netguard.check_url(_url(host, ":5432/x"), allow_private=True)  # the operator's choice


@pytest.mark.parametrize("host", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111",
                                  "::ffff:8.8.8.8", "1.1.1.1"])
def test_public_addresses_pass(host: str) -> None:
    address = netguard.literal_address(host)
    assert address is not None and netguard.is_public(address)
    netguard.check_url(_url(host, "/hook"), allow_private=False)


def test_names_are_checked_after_resolution() -> None:
    def resolver(answers: dict[str, list[str]]) -> netguard.Resolver:
        return lambda host, port: answers[host]

    local = resolver({"hooks.example.com": ["93.184.216.34", "127.0.0.1"]})
    with pytest.raises(netguard.ForbiddenDestination, match="127.0.0.1"):
        netguard.check_url("https://hooks.example.com/x", allow_private=False, resolve=local)
    netguard.check_url("https://hooks.example.com/x", allow_private=False,
                       resolve=resolver({"hooks.example.com": ["93.184.216.34"]}))
    with pytest.raises(netguard.ForbiddenDestination):
        netguard.check_url("http://localhost/", allow_private=False)


def test_unresolvable_names_are_left_to_the_request() -> None:
    def nowhere(host: str, port: int) -> list[str]:
        raise OSError("no such name")

    netguard.check_url("https://nowhere.invalid/x", allow_private=False, resolve=nowhere)


def test_the_transport_connects_to_the_checked_address_keeping_host() -> None:
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])  # a rebinding DNS server
    sent: list[httpx.Request] = []

    transport = GuardedTransport(allow_private=False,
                                          resolve=lambda host, port: next(answers))
    original = httpx.HTTPTransport.handle_request

    def capture(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    httpx.HTTPTransport.handle_request = capture  # type: ignore[method-assign]
    try:
        with httpx.Client(transport=transport) as client:
            assert client.post("https://hooks.example.com/x", content=b"{}").status_code == 204
            with pytest.raises(httpx.ConnectError, match="not a public address"):
                client.post("https://hooks.example.com/x", content=b"{}")
    finally:
        httpx.HTTPTransport.handle_request = original  # type: ignore[method-assign]
    assert len(sent) == 1  # the second (rebound to 127.0.0.1) never left
    request = sent[0]
    assert request.url.host == "93.184.216.34" and request.headers["host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    assert ipaddress.ip_address(request.url.host)


def test_server_workers_do_not_import_httpx_or_cwt() -> None:
    """What every server worker holds (the CLI it is forked from, and the app) leaves httpx
    (with click and pygments) and cwt to the code that sends requests or signs passports:
    resident memory in every process (#16 item 4)."""
    import subprocess
    import sys

    code = ("import sys, robopass.cli, robopass.asgi; "
            "print(sorted(m for m in ('httpx', 'cwt', 'click', 'pygments') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]", out
