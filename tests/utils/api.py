"""Test helpers: an API client that knows the regulator's key and builds realistic fixtures."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from stdnum.cn import uscc as stdnum_uscc

_counter = itertools.count(1)

#: Where and for what a test deploys a unit (``deployed`` must say so, SPEC §14): a factory
#: in Shenzhen, under the permissive default industrial policy.
DEPLOYMENT = {"scenario": "industrial", "province": "440000", "city": "440300"}


def make_uscc(rng: random.Random | None = None) -> str:
    """A valid 18-character Unified Social Credit Code (check character from python-stdnum)."""
    rng = rng or random.Random()
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "91" + f"{rng.choice([110000, 310000, 440300, 330100]):06d}" + "".join(
        rng.choice(alphabet) for _ in range(9))
    return body + stdnum_uscc.calc_check_digit(body)


def model_body(name: str | None = None, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name or f"Walker H{next(_counter)}",
        "hardware_class": "B",
        "intelligence_level": 3,
        "parameters": {"height_cm": 172, "mass_kg": 65, "degrees_of_freedom": 43,
                       "payload_kg": 20, "max_speed_mps": 3.3, "battery_chemistry": "NMC",
                       "battery_capacity_wh": 864},
        "components": [{"type": "battery_pack", "name": "BP-48V"},
                       {"type": "joint_actuator", "name": "JA-120", "quantity": 28}],
        "software": {"name": "MotionOS", "version": "2.4.1", "ai_stack": "VLA-7B"},
    }
    body.update(over)
    return body


def evaluation_body(level: int = 3, /, **over: Any) -> dict[str, Any]:
    """A passing evaluation with every grade and the overall at ``level`` (SPEC §13); keys
    given in ``over`` replace the defaults."""
    body: dict[str, Any] = {
        "grades": {"perception": level, "decision": level, "execution": level,
                   "collaboration": level},
        "overall": level,
        "safety_tests": [{"standard": "GB/T 36530-2018", "result": "pass"},
                         {"standard": "ISO 13482:2014", "result": "pass"}],
        "report_sha256": "ab" * 32, "valid_until": "2030-06-30"}
    body.update(over)
    return body


@dataclass
class Org:
    id: str
    key: str
    company_code: str | None

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


class ApiClient:
    def __init__(self, raw: Any, registry: Any) -> None:
        self.raw = raw
        self.registry = registry
        self.regulator = Org(id="", key=registry.regulator_key, company_code=None)

    # plain HTTP, with an optional org
    def get(self, url: str, org: Org | None = None, **kw: Any) -> Any:
        return self.raw.get(url, headers=org.auth if org else {}, **kw)

    def post(self, url: str, json: Any = None, org: Org | None = None, **kw: Any) -> Any:
        return self.raw.post(url, json=json, headers=org.auth if org else {}, **kw)

    def patch(self, url: str, json: Any = None, org: Org | None = None, **kw: Any) -> Any:
        return self.raw.patch(url, json=json, headers=org.auth if org else {}, **kw)

    # fixtures
    def org(self, *roles: str, country: str = "CN", **over: Any) -> Org:
        body: dict[str, Any] = {"name": f"Org {next(_counter)} {'/'.join(roles)}",
                                "roles": list(roles), "country": country}
        if country == "CN":
            body["uscc"] = make_uscc()
        else:
            body["registration_number"] = f"HRB {next(_counter)}"
        body.update(over)
        r = self.post("/api/v1/organizations", body, self.regulator)
        assert r.status_code == 201, r.text
        data = r.json()
        return Org(id=data["id"], key=data["api_key"], company_code=data["company_code"])

    def ledger_size(self) -> int:
        """The ledger's size now (decisions, such as approvals, are leaves too)."""
        return int(self.get("/api/v1/ledger/head").json()["size"])

    def lab(self, scopes: tuple[str, ...] = ("intelligence", "safety"),
            valid_until: str = "2030-12-31", **over: Any) -> Org:
        """A testing lab accredited by the regulator (SPEC §13)."""
        lab = self.org("testing_lab", **over)
        r = self.post(f"/api/v1/organizations/{lab.id}/accreditation",
                      {"scopes": list(scopes), "valid_until": valid_until}, self.regulator)
        assert r.status_code == 200, r.text
        return lab

    def evaluate(self, model_id: str, lab: Org | None = None, *, overall: int | None = None,
                 expect: int = 201, **over: Any) -> Any:
        """File a passing evaluation (grades around ``overall``, default the filed level)."""
        if overall is None:
            r = self.get(f"/api/v1/models/{model_id}", self.regulator)
            overall = max(1, int(r.json()["intelligence_level"])) if r.status_code == 200 else 3
        if lab is None:
            lab = self.default_lab = getattr(self, "default_lab", None) or self.lab()
        body = evaluation_body(overall, **over)
        r = self.post(f"/api/v1/models/{model_id}/evaluations", body, lab)
        assert r.status_code == expect, r.text
        return r.json()

    def approved_model(self, maker: Org, **over: Any) -> str:
        r = self.post("/api/v1/models", model_body(**over), maker)
        assert r.status_code == 201, r.text
        model_id = r.json()["id"]
        self.evaluate(model_id, overall=max(1, int(over.get("intelligence_level", 3))))
        r = self.post(f"/api/v1/models/{model_id}/approve", None, self.regulator)
        assert r.status_code == 200, r.text
        return str(model_id)

    def codes(self, maker: Org, model_id: str, count: int = 3, plant: str = "A1",
              month: str = "2026-03") -> list[str]:
        # Issued as of the production month's first day, as a registry running since then
        # would have: tests date their events within that month, and an event may not be
        # dated before its code's issuance (SPEC §12).
        issued = datetime(int(month[:4]), int(month[5:7]), 1, tzinfo=UTC)
        with mock.patch("robopass.robots.service.utcnow", lambda: issued):
            r = self.post(f"/api/v1/models/{model_id}/codes",
                          {"count": count, "plant": plant, "production_month": month}, maker)
        assert r.status_code == 201, r.text
        return list(r.json()["codes"])

    def event(self, org: Org, code: str, type: str, expect: int = 201, **body: Any) -> Any:
        r = self.post(f"/api/v1/robots/{code}/events", {"type": type, **body}, org)
        assert r.status_code == expect, r.text
        return r.json()

    def manufactured_unit(self, maker: Org | None = None) -> tuple[Org, str]:
        maker = maker or self.org("manufacturer")
        model_id = self.approved_model(maker)
        code = self.codes(maker, model_id, 1)[0]
        self.event(maker, code, "manufactured", at="2026-03-10T08:00:00Z")
        return maker, code
