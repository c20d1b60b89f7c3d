"""The gate, tried from the route table (SPEC §12): every route × every role × own / other
organisation × in / out of province, on both databases.

``RULES`` says, for every route the application serves, who may use it. The first test fails
when a route is added without an entry. The others build one small world — a unit made in
Beijing (110000) by ``maker`` and owned by ``owner``, an incident, a recall, a defect signal —
and call every route as each actor: anonymous, a junk key, the maker, another manufacturer, the
owner, another operator, the national regulator, Beijing's and Shanghai's provincial
regulators. A route must refuse (401 without a key, 403/404 with one) whoever its rule does not
admit, and must not refuse whoever it admits; lists must be filtered by province.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.utils.api import evaluation_body, model_body
from tests.utils.routes import api_routes

ACTORS = ("anonymous", "bad_key", "maker", "other_maker", "owner", "other_operator",
          "regulator", "regulator_in", "regulator_out")
KEYED = set(ACTORS) - {"anonymous", "bad_key"}
REGULATORS = {"regulator", "regulator_in", "regulator_out"}

#: rule → the actors it admits. ``public`` admits everyone (a junk key may be told it is junk);
#: ``web`` pages need a signed-in session (anonymous is sent to sign in).
ADMITS: dict[str, set[str]] = {
    "public": set(ACTORS),
    "key": KEYED,
    "regulator": REGULATORS,
    "manufacturer": {"maker", "other_maker"},
    "unit": {"maker", "owner", "regulator", "regulator_in"},
    "unit_owner": {"owner", "regulator", "regulator_in"},
    "incident": {"maker", "owner", "regulator", "regulator_in"},
    "recall": {"maker", "regulator", "regulator_in"},
    # a provincial regulator recalls the units in its province (none here: 422 nothing in scope)
    "recall_open": {"maker", "regulator", "regulator_in", "regulator_out"},
    "recall_units": {"maker", "owner", "regulator", "regulator_in"},
    "signal": {"maker", "regulator", "regulator_in"},
    "signal_decide": {"regulator", "regulator_in"},
    "org": {"maker", "regulator", "regulator_in"},
    "org_keys": {"maker", "regulator"},
    "model_decide": {"regulator", "regulator_in"},
    "model_codes": {"maker"},
    "org_create": {"regulator", "regulator_in"},
    "org_decide": {"regulator", "regulator_in"},
    "accredited_lab": set(),  # none of the actors here is an accredited testing lab
    "pilot_open": {"regulator", "regulator_in"},
    "national": {"regulator"},
    "web": set(),
    "web_public": set(ACTORS),
}

#: (method, path) → rule. Every route served must be here.
RULES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/verify/{code:path}"): "public",
    ("GET", "/r"): "public", ("GET", "/r/"): "public", ("GET", "/r/{code:anything}"): "public",
    ("GET", "/healthz"): "public", ("GET", "/static/{name:path}"): "public",
    ("GET", "/.well-known/jwks.json"): "public",
    ("GET", "/api/v1/ledger/head"): "public", ("GET", "/api/v1/ledger/entries"): "public",
    ("GET", "/api/v1/ledger/proof/inclusion"): "public",
    ("GET", "/api/v1/ledger/proof/consistency"): "public",
    ("GET", "/api/v1/robots/{code}/passport"): "public",
    ("GET", "/api/v1/robots/{code}/label.svg"): "public",
    ("GET", "/api/v1/robots/{code}/label.png"): "public",
    ("GET", "/api/v1/robots/{code}"): "public",
    ("POST", "/api/v1/organizations"): "org_create",
    ("GET", "/api/v1/organizations"): "regulator",
    ("GET", "/api/v1/organizations/me"): "key",
    ("GET", "/api/v1/organizations/{org_id}"): "org",
    ("POST", "/api/v1/organizations/{org_id}/keys"): "org_keys",
    ("GET", "/api/v1/organizations/{org_id}/keys"): "org_keys",
    ("DELETE", "/api/v1/organizations/{org_id}/keys/{key_id}"): "org_keys",
    ("POST", "/api/v1/service-authorizations"): "unit_owner",
    ("POST", "/api/v1/models"): "manufacturer",
    ("GET", "/api/v1/models"): "key",
    ("GET", "/api/v1/models/{model_id}"): "key",
    ("POST", "/api/v1/models/{model_id}/approve"): "model_decide",
    ("POST", "/api/v1/models/{model_id}/reject"): "model_decide",
    ("POST", "/api/v1/models/{model_id}/suspend"): "model_decide",
    ("POST", "/api/v1/models/{model_id}/revoke"): "model_decide",
    ("POST", "/api/v1/models/{model_id}/codes"): "model_codes",
    ("GET", "/api/v1/robots"): "key",
    ("POST", "/api/v1/robots/{code}/events"): "unit_owner",
    ("POST", "/api/v1/events"): "unit_owner",
    ("GET", "/api/v1/robots/{code}/events"): "unit",
    ("GET", "/api/v1/refused-attempts"): "regulator",
    ("GET", "/api/v1/fraud-alerts"): "regulator",
    ("GET", "/api/v1/robots/{code}/epcis"): "unit",
    ("POST", "/api/v1/epcis/capture"): "key",
    ("GET", "/api/v1/robots/{code}/maintenance"): "unit",
    ("GET", "/api/v1/work-orders"): "key",
    ("POST", "/api/v1/telemetry"): "key",
    ("GET", "/api/v1/robots/{code}/health"): "unit",
    ("GET", "/api/v1/robots/{code}/telemetry"): "unit",
    ("POST", "/api/v1/recalls"): "recall_open",
    ("GET", "/api/v1/recalls"): "key",
    ("GET", "/api/v1/recalls/{recall_id}"): "recall",
    ("GET", "/api/v1/recalls/{recall_id}/units"): "recall_units",
    ("POST", "/api/v1/incidents"): "unit_owner",
    ("GET", "/api/v1/incidents/{incident_id}"): "incident",
    ("GET", "/api/v1/incidents/{incident_id}/trace"): "incident",
    ("GET", "/api/v1/robots/{code}/incidents"): "key",
    ("GET", "/api/v1/signals"): "key",
    ("GET", "/api/v1/signals/{signal_id}"): "signal",
    ("POST", "/api/v1/signals/scan"): "regulator",
    ("POST", "/api/v1/signals/{signal_id}/dismiss"): "signal_decide",
    ("POST", "/api/v1/signals/{signal_id}/recall"): "signal",
    ("POST", "/api/v1/subscriptions"): "key",
    ("GET", "/api/v1/subscriptions"): "key",
    ("DELETE", "/api/v1/subscriptions/{subscription_id}"): "key",
    ("GET", "/api/v1/notifications"): "key",
    ("GET", "/api/v1/stats/overview"): "regulator",
    ("GET", "/api/v1/stats/fleet-health"): "regulator",
    ("GET", "/api/v1/stats/incidents"): "regulator",
    ("GET", "/api/v1/stats/supply-chain"): "regulator",
    ("GET", "/api/v1/audit-log"): "regulator",
    ("GET", "/"): "web_public", ("GET", "/app"): "web", ("GET", "/app/"): "web",
    ("GET", "/app/login"): "web_public", ("POST", "/app/login"): "web_public",
    ("POST", "/app/logout"): "web",
    ("GET", "/app/dashboard"): "web", ("GET", "/app/supply-chain"): "web",
    ("GET", "/app/units"): "web", ("POST", "/app/models/{model_id}/decide"): "web",
    ("GET", "/app/labels/sheet.{fmt}"): "web", ("GET", "/app/portal"): "web",
    ("POST", "/app/portal/codes"): "web", ("POST", "/app/portal/intake"): "web",
    ("GET", "/app/incidents/{incident_id}/trace"): "web",
    ("GET", "/app/units/{raw}"): "web",
    # SPEC §13 filings and decisions
    ("PATCH", "/api/v1/organizations/{org_id}"): "org_decide",
    ("POST", "/api/v1/organizations/{org_id}/suspend"): "org_decide",
    ("POST", "/api/v1/organizations/{org_id}/reinstate"): "org_decide",
    ("POST", "/api/v1/organizations/{org_id}/deregister"): "org_decide",
    ("POST", "/api/v1/organizations/{org_id}/accreditation"): "org_decide",
    ("POST", "/api/v1/models/{model_id}/evaluations"): "accredited_lab",
    ("GET", "/api/v1/models/{model_id}/evaluations"): "key",
    ("POST", "/api/v1/models/{model_id}/amendments"): "model_codes",
    ("GET", "/api/v1/models/{model_id}/versions"): "key",
    ("POST", "/api/v1/models/{model_id}/amendments/{amendment_id}/approve"): "model_decide",
    ("POST", "/api/v1/models/{model_id}/amendments/{amendment_id}/reject"): "model_decide",
    ("POST", "/api/v1/recalls/{recall_id}/close"): "recall",
    ("GET", "/api/v1/decisions"): "key",
    # SPEC §14 regulation
    ("PUT", "/api/v1/policies/{scenario}"): "regulator",
    ("GET", "/api/v1/policies"): "public",
    ("GET", "/api/v1/policies/{scenario}/versions"): "public",
    ("POST", "/api/v1/pilots"): "pilot_open",
    ("POST", "/api/v1/pilots/{pilot_id}/end"): "regulator",
    ("GET", "/api/v1/pilots"): "public",
    ("GET", "/api/v1/pilots/{pilot_id}"): "public",
    ("GET", "/api/v1/compliance/findings"): "key",
    ("POST", "/api/v1/compliance/scan"): "national",
    ("GET", "/api/v1/stats/regulation"): "regulator",
    # SPEC §15, §16 transparency, passports, hand-over (peers sign their own messages)
    ("GET", "/api/v1/ledger/checkpoint"): "public",
    ("GET", "/api/v1/ledger/vkey"): "public",
    ("GET", "/api/v1/ledger/tile/{path:path}"): "public",
    ("GET", "/api/v1/robots/{code}/passport.qr"): "public",
    ("GET", "/api/v1/status-list"): "public",
    ("POST", "/api/v1/federation/handover"): "public",
    # the browser's pages and forms (SPEC §9)
    ("GET", "/app/act/{name}"): "web", ("POST", "/app/act/{name}"): "web",
    ("GET", "/app/models"): "web", ("GET", "/app/models/{model_id}"): "web",
    ("GET", "/app/organizations"): "web", ("GET", "/app/policies"): "web",
    ("GET", "/app/pilots"): "web", ("GET", "/app/recalls"): "web",
    ("GET", "/app/recalls/{recall_id}"): "web", ("GET", "/app/signals"): "web",
    ("GET", "/app/search"): "web",
    ("GET", "/app/findings"): "web", ("GET", "/app/keys"): "web",
    ("GET", "/app/organizations/{org_id}"): "web",
}

def test_every_served_route_has_a_rule(sqlite_client) -> None:  # type: ignore[no-untyped-def]
    served = api_routes(sqlite_client.raw.app)
    assert len(served) > 50, "the route table could not be read"
    missing = [f"{m} {p}" for m, p in served if (m, p) not in RULES]
    assert not missing, "routes without an entry in tests/test_gate_matrix.py RULES: " + \
        ", ".join(missing)
    stale = [f"{m} {p}" for m, p in RULES if (m, p) not in set(served)]
    assert not stale, "RULES names routes the application no longer serves: " + ", ".join(stale)


# --- the world ---------------------------------------------------------------------------------

def _world(client: Any) -> dict[str, Any]:
    c = client
    maker = c.org("manufacturer", province="110000", city="110100")
    other_maker = c.org("manufacturer", province="310000", city="310100")
    owner = c.org("operator", province="110000", city="110100")
    other_operator = c.org("operator", province="310000", city="310100")
    provider = c.org("service_provider", province="110000", city="110100")
    lab = c.org("testing_lab", province="110000", city="110100")
    reg_in = c.org("regulator", scope_province="110000")
    reg_out = c.org("regulator", scope_province="310000")
    model_id = c.approved_model(maker)
    code, spare = c.codes(maker, model_id, 2)
    c.event(maker, code, "manufactured", at="2026-03-10T08:00:00Z")
    c.event(maker, code, "sold", to_organization=owner.id, at="2026-03-11T08:00:00Z")
    c.event(owner, code, "deployed", at="2026-03-12T08:00:00Z",
            details={"scenario": "industrial", "province": "110000", "city": "110100"})
    r = c.post("/api/v1/incidents", {"code": code, "at": "2026-03-13T08:00:00Z",
                                     "type": "malfunction", "severity": "minor",
                                     "description": "arm stopped"}, owner)
    assert r.status_code == 201, r.text
    incident_id = r.json()["id"]
    r = c.post("/api/v1/recalls", {"reason": "battery cells", "scope": {"model_id": model_id}},
               maker)
    assert r.status_code == 201, r.text
    recall_id = r.json()["id"]
    # an attempt refused in Beijing, for the lists of refused attempts
    r = c.post(f"/api/v1/robots/{spare}/events", {"type": "sold",
                                                  "to_organization": owner.id}, maker)
    assert r.status_code >= 400
    signal_id = _insert_signal(client.registry.url, model_id, maker.id, code)
    actors = {"anonymous": None, "bad_key": "bad", "maker": maker, "other_maker": other_maker,
              "owner": owner, "other_operator": other_operator, "regulator": c.regulator,
              "regulator_in": reg_in, "regulator_out": reg_out}
    return {"actors": actors, "code": code, "spare": spare, "model_id": model_id,
            "incident_id": incident_id, "recall_id": recall_id, "signal_id": signal_id,
            "maker": maker, "owner": owner, "provider": provider, "lab": lab}


def _insert_signal(url: str, model_id: str, maker_id: str, code: str) -> str:
    from robopass.db import writing
    from robopass.signals.models import DefectSignal

    now = datetime.now(UTC)
    with writing(url) as session:
        session.add(DefectSignal(
            id="sig_matrix", group_kind="model", group_key=model_id, model_id=model_id,
            supplier_id=None, batch=None, trigger_kind="fault_code", trigger_value="E42",
            units=[code], unit_count=1, population=1, rate=1.0, window_start=now,
            window_end=now, manufacturer_ids=[maker_id], raised_at=now, updated_at=now,
            status="open", recall_id=None))
    return "sig_matrix"


def _path(template: str, w: dict[str, Any]) -> str:
    values = {"code": w["code"], "raw": w["code"], "raw:path": w["code"],
              "incident_id": w["incident_id"], "recall_id": w["recall_id"],
              "signal_id": w["signal_id"], "model_id": w["model_id"],
              "org_id": w["maker"].id, "key_id": "key_nonexistent",
              "amendment_id": "amd_nonexistent", "pilot_id": "pil_nonexistent",
              "scenario": "industrial", "path:path": "0/000", "name": "event-sold",
              "subscription_id": "sub_nonexistent", "name:path": "app.css", "fmt": "svg"}
    out = template
    if template.startswith("/api/v1/organizations/{org_id}/") and template.rsplit("/", 1)[1] in (
            "suspend", "reinstate", "deregister", "accreditation"):
        out = out.replace("{org_id}", w["lab"].id)  # not the maker: the later calls need it
    for name, value in values.items():
        out = out.replace("{" + name + "}", value)
    return out + QUERIES.get(template, "").replace("{model_id}", w["model_id"])


#: Query parameters a route needs to reach its gate.
QUERIES = {"/api/v1/ledger/proof/inclusion": "?index=0&size=1",
           "/api/v1/ledger/proof/consistency": "?first=1&second=2",
           "/api/v1/ledger/entries": "?start=0&end=1",
           "/app/labels/sheet.{fmt}": "?model={model_id}"}


def _bodies(w: dict[str, Any]) -> dict[tuple[str, str], Callable[[], Any]]:
    from tests.utils.api import make_uscc

    code = w["code"]
    return {
        ("POST", "/api/v1/organizations"): lambda: {
            "name": f"Matrix {next(_names)}", "roles": ["operator"], "country": "CN",
            "uscc": make_uscc(), "province": "110000", "city": "110100"},
        ("POST", "/api/v1/service-authorizations"): lambda: {
            "provider_id": w["provider"].id, "code": code},
        ("POST", "/api/v1/models"): lambda: model_body(),
        ("POST", "/api/v1/models/{model_id}/codes"): lambda: {
            "count": 1, "plant": "A1", "production_month": "2026-03"},
        ("POST", "/api/v1/robots/{code}/events"): lambda: {"type": "suspended"},
        ("POST", "/api/v1/events"): lambda: {"events": [{"code": code, "type": "suspended"}]},
        ("POST", "/api/v1/recalls"): lambda: {"reason": "again",
                                              "scope": {"model_id": w["model_id"]}},
        ("POST", "/api/v1/incidents"): lambda: {
            "code": code, "at": "2026-03-14T08:00:00Z", "type": "near_miss",
            "severity": "minor", "description": "close call"},
        ("POST", "/api/v1/signals/{signal_id}/dismiss"): lambda: {"reason": "not a defect"},
        ("POST", "/api/v1/subscriptions"): lambda: {"url": "https://example.org/hook",
                                                    "topics": ["recall"]},
        ("POST", "/api/v1/telemetry"): lambda: [],
        ("PATCH", "/api/v1/organizations/{org_id}"): lambda: {"name_zh": "矩阵测试"},
        ("POST", "/api/v1/organizations/{org_id}/suspend"): lambda: {"reason": "matrix"},
        ("POST", "/api/v1/organizations/{org_id}/reinstate"): lambda: {"reason": "matrix"},
        ("POST", "/api/v1/organizations/{org_id}/deregister"): lambda: {"reason": "matrix"},
        ("POST", "/api/v1/organizations/{org_id}/accreditation"): lambda: {
            "scopes": ["safety"], "valid_until": "2030-01-01"},
        ("POST", "/api/v1/models/{model_id}/evaluations"): lambda: evaluation_body(),
        ("POST", "/api/v1/models/{model_id}/amendments"): lambda: {
            "changes": {"parameters": {"height_cm": 170}}, "reason": "matrix"},
        ("POST", "/api/v1/recalls/{recall_id}/close"): lambda: {"reason": "matrix"},
        ("PUT", "/api/v1/policies/{scenario}"): lambda: {"rules": {"max_level": 5},
                                                          "reason": "matrix"},
        ("POST", "/api/v1/pilots"): lambda: {
            "name": "Matrix pilot", "scenario": "industrial", "provinces": ["110000"],
            "starts": "2026-01-01T00:00:00Z", "ends": "2027-01-01T00:00:00Z",
            "participants": [w["owner"].id], "rules": {}, "reason": "matrix"},
        ("POST", "/api/v1/pilots/{pilot_id}/end"): lambda: {"reason": "matrix"},
        ("POST", "/api/v1/epcis/capture"): lambda: {},
    }


_names = itertools.count(1)


def _call(client: Any, method: str, path: str, actor: Any, body: Any) -> Any:
    headers = {}
    if actor == "bad":
        headers = {"Authorization": "Bearer rp_bad_key"}
    elif actor is not None:
        headers = actor.auth
    if method in ("GET", "DELETE"):
        return client.raw.request(method, path, headers=headers, follow_redirects=False)
    return client.raw.request(method, path, json=body, headers=headers, follow_redirects=False)


def _judge(rule: str, who: str, method: str, status: int, admitted: bool) -> str | None:
    if rule.startswith("web"):
        if who != "anonymous" or rule == "web_public":
            return None  # the signed-in pages are tried by tests/web with real sessions
        ok = status in (303, 307, 401, 403) or (method == "POST" and status in (400, 422))
        return None if ok else f"anonymous got {status} from a signed-in page"
    if who == "anonymous" and rule != "public":
        return None if status == 401 else f"{status} != 401 without a key"
    if who == "bad_key":
        if rule == "public":  # a public route may ignore the header or say it is junk
            return None if status != 403 else "403 for a junk key on a public route"
        return None if status == 401 else f"{status} for a junk key"
    if admitted:
        return f"refused ({status}) though the rule admits it" if status in (401, 403) else None
    return None if status in (403, 404) else f"{status}, expected 403/404"


@pytest.mark.slow
def test_every_route_every_role(client) -> None:  # type: ignore[no-untyped-def]
    w = _world(client)
    bodies = _bodies(w)
    served = api_routes(client.raw.app)
    problems: list[str] = []
    # Reads first (every actor); writes only as actors the rule refuses (nothing changes), then
    # as admitted actors in a second pass at the end.
    for admitted_pass in (False, True):
        for method, template in served:
            rule = RULES.get((method, template))
            if rule is None:
                problems.append(f"{method} {template}: no rule")
                continue
            writes = method != "GET"
            for who in ACTORS:
                admitted = who in ADMITS[rule]
                if writes and admitted != admitted_pass:
                    continue
                if not writes and admitted_pass:
                    continue
                body = bodies.get((method, template), lambda: None)()
                r = _call(client, method, _path(template, w), w["actors"][who], body)
                if r.status_code >= 500:
                    problems.append(f"{method} {template} as {who}: {r.status_code}")
                    continue
                verdict = _judge(rule, who, method, r.status_code, admitted)
                if verdict:
                    problems.append(f"{method} {template} as {who}: {verdict} "
                                    f"{r.text[:160]}")
    assert not problems, "\n".join(problems)


LISTS: dict[str, Callable[[dict[str, Any]], tuple[str, Callable[[Any], bool]]]] = {
    "/api/v1/recalls": lambda w: (w["recall_id"], lambda b: any(
        r["id"] == w["recall_id"] for r in b)),
    "/api/v1/signals": lambda w: (w["signal_id"], lambda b: any(
        s["id"] == w["signal_id"] for s in b["signals"])),
    "/api/v1/robots": lambda w: (w["code"], lambda b: any(
        r["code"] == w["code"] for r in b["robots"])),
    "/api/v1/refused-attempts": lambda w: (w["spare"], lambda b: any(
        a["code_input"] == w["spare"] for a in b["attempts"])),
    "/api/v1/audit-log": lambda w: (w["code"], lambda b: any(
        e["subject"] in (w["code"], w["incident_id"]) for e in b["entries"])),
    "/api/v1/organizations": lambda w: (w["maker"].id, lambda b: any(
        o["id"] == w["maker"].id for o in b)),
    "/api/v1/models?status=submitted": lambda w: ("filing", lambda b: any(
        m["id"] == w["filing"] for m in (b if isinstance(b, list) else b["models"]))),
}


def test_lists_are_filtered_by_province(client) -> None:  # type: ignore[no-untyped-def]
    w = _world(client)
    # a sensitive read (audited) and a filing awaiting decision, both in Beijing
    assert client.get(f"/api/v1/robots/{w['code']}/events", w["owner"]).status_code == 200
    r = client.post("/api/v1/models", model_body(), w["maker"])
    assert r.status_code == 201, r.text
    w["filing"] = r.json()["id"]
    problems = []
    for path, probe in LISTS.items():
        item, contains = probe(w)
        for who, should in (("regulator", True), ("regulator_in", True),
                            ("regulator_out", False)):
            r = client.get(path, w["actors"][who])
            assert r.status_code == 200, f"{path} as {who}: {r.text}"
            if contains(r.json()) != should:
                problems.append(f"{path} as {who}: {'missing' if should else 'shows'} {item}")
    assert not problems, "\n".join(problems)


#: Signed-in pages that show one object, and the rule of the API route showing the same data.
WEB_PAGES = {"/app/units/{raw}": "unit", "/app/incidents/{incident_id}/trace": "incident",
             "/app/organizations/{org_id}": "org"}


def test_web_pages_follow_the_gate(client) -> None:  # type: ignore[no-untyped-def]
    from tests.web.app_helpers import browser_for

    w = _world(client)
    problems = []
    for who in sorted(KEYED):
        actor = w["actors"][who]
        browser = browser_for(client.raw.app, actor.key)
        for template, rule in WEB_PAGES.items():
            r = browser.get(_path(template, w))
            admitted = who in ADMITS[rule]
            if admitted != (r.status_code == 200):
                problems.append(f"{template} as {who}: {r.status_code}")
    # the reads were audit-logged by the gate, like the API's
    entries = client.get(f"/api/v1/audit-log?subject={w['code']}", client.regulator).json()
    assert any(e["path"].startswith("/app/units/") for e in entries["entries"])
    assert not problems, "\n".join(problems)
