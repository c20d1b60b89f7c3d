"""A realistic demo registry (``robopass seed`` / ``make demo``).

Everything goes through the same services as the API — organisations, model filings and
decisions, code issuance, lifecycle events under the rules (so every code and event is in the
ledger), service authorisations, a recall, an incident, telemetry — with a fixed random seed so
the demo is reproducible. Over 100 organisations, 200 product models and 28,000 units across
statuses and provinces by default.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from stdnum.cn import uscc as stdnum_uscc

from robopass import demo_filings, demo_regulation
from robopass.auth.service import Actor
from robopass.db import transaction, write_session, writing
from robopass.lifecycle import service as lifecycle_service
from robopass.organizations import service as org_service
from robopass.organizations.models import Organization
from robopass.product_models import service as model_service
from robopass.product_models.schemas import ModelCreate
from robopass.registry.service import initialise
from robopass.robots import service as robot_service

Progress = Callable[[str, int], None]

CITIES = [  # (province, city, weight): where humanoid robots are deployed
    ("110000", "110100", 14), ("310000", "310100", 12), ("440000", "440300", 12),
    ("440000", "440100", 7), ("330000", "330100", 8), ("320000", "320500", 6),
    ("320000", "320100", 4), ("510000", "510100", 5), ("420000", "420100", 5),
    ("370000", "370200", 4), ("120000", "120100", 4), ("500000", "500100", 3),
    ("610000", "610100", 3), ("340000", "340100", 4), ("430000", "430100", 3),
    ("350000", "350200", 2), ("210000", "210100", 2), ("441900", "441900", 0),
]
CITIES = [c for c in CITIES if c[2] > 0]

PLACES = ["Beijing", "Shanghai", "Shenzhen", "Hangzhou", "Suzhou", "Guangzhou", "Wuhan",
          "Chengdu", "Hefei", "Tianjin", "Nanjing", "Changsha", "Xi'an", "Qingdao", "Dongguan",
          "Xiamen", "Chongqing", "Ningbo", "Shenyang", "Foshan"]
PLACE_DIVISION = {"Beijing": "110000", "Shanghai": "310000", "Shenzhen": "440000",
                  "Hangzhou": "330000", "Suzhou": "320000", "Guangzhou": "440000",
                  "Wuhan": "420000", "Chengdu": "510000", "Hefei": "340000",
                  "Tianjin": "120000", "Nanjing": "320000", "Changsha": "430000",
                  "Xi'an": "610000", "Qingdao": "370000", "Dongguan": "440000",
                  "Xiamen": "350000", "Chongqing": "500000", "Ningbo": "330000",
                  "Shenyang": "210000", "Foshan": "440000"}
CORES = ["Lingxi", "Tianqi", "Zhiyuan", "Xingdong", "Jufeng", "Kaiwu", "Yunbu", "Qianli",
         "Mingshi", "Haoyu", "Ruibo", "Shenxing", "Tengyun", "Weilan", "Xuanji", "Yaoguang",
         "Zhixing", "Boyuan", "Chuangxin", "Dexin", "Fengchi", "Guangyu", "Huayi", "Jingwei",
         "Kunpeng", "Longmen", "Moyuan", "Nuoya", "Pangu", "Qiyun", "Rongsheng", "Shanhe",
         "Taiji", "Wanxiang", "Xinghe", "Yuheng", "Zhuque", "Aoxiang", "Beidou", "Canglong"]
MAKER_SUFFIX = ["Robotics Co., Ltd.", "Intelligent Technology Co., Ltd.",
                "Embodied AI Co., Ltd.", "Humanoid Robot Co., Ltd.", "Automation Co., Ltd."]
ROLE_SUFFIX = {
    "component_supplier": ["Power Systems Co., Ltd.", "Actuator Technology Co., Ltd.",
                           "Sensing Technology Co., Ltd.", "Battery Co., Ltd.",
                           "Precision Drive Co., Ltd."],
    "software_provider": ["AI Software Co., Ltd.", "Cognitive Computing Co., Ltd."],
    "seller": ["Robot Trading Co., Ltd.", "Smart Equipment Sales Co., Ltd."],
    "operator": ["Logistics Co., Ltd.", "Elderly Care Services Co., Ltd.",
                 "Automotive Manufacturing Co., Ltd.", "Retail Chain Co., Ltd.",
                 "Hospital Group Co., Ltd.", "Hotel Management Co., Ltd."],
    "service_provider": ["Robot Maintenance Service Co., Ltd."],
    "recycler": ["Renewable Resources Co., Ltd."],
    "testing_lab": ["Robot Testing and Certification Center"],
}
FOREIGN = [("DE", "Bavaria Motion Robotics GmbH", ["manufacturer"], "HRB 218734"),
           ("JP", "Kansai Humanoid Works K.K.", ["manufacturer"], "0120-01-098765"),
           ("US", "Cascade Bipedal Inc.", ["manufacturer"], "EIN 84-3321907"),
           ("KR", "Hanbit Actuator Co., Ltd.", ["component_supplier"], "110111-7654321"),
           ("DE", "Rhein Zellen Batterie GmbH", ["component_supplier"], "HRB 99812")]
MODEL_WORDS = ["Walker", "Atlas", "Pioneer", "Companion", "Titan", "Swift", "Guardian",
               "Helper", "Nova", "Orion", "Apex", "Kylin", "Phoenix", "Dragon", "Crane", "Panda"]
FIRMWARE = ["1.8.2", "2.0.1", "2.1.0", "2.2.4", "3.0.0"]
#: Approved builds of every seeded model: the firmware above and the simulator's.
APPROVED_BUILDS = [*FIRMWARE, "2.3.0", "2.4.1", "2.5.0"]
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

#: share of units per final state
STAGES = [("coded", 4), ("manufactured", 9), ("in_distribution", 8), ("sold", 10),
          ("in_service", 53), ("under_maintenance", 4), ("suspended", 2),
          ("decommissioned", 3), ("recycled", 4), ("scrapped", 3)]


def make_uscc(rng: random.Random, division: str) -> str:
    body = "91" + division + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
    return body + str(stdnum_uscc.calc_check_digit(body))


@dataclass
class DemoResult:
    url: str
    regulator_key: str | None
    keys: dict[str, dict[str, str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    sample_codes: dict[str, str] = field(default_factory=dict)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"database": self.url, "regulator_api_key": self.regulator_key,
                                    "organizations": self.keys, "counts": self.counts,
                                    "sample_codes": self.sample_codes}, indent=2,
                                   ensure_ascii=False))


class _Seeder:
    def __init__(self, url: str, units: int, rng: random.Random, progress: Progress) -> None:
        self.url = url
        self.n_units = units
        self.rng = rng
        self.progress = progress
        self.now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
        self.orgs: dict[str, list[Actor]] = defaultdict(list)
        self.keys: dict[str, dict[str, str]] = {}
        self.regulator: Actor
        self.later: list[tuple[str, model_service.Decision]] = []
        # Filings data (SPEC §13) draws from its own generator: the rest stays as it was.
        self.filings_rng = random.Random(rng.random())
        self.lab_until = (self.now + timedelta(days=3 * 365)).date()
        self.hubei_lab: Actor | None = None
        # Regulation data (SPEC §14) draws from its own generator too.
        self.regulation_rng = random.Random(rng.random())
        self.admitted: dict[str, list[str]] = {}
        self.pilot_admitted: set[str] = set()
        self.pilot_participants: set[str] = set()

    # -- organisations -----------------------------------------------------------------------
    def organizations(self, regulator_key: str) -> None:
        from robopass.auth import service as auth_service

        with writing(self.url) as session:
            self.regulator = auth_service.authenticate(session, regulator_key)
            rng = self.rng
            plan: list[tuple[str, list[str]]] = (
                [("manufacturer", ["manufacturer"])] * 58
                + [("component_supplier", ["component_supplier"])] * 14
                + [("software_provider", ["software_provider"])] * 6
                + [("seller", ["seller"])] * 8 + [("operator", ["operator"])] * 16
                + [("service_provider", ["service_provider"])] * 5
                + [("recycler", ["recycler"])] * 3 + [("testing_lab", ["testing_lab"])] * 3)
            used: set[str] = set()
            for kind, roles in plan:
                while True:
                    place, core = rng.choice(PLACES), rng.choice(CORES)
                    suffix = rng.choice(MAKER_SUFFIX if kind == "manufacturer"
                                        else ROLE_SUFFIX[kind])
                    name = f"{place} {core} {suffix}"
                    if name not in used:
                        used.add(name)
                        break
                division = PLACE_DIVISION[place]
                city = next((c for p, c, _ in CITIES if p == division), None)
                if kind == "manufacturer" and rng.random() < 0.15:
                    roles = ["manufacturer", "component_supplier"]
                org, key = org_service.create(
                    session, actor=self.regulator, name=name, roles=roles, country="CN",
                    uscc=make_uscc(rng, division), province=division, city=city)
                self._remember(kind, org, key)
            for country, name, roles, reg_no in FOREIGN:
                org, key = org_service.create(session, actor=self.regulator, name=name,
                                              roles=roles, country=country,
                                              registration_number=reg_no)
                self._remember(roles[0], org, key)
            for province, label in (("110000", "Beijing"), ("310000", "Shanghai")):
                org, key = org_service.create(
                    session, actor=self.regulator, name=f"{label} Humanoid Robot Pilot Centre",
                    roles=["regulator"], country="CN", uscc=make_uscc(rng, province),
                    province=province, scope_province=province)
                self._remember("provincial_regulator", org, key)
        self.hubei_lab, hubei_key = demo_filings.accredit_labs(
            self.url, regulator=self.regulator, labs=self.orgs["testing_lab"],
            uscc=make_uscc(self.filings_rng, "420000"), until=self.lab_until)
        self.keys["testing_lab_hubei"] = {"id": self.hubei_lab.id, "name": self.hubei_lab.name,
                                          "api_key": hubei_key}
        self.progress("organisations", sum(len(v) for v in self.orgs.values()) + 1)

    def _remember(self, kind: str, org: Organization, key: str) -> None:
        actor = Actor.of(org)
        self.orgs[kind].append(actor)
        if kind not in self.keys:  # one sample key per kind, for the demo's sign-in
            self.keys[kind] = {"id": org.id, "name": org.name, "api_key": key}

    # -- models ------------------------------------------------------------------------------
    def models(self) -> list[tuple[str, Actor, int]]:
        """File 200 models; returns the approved ones as (model id, maker, weight)."""
        rng = self.rng
        makers = self.orgs["manufacturer"]
        suppliers = self.orgs["component_supplier"]
        software = self.orgs["software_provider"]
        labs = self.orgs["testing_lab"]
        approved: list[tuple[str, Actor, int]] = []
        decisions = (["approve"] * 184 + ["submitted"] * 8 + ["reject"] * 3 + ["suspend"] * 3
                     + ["revoke"] * 2)
        rng.shuffle(decisions)
        with writing(self.url) as session:
            for i in range(200):
                maker = makers[i % len(makers)] if i < len(makers) else rng.choice(makers)
                hw = rng.choices("BWUSX", weights=[55, 20, 12, 10, 3])[0]
                height = rng.randint(60, 95) if hw == "S" else rng.randint(120, 185)
                word = rng.choice(MODEL_WORDS)
                data = ModelCreate.model_validate({
                    "name": f"{word} {hw}{rng.randint(1, 9)}-{i + 1:03d}",
                    "hardware_class": hw,
                    "intelligence_level": rng.choices(range(6), weights=[2, 8, 25, 35, 22, 8])[0],
                    "parameters": {
                        "height_cm": height, "mass_kg": round(height * rng.uniform(0.25, 0.45), 1),
                        "degrees_of_freedom": rng.randint(20, 60),
                        "payload_kg": rng.choice([5, 10, 15, 20, 30]),
                        "max_speed_mps": round(rng.uniform(0.8, 3.5), 1),
                        "battery_chemistry": rng.choice(["NMC", "LFP", "LFP", "NCA"]),
                        "battery_capacity_wh": rng.choice([480, 720, 864, 1024, 1500])},
                    "components": [
                        {"type": "battery_pack", "name": "Battery pack",
                         "supplier_id": rng.choice(suppliers).id},
                        {"type": "joint_actuator", "name": "Joint actuator",
                         "supplier_id": rng.choice(suppliers).id,
                         "quantity": rng.randint(20, 40)},
                        {"type": "compute", "name": "Main compute unit",
                         "supplier_id": rng.choice(suppliers).id}],
                    "software": {"name": rng.choice(["MotionOS", "EmbodiedCore", "HumaOS"]),
                                 "version": rng.choice(FIRMWARE),
                                 # the builds units and the simulator report (SPEC §13)
                                 "builds": [{"version": v} for v in APPROVED_BUILDS],
                                 "provider_id": rng.choice(software).id,
                                 "ai_stack": rng.choice(["VLA-7B", "VLA-2B", "RT-policy",
                                                         "Diffusion policy"])},
                    "testing_lab_id": rng.choice(labs).id,
                    "certifications": rng.sample(["GB/T 44840", "ISO 10218-1", "ISO 13482",
                                                  "IEC 62368-1", "CR"], 2),
                })
                model = model_service.file(session, actor=maker, data=data)
                decision = decisions[i]
                frng = self.filings_rng  # every model evaluated, pending ones too (SPEC §13)
                lab = self.hubei_lab if frng.random() < 0.2 else next(
                    lab for lab in labs if lab.id == model.testing_lab_id)
                assert lab is not None
                demo_filings.evaluate(session, frng, lab=lab, model=model,
                                      passing=decision != "reject", valid_until=self.lab_until)
                if decision == "submitted":
                    continue
                if decision in ("approve", "suspend", "revoke"):
                    model_service.decide(session, actor=self.regulator, model_id=model.id,
                                         decision="approve")
                    approved.append((model.id, maker, rng.randint(1, 10)))
                if decision == "reject":
                    model_service.decide(session, actor=self.regulator, model_id=model.id,
                                         decision="reject", reason="incomplete safety file")
                elif decision != "approve":  # suspended/revoked after units were coded
                    self.later.append((model.id, "suspend" if decision == "suspend"
                                       else "revoke"))
        self.progress("product models", 200)
        return approved

    # -- units and their lifecycle ------------------------------------------------------------
    def units(self, approved: list[tuple[str, Actor, int]]) -> list[dict[str, Any]]:
        rng = self.rng
        total_weight = sum(w for *_, w in approved)
        plan = []
        remaining = self.n_units
        for i, (model_id, maker, weight) in enumerate(approved):
            n = remaining if i == len(approved) - 1 else max(
                1, round(self.n_units * weight / total_weight))
            n = min(n, remaining - (len(approved) - i - 1))
            remaining -= n
            plan.append((model_id, maker, n))
        units: list[dict[str, Any]] = []
        for model_id, maker, n in plan:
            with writing(self.url) as session:
                model = model_service.get_or_raise(session, model_id)
                if model.status != "approved":
                    continue
                left = n
                while left > 0:
                    batch = min(left, rng.randint(20, 400))
                    months_back = rng.randint(1, 22)
                    month = (self.now.year * 12 + self.now.month - 1) - months_back
                    year, mon = divmod(month, 12)
                    start = datetime(year, mon + 1, 1, tzinfo=UTC)
                    codes = robot_service.issue_codes(
                        session, actor=maker, model_id=model_id, count=batch,
                        plant=rng.choice(["A1", "A2", "B1", "S3", "H7"]),
                        production_month=f"{year:04d}-{mon + 1:02d}", issued_at=start)
                    for code in codes:
                        units.append({"code": code, "maker": maker, "start": start,
                                      "model_id": model_id})
                    left -= batch
            self.progress("units", len(units))
        return units

    def later_decisions(self) -> None:
        """Suspend and revoke some models after their units' history (their units could not
        have been shipped or sold afterwards: SPEC §13)."""
        with writing(self.url) as session:
            for model_id, decision in self.later:
                model_service.decide(session, actor=self.regulator, model_id=model_id,
                                     decision=decision,
                                     reason="market surveillance found a safety defect")

    def revoked_sale_attempts(self, units: list[dict[str, Any]]) -> list[str]:
        """Owners try to resell robots of a revoked model: refused (``model_revoked``, SPEC
        §13) and recorded as refused attempts the regulator sees."""
        revoked = {m for m, decision in self.later if decision == "revoke"}
        tried: list[str] = []
        for unit in units:
            if len(tried) == 3:
                break
            if unit.get("model_id") not in revoked or "owner" not in unit \
                    or unit.get("target") not in ("sold", "in_service"):
                continue
            owner = unit["owner"]
            buyer = next(o for o in self.orgs["operator"] if o.id != owner.id)
            request = lifecycle_service.EventRequest(
                code=unit["code"], type="transferred", to_organization=buyer.id)
            try:
                with write_session(self.url) as session, transaction(session):
                    lifecycle_service.record_events(session, actor=owner, requests=[request])
            except lifecycle_service.EventRefused as refused:
                with writing(self.url) as session:
                    lifecycle_service.record_refusals(session, actor=owner,
                                                      attempts=refused.attempts)
                tried.append(str(unit["code"]))
        return tried

    def amendments(self) -> dict[str, str]:
        """Amendments of approved models, before their units are coded (SPEC §13)."""
        assert self.hubei_lab is not None
        makers = {a.id: a for a in self.orgs["manufacturer"]}
        return demo_filings.amend_models(self.url, self.filings_rng, regulator=self.regulator,
                                         lab=self.hubei_lab, makers=makers,
                                         valid_until=self.lab_until)

    def filings(self, units: list[dict[str, Any]]) -> dict[str, str]:
        """Closed and overdue recalls, a suspended organisation (SPEC §13)."""
        facts = demo_filings.recalls(self.url, regulator=self.regulator, units=units,
                                     now=self.now)
        facts["suspended_organization"] = demo_filings.suspend_organization(
            self.url, regulator=self.regulator, org=self.orgs["manufacturer"][5])
        self.progress("filings", len(facts))
        return facts

    def lifecycle(self, units: list[dict[str, Any]]) -> None:
        rng = self.rng
        stages = [s for s, _ in STAGES]
        weights = [w for _, w in STAGES]
        order = ["coded", "manufactured", "in_distribution", "sold", "in_service"]
        sellers, operators = self.orgs["seller"], self.orgs["operator"]
        providers, recyclers = self.orgs["service_provider"], self.orgs["recycler"]
        suppliers = self.orgs["component_supplier"]
        batches = {s.id: [f"B{rng.randint(2024, 2026)}-{rng.randint(1, 12):02d}-{k}"
                          for k in "ABC"] for s in suppliers}
        # Each operator authorises one or two service providers for all its units.
        authorised: dict[str, list[Actor]] = {}
        with writing(self.url) as session:
            for op in operators:
                authorised[op.id] = rng.sample(providers, rng.randint(1, 2))
                for sp in authorised[op.id]:
                    org_service.authorize_service(session, actor=op, provider_id=sp.id)
        phases: dict[tuple[int, str], list[lifecycle_service.EventRequest]] = defaultdict(list)
        actors: dict[str, Actor] = {a.id: a for group in self.orgs.values() for a in group}
        serial = 0
        for unit in units:
            target = rng.choices(stages, weights=weights)[0]
            unit["target"] = target
            t = unit["start"] + timedelta(days=rng.uniform(0, 20), hours=rng.uniform(0, 23))
            horizon = self.now - timedelta(hours=1)
            step = [0]

            def add(actor: Actor, etype: str, gap_days: float, *, unit: dict[str, Any] = unit,
                    step: list[int] = step, horizon: datetime = horizon, **kw: Any) -> bool:
                nonlocal t
                t = t + timedelta(days=gap_days, minutes=rng.uniform(1, 600))
                if t > horizon:
                    return False
                step[0] += 1
                phases[(step[0], actor.id)].append(lifecycle_service.EventRequest(
                    code=unit["code"], type=etype, at=t, **kw))
                return True

            if target == "coded":
                continue
            maker = unit["maker"]
            supplier = rng.choice(suppliers)
            serial += 1
            battery = {"serial": f"BP{serial:07d}", "type": "battery_pack",
                       "supplier_id": supplier.id, "batch": rng.choice(batches[supplier.id])}
            compute_supplier = rng.choice(suppliers)
            compute = {"serial": f"CU{serial:07d}", "type": "compute",
                       "supplier_id": compute_supplier.id,
                       "batch": rng.choice(batches[compute_supplier.id])}
            unit["battery"] = battery
            if not add(maker, "manufactured", 0, details={"components": [battery, compute]}):
                continue
            reach = order.index(target) if target in order else len(order) - 1
            owner = maker
            if reach >= 2 or (target not in order and rng.random() < 0.5):
                seller = rng.choice(sellers)
                if not add(owner, "shipped", rng.uniform(2, 15), to_organization=seller.id):
                    continue
                owner = seller
            if reach < 3 and target in order:
                continue
            buyer = rng.choice(operators)
            if not add(owner, "sold", rng.uniform(3, 30), to_organization=buyer.id):
                continue
            owner = buyer
            unit["owner"] = buyer
            if target == "sold":
                continue
            province, city, _ = rng.choices(CITIES, weights=[c[2] for c in CITIES])[0]
            province, city, scenario = self.deployment(unit, owner, province, city)
            if not add(owner, "deployed", rng.uniform(1, 10),
                       details={"scenario": scenario, "province": province, "city": city}):
                continue
            unit["deployed"] = True
            if target == "under_maintenance" or rng.random() < 0.35:
                sp = rng.choice(authorised[owner.id])
                if add(sp, "maintenance_started", rng.uniform(20, 120),
                       details={"work_order": f"WO-{serial:06d}", "description":
                                rng.choice(["Scheduled 500 h service", "Joint recalibration",
                                            "Battery health check"])}):
                    if target != "under_maintenance":
                        add(sp, "maintenance_completed", rng.uniform(0.1, 3),
                            details={"work_order": f"WO-{serial:06d}"})
                if rng.random() < 0.4:
                    add(owner, "firmware_updated", rng.uniform(1, 30),
                        details={"firmware": rng.choice(FIRMWARE[2:])})
            if target == "suspended":
                add(owner, "suspended", rng.uniform(5, 60), details={"reason": "safety review"})
            elif target in ("decommissioned", "recycled", "scrapped"):
                recycler = rng.choice(recyclers)
                if add(owner, "decommissioned", rng.uniform(30, 200),
                       to_organization=recycler.id) and target != "decommissioned":
                    add(recycler, target, rng.uniform(3, 30))
        done = 0
        for (_, actor_id), requests in sorted(phases.items(), key=lambda kv: kv[0][0]):
            actor = actors[actor_id]
            for i in range(0, len(requests), 5000):
                with writing(self.url) as session:
                    lifecycle_service.record_events(session, actor=actor,
                                                    requests=requests[i:i + 5000], batch=True)
                done += len(requests[i:i + 5000])
            self.progress("events", done)

    def regulation(self, units: list[dict[str, Any]]) -> None:
        """Which scenarios each model is admitted to, and the Hubei pilot (SPEC §14)."""
        model_ids = {u["model_id"] for u in units}
        self.admitted = demo_regulation.admitted_scenarios(self.url, model_ids)
        self.pilot_admitted = demo_regulation.pilot_admitted(self.url, model_ids)
        participants = self.regulation_rng.sample(self.orgs["operator"], 3)
        self.pilot_participants = {p.id for p in participants}
        demo_regulation.open_wuhan_pilot(self.url, regulator=self.regulator,
                                         participants=sorted(self.pilot_participants),
                                         now=self.now)

    def deployment(self, unit: dict[str, Any], owner: Actor, province: str,
                   city: str) -> tuple[str, str, str]:
        """Where and for what a unit is deployed: a pilot participant's admitted robot goes to
        Wuhan's public spaces half the time; otherwise a scenario its model is admitted to."""
        rng = self.regulation_rng
        if owner.id in self.pilot_participants and unit["model_id"] in self.pilot_admitted \
                and rng.random() < 0.5:
            return (*demo_regulation.WUHAN, "public_space")
        admitted = list(self.admitted.get(unit["model_id"], []))
        if owner.id in self.pilot_participants and city == demo_regulation.WUHAN[1] \
                and unit["model_id"] not in self.pilot_admitted and "public_space" in admitted:
            admitted.remove("public_space")  # the pilot's rules, not the policy, would judge
        return province, city, demo_regulation.choose_scenario(rng, admitted)

    # -- recall, incident, fraud attempt, telemetry -------------------------------------------
    def telemetry(self, units: list[dict[str, Any]], days: int = 3, interval_h: int = 3) -> int:
        from robopass.telemetry import service as telemetry_service
        from robopass.telemetry.simulator import generate_history

        codes = [u["code"] for u in units if u.get("deployed")
                 and u["target"] in ("in_service", "under_maintenance", "suspended")]
        end = self.now
        start = end - timedelta(days=days)
        stored = 0
        for i in range(0, len(codes), 2000):
            readings = generate_history(codes[i:i + 2000], start=start, end=end,
                                        interval_s=interval_h * 3600,
                                        seed=self.rng.randint(0, 99999))
            with writing(self.url) as session:
                stored += int(telemetry_service.store_readings(session, readings,
                                                               notify=False)["stored"])
            self.progress("telemetry readings", stored)
        return stored

    def recall_and_incident(self, units: list[dict[str, Any]]) -> dict[str, str]:
        from robopass.incidents import service as incident_service
        from robopass.recalls import service as recall_service

        live = [u for u in units if u.get("battery") and u["target"] == "in_service"]
        batch_counts: dict[tuple[str, str], int] = defaultdict(int)
        for u in live:
            batch_counts[(u["battery"]["supplier_id"], u["battery"]["batch"])] += 1
        (supplier_id, batch), _ = max(batch_counts.items(), key=lambda kv: kv[1])
        with writing(self.url) as session:
            recall = recall_service.open_recall(
                session, actor=self.regulator,
                reason="Battery packs of this batch may overheat under fast charging "
                       "(cell separator defect)",
                scope={"component_supplier": supplier_id, "component_batch": batch})
            recall_id = recall.id
        in_recall = [u for u in live if u["battery"]["batch"] == batch
                     and u["battery"]["supplier_id"] == supplier_id]
        by_maker: dict[str, list[str]] = defaultdict(list)
        for u in in_recall[: len(in_recall) // 3]:
            by_maker[u["maker"].id].append(u["code"])
        makers = {u["maker"].id: u["maker"] for u in in_recall}
        for maker_id, codes in by_maker.items():
            with writing(self.url) as session:
                lifecycle_service.record_events(session, actor=makers[maker_id], requests=[
                    lifecycle_service.EventRequest(code=c, type="recall_remedied",
                                                   details={"recall_id": recall_id,
                                                            "action": "battery pack replaced"})
                    for c in codes], batch=True)
        victim = in_recall[-1]
        with writing(self.url) as session:
            incident = incident_service.report(
                session, actor=victim["owner"], code=victim["code"],
                at=self.now - timedelta(minutes=30), type="safety_accident", severity="major",
                description="Robot stopped mid-task, battery compartment overheated and "
                            "smoke was seen; no injuries. Area evacuated.",
                place="Warehouse 3, loading bay")
            incident_id = incident.id
        return {"recall_id": recall_id, "incident_id": incident_id,
                "incident_unit": victim["code"], "recalled_unit": in_recall[-1]["code"]}

    def fraud_attempt(self) -> str | None:
        """Someone tries to refurbish a scrapped robot: refused, recorded, a fraud alert."""
        from sqlalchemy import select

        from robopass.robots.models import Unit

        with writing(self.url) as session:
            row = session.execute(select(Unit.code, Unit.owner_id).where(
                Unit.status == "scrapped").limit(1)).first()
        if row is None:
            return None
        code, owner_id = row
        owner = next(a for group in self.orgs.values() for a in group if a.id == owner_id)
        attempt = lifecycle_service.EventRequest(code=code, type="refurbished")
        try:
            with writing(self.url) as session:
                lifecycle_service.record_events(session, actor=owner, requests=[attempt])
        except lifecycle_service.EventRefused as refused:
            with writing(self.url) as session:
                lifecycle_service.record_refusals(session, actor=owner,
                                                  attempts=refused.attempts)
        return str(code)

def seed(url: str, *, units: int = 28_000, seed_value: int = 20261122, country: str = "CN",
         progress: Progress | None = None, telemetry: bool = True) -> DemoResult:
    """Build the demo registry in a new database. Raises ValueError if it already exists."""
    report: Progress = progress or (lambda _stage, _n: None)
    key = initialise(url, country=country)
    if key is None:
        raise ValueError("the database already exists; the demo seeds a new database only")
    seeder = _Seeder(url, units, random.Random(seed_value), report)
    seeder.organizations(key)
    approved = seeder.models()
    amended = seeder.amendments()
    all_units = seeder.units(approved)
    seeder.regulation(all_units)
    seeder.lifecycle(all_units)
    seeder.later_decisions()
    revoked_sales = seeder.revoked_sale_attempts(all_units)
    facts = seeder.recall_and_incident(all_units)
    fraud_code = seeder.fraud_attempt()
    filings = {**amended, **seeder.filings(all_units)}
    readings = seeder.telemetry(all_units) if telemetry else 0
    refused = demo_regulation.refused_deployment(url, units=all_units,
                                                 admitted=seeder.admitted)
    if refused:
        filings["refused_deployment"] = refused
    if revoked_sales:
        filings["refused_sale_of_revoked_model"] = revoked_sales[0]
    if telemetry:
        filings.update(demo_regulation.live_telemetry(url, rng=seeder.regulation_rng,
                                                      now=datetime.now(UTC)))
    result = DemoResult(url=url, regulator_key=key, keys=seeder.keys)
    result.counts = {"organizations": sum(len(v) for v in seeder.orgs.values()) + 2,
                     "product_models": 200, "units": len(all_units), "telemetry": readings}
    in_service = next(u["code"] for u in all_units if u["target"] == "in_service")
    result.sample_codes = {"in_service": in_service, "recalled": facts["recalled_unit"],
                           "incident_unit": facts["incident_unit"], **facts}
    if fraud_code:
        result.sample_codes["scrapped"] = fraud_code
    result.sample_codes.update(filings)
    return result


def sample(units: Iterable[dict[str, Any]]) -> list[str]:
    return [u["code"] for u in units][:5]
