"""Visibility tiers (SPEC §8, §12): every role × every read endpoint of one unit.

Public (anyone; an organisation with no tie to the unit), legitimate interest (owner, operator,
authorised service provider of that unit, its manufacturer), authority (the regulator; a
provincial regulator for its province's units). Asserts exactly which fields and status codes
each tier gets.
"""

from __future__ import annotations

from typing import Any

from robopass.passports.verify import decode_unverified

PUBLIC = {"code", "tier", "as_of", "status", "production_month", "model_version", "model",
          "manufacturer", "open_recalls", "imported_from"}
LEGITIMATE = PUBLIC | {"owner", "operator", "province", "city", "firmware", "plant", "issued_at",
                       "last_event_at", "event_count", "components"}
AUTHORITY = LEGITIMATE | {"status_before_suspension", "suspended_by_authority", "recycler"}
FIELDS = {"public": PUBLIC, "legitimate": LEGITIMATE, "authority": AUTHORITY}

#: role → expected tier (None: the request is refused before any tier: a bad key)
ROLES: dict[str, str | None] = {
    "anonymous": "public",
    "bad_key": None,
    "owner": "legitimate",
    "operator": "legitimate",
    "authorised_service_provider": "legitimate",
    "manufacturer": "legitimate",
    "other_manufacturer": "public",
    "other_operator": "public",
    "unauthorised_service_provider": "public",
    "regulator": "authority",
    "provincial_regulator": "authority",
    "other_provincial_regulator": "public",
}


def expected_status(endpoint: str, role: str, tier: str | None) -> int:
    if endpoint in ("verify", "passport"):
        return 200  # public endpoints take no key at all
    if tier is None:
        return 401
    if endpoint == "robot":
        return 200
    if tier == "public":  # events, epcis need legitimate interest or authority
        return 401 if role == "anonymous" else 403
    return 200


def test_every_role_times_every_read_endpoint(client) -> None:  # type: ignore[no-untyped-def]
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    code = client.codes(maker, model_id, 1)[0]
    owner = client.org("operator")
    operator = client.org("operator")
    provider = client.org("service_provider")
    client.event(maker, code, "manufactured", at="2026-03-10T08:00:00Z",
                 details={"province": "110000", "city": "110100"})
    client.event(maker, code, "sold", to_organization=owner.id, at="2026-03-11T08:00:00Z")
    client.event(owner, code, "deployed", to_organization=operator.id,
                 at="2026-03-12T08:00:00Z",
                 details={"scenario": "industrial", "province": "110000", "city": "110100"})
    r = client.post("/api/v1/service-authorizations", {"provider_id": provider.id, "code": code},
                    owner)
    assert r.status_code == 201, r.text
    orgs: dict[str, Any] = {
        "anonymous": None, "owner": owner, "operator": operator,
        "authorised_service_provider": provider, "manufacturer": maker,
        "other_manufacturer": client.org("manufacturer"),
        "other_operator": client.org("operator"),
        "unauthorised_service_provider": client.org("service_provider"),
        "regulator": client.regulator,
        "provincial_regulator": client.org("regulator", scope_province="110000"),
        "other_provincial_regulator": client.org("regulator", scope_province="310000"),
    }
    endpoints = {"robot": f"/api/v1/robots/{code}", "events": f"/api/v1/robots/{code}/events",
                 "epcis": f"/api/v1/robots/{code}/epcis",
                 "passport": f"/api/v1/robots/{code}/passport",
                 "verify": f"/api/v1/verify/{code}"}
    bodies: dict[tuple[str, str], Any] = {}
    problems = []
    for role, tier in ROLES.items():
        for endpoint, path in endpoints.items():
            if role == "bad_key":
                r = client.raw.get(path, headers={"Authorization": "Bearer rp_bad_key"})
            else:
                r = client.get(path, orgs[role])
            want = expected_status(endpoint, role, tier)
            if r.status_code != want:
                problems.append(f"{role} {endpoint}: {r.status_code} != {want} {r.text[:120]}")
                continue
            if want >= 400:
                error = r.json()["error"]
                expected_code = ("outside_province" if role == "other_provincial_regulator"
                                 else "tier_required")
                if want == 403 and error["code"] != expected_code:
                    problems.append(f"{role} {endpoint}: error {error['code']}")
                continue
            bodies[(role, endpoint)] = r.json()
            if endpoint == "robot":
                body = r.json()
                assert tier is not None
                if body["tier"] != tier or set(body) != FIELDS[tier]:
                    problems.append(f"{role} robot: tier {body['tier']} fields "
                                    f"{sorted(set(body) ^ FIELDS[tier])}")
            if endpoint == "events" and [e["type"] for e in r.json()["events"]] != [
                    "manufactured", "sold", "deployed"]:
                problems.append(f"{role} events: {r.json()}")
            if endpoint == "epcis" and r.json().get("type") != "EPCISDocument":
                problems.append(f"{role} epcis: not an EPCIS document")
    assert not problems, "\n".join(problems)
    # values the legitimate tier sees, and the public tier does not
    owner_view = bodies[("owner", "robot")]
    assert owner_view["owner"] == owner.id and owner_view["operator"] == operator.id
    assert owner_view["province"] == "110000"
    # passport and verify are the same public-tier content for everyone
    for endpoint in ("passport", "verify"):
        reference = bodies[("anonymous", endpoint)]
        for role in ROLES:
            body = bodies[(role, endpoint)]
            if endpoint == "passport":
                claims = decode_unverified(body["passport"])[1]
                ref_claims = decode_unverified(reference["passport"])[1]
                claims.pop("iat"), ref_claims.pop("iat")
                claims.pop("exp"), ref_claims.pop("exp")
                assert claims == ref_claims, role
                assert owner.id not in body["passport"]
            else:
                assert body == reference, role
