"""Peer answers: checked against the pinned keys, cached briefly, never trusted unsigned."""

from __future__ import annotations

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from robopass import idcode
from robopass.db import reading, writing
from robopass.federation import service
from robopass.ledger.heads import key_id_for, public_jwk
from robopass.passports.verify import history_digest, sign_passport

CODE = idcode.with_check("DE10000000012603A13B00000001")


def fake_peer(private: Ed25519PrivateKey, calls: list[str], status: str = "in_service",
              verify_status: str = "in_service") -> httpx.MockTransport:
    kid = key_id_for(private.public_key())
    claims = {"iss": "robopass.de/ledger", "sub": CODE, "iat": 1, "registry": "DE",
              "model": {"name": "Arbeiter", "model_code": "000001", "status": "approved"},
              "manufacturer": {"name": "Werk", "company_code": "1000", "country": "DE"},
              "status": status, "open_recalls": [], "production_month": "2026-03",
              "ledger": {"size": 3, "root_hash": "b" * 64}, "history_digest": history_digest([])}

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        assert request.headers["X-Robopass-Federated"] == "1"
        if request.url.path.endswith("/passport"):
            return httpx.Response(200, json={"passport": sign_passport(private, kid, claims),
                                             "history": []})
        return httpx.Response(200, json={"code": CODE, "registered": True,
                                         "status": verify_status})

    return httpx.MockTransport(handle)


def test_signed_claims_win_and_answers_are_cached(registry) -> None:  # type: ignore[no-untyped-def]
    service._remote_cache.clear()
    private = Ed25519PrivateKey.generate()
    with writing(registry.url) as session:
        service.add_peer(session, country="DE", base_url="http://de.test",
                         jwks={"keys": [public_jwk(private.public_key())]})
    calls: list[str] = []
    # the unsigned verify answer says in_service; the signed passport says scrapped: trust it
    transport = fake_peer(private, calls, status="scrapped", verify_status="in_service")
    with reading(registry.url) as session:
        first = service.verify_remote(session, CODE, transport=transport)
        second = service.verify_remote(session, CODE, transport=transport)
    assert first == second and first["status"] == "scrapped"
    assert first["reason_code"] == "unit_scrapped" and first["registry"] == "DE"
    assert len(calls) == 2  # verify + passport once; the second answer came from the cache
    # re-pinning other keys invalidates the cache: the old answer is not reused
    other = Ed25519PrivateKey.generate()
    with writing(registry.url) as session:
        service.add_peer(session, country="DE", base_url="http://de.test",
                         jwks={"keys": [public_jwk(other.public_key())]})
    with reading(registry.url) as session:
        third = service.verify_remote(session, CODE, transport=transport)
    assert third["reason_code"] == "passport_invalid" and third["passport_error"] == "unknown_key"
    assert len(calls) == 4
    service._remote_cache.clear()


def test_peer_sending_garbage(registry) -> None:  # type: ignore[no-untyped-def]
    service._remote_cache.clear()
    private = Ed25519PrivateKey.generate()
    with writing(registry.url) as session:
        service.add_peer(session, country="DE", base_url="http://de.test",
                         jwks={"keys": [public_jwk(private.public_key())]})
    bodies = {"/api/v1/verify/": (200, b"not json"), "/passport": (200, b"{}")}

    def handle(request: httpx.Request) -> httpx.Response:
        for suffix, (status, body) in bodies.items():
            if suffix in request.url.path:
                return httpx.Response(status, content=body)
        return httpx.Response(500)

    with reading(registry.url) as session:
        answer = service.verify_remote(session, CODE, transport=httpx.MockTransport(handle))
    assert answer["reason_code"] == "peer_unreachable" and "not JSON" in answer["reason"]
    bodies["/api/v1/verify/"] = (200, b'{"registered": true}')
    with reading(registry.url) as session:
        answer = service.verify_remote(session, CODE, transport=httpx.MockTransport(handle))
    assert answer["reason_code"] == "passport_invalid" and answer["registered"] is False
    bodies["/api/v1/verify/"] = (503, b"{}")
    with reading(registry.url) as session:
        answer = service.verify_remote(session, CODE, transport=httpx.MockTransport(handle))
    assert answer["reason_code"] == "peer_unreachable" and "503" in answer["reason"]
