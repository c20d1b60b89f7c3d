"""Demo data of differentiated regulation (SPEC §14), for ``robopass seed``.

* every seeded model is judged against the default policies once, so each deployment names a
  scenario its model is admitted to (a mix, weighted towards factories and warehouses);
* a Hubei public-space pilot (Wuhan, 420100) of guide robots, with three operators taking part:
  their deployments in Wuhan's public spaces are judged by the pilot's rules;
* after the history: one refused deployment (a level-2 robot into a Beijing public space), a
  few units running firmware that is not an approved build, a few units gone silent, and one
  compliance scan, so findings are there from the first page.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from robopass.auth.service import Actor
from robopass.compliance import service as compliance_service
from robopass.db import transaction, write_session, writing
from robopass.lifecycle import facts as lifecycle_facts
from robopass.lifecycle import service as lifecycle_service
from robopass.lifecycle.policy_rules import SCENARIOS, OperatorFacts, UnitFacts, check_policy
from robopass.pilots import service as pilot_service

#: How often each scenario is chosen among those a model is admitted to.
WEIGHTS = {"industrial": 30, "logistics": 25, "commercial_service": 15, "public_space": 8,
           "healthcare": 5, "eldercare": 6, "household": 5, "education_research": 6}
WUHAN = ("420000", "420100")
PILOT_RULES = {"min_level": 2, "allowed_hardware_classes": ["B", "W", "U"],
               "operator_roles": ["operator"], "max_telemetry_interval_s": 300}
UNAPPROVED_FIRMWARE = "0.9-unsigned"


def admitted_scenarios(url: str, model_ids: set[str]) -> dict[str, list[str]]:
    """model id → the scenarios whose default national policy admits its units (operated by
    an operator)."""
    with writing(url) as session:
        models = lifecycle_facts.model_facts(session, model_ids)
        policies = lifecycle_facts.current_policies(session)
        now = datetime.now().astimezone()
    operator = OperatorFacts(id=None, roles=frozenset({"operator"}))
    out: dict[str, list[str]] = {}
    for mid, model in models.items():
        out[mid] = [s for s in SCENARIOS if (s, None) not in policies or not check_policy(
            UnitFacts(code=""), model, operator, policies[(s, None)].rules, now=now)]
    return out


def choose_scenario(rng: random.Random, admitted: list[str]) -> str:
    choices = admitted or ["industrial"]
    return rng.choices(choices, weights=[WEIGHTS[s] for s in choices])[0]


def open_wuhan_pilot(url: str, *, regulator: Actor, participants: list[str],
                     now: datetime) -> str:
    with writing(url) as session:
        pilot = pilot_service.open_pilot(
            session, actor=regulator, name="Wuhan public-space guide robots",
            scenario="public_space", provinces=[WUHAN[0]], starts=now - timedelta(days=700),
            ends=now + timedelta(days=365), participants=participants, rules=PILOT_RULES,
            reason="Hubei pilot centre: guide and information robots in Wuhan's metro "
                   "stations and museums, level 2 admitted under closer reporting")
        return pilot.id


def refused_deployment(url: str, *, units: list[dict[str, Any]],
                       admitted: dict[str, list[str]]) -> str | None:
    """A sold, undeployed robot of a model not admitted to public spaces, deployed into one in
    Beijing: refused (``policy_violation``) and recorded as a refused attempt."""
    for unit in units:
        if unit.get("target") != "sold" or "owner" not in unit \
                or "public_space" in admitted.get(unit.get("model_id", ""), ["public_space"]):
            continue
        request = lifecycle_service.EventRequest(code=unit["code"], type="deployed", details={
            "scenario": "public_space", "province": "110000", "city": "110100"})
        actor = unit["owner"]
        try:
            with write_session(url) as session, transaction(session):
                lifecycle_service.record_events(session, actor=actor, requests=[request])
        except lifecycle_service.EventRefused as refused:
            with writing(url) as session:
                lifecycle_service.record_refusals(session, actor=actor,
                                                  attempts=refused.attempts)
            return str(unit["code"])
        return None  # admitted after all (should not happen): no refusal to show
    return None


def live_telemetry(url: str, *, rng: random.Random, now: datetime) -> dict[str, str]:
    """A fresh reading from every unit in service but a few silent ones; a few report a
    firmware that is not an approved build. Then one compliance scan."""
    from sqlalchemy import select

    from robopass.robots.models import Unit
    from robopass.telemetry import service as telemetry_service

    with writing(url) as session:  # every unit the scan judges, whatever its seeded story
        live = sorted(session.scalars(select(Unit.code).where(
            Unit.scenario.is_not(None), Unit.status.in_(("in_service", "under_maintenance")))))
    if not live:
        return {}
    picked = rng.sample(live, min(len(live), 8))
    silent, rogue = set(picked[:4]), set(picked[4:])
    readings = []
    for code in live:
        if code in silent:
            continue
        metrics: dict[str, Any] = {"battery_soh": round(rng.uniform(72, 99), 1)}
        if code in rogue:
            metrics["firmware"] = UNAPPROVED_FIRMWARE
        readings.append({"code": code, "at": now - timedelta(seconds=rng.uniform(5, 25)),
                         "metrics": metrics})
    with writing(url) as session:
        for start in range(0, len(readings), 5000):
            telemetry_service.store_readings(session, readings[start:start + 5000],
                                             notify=False)
    with writing(url) as session:
        compliance_service.run_scan(session, now=now)
    facts = {}
    if silent:
        facts["telemetry_gap"] = sorted(silent)[0]
    if rogue:
        facts["unapproved_firmware"] = sorted(rogue)[0]
    return facts


def pilot_admitted(url: str, model_ids: set[str]) -> set[str]:
    """The models whose units the Wuhan pilot's rules admit."""
    with writing(url) as session:
        models = lifecycle_facts.model_facts(session, model_ids)
    operator = OperatorFacts(id=None, roles=frozenset({"operator"}))
    now = datetime.now().astimezone()
    return {mid for mid, model in models.items()
            if not check_policy(UnitFacts(code=""), model, operator, PILOT_RULES, now=now)}
