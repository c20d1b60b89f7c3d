"""The demo's filings data (SPEC §13), called by ``robopass.seed``.

Accredited labs (one in Hubei), every filed model evaluated with plausible grades before the
regulator decides on it, amendments (one approved without re-evaluation, one re-evaluated and
approved, one awaiting re-evaluation), a suspended organisation, and recalls that were closed
(by the manufacturer once remedied; by the regulator, opened in error) or are overdue. A random
generator of its own keeps the rest of the demo as it was.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from robopass.auth.service import Actor
from robopass.db import writing
from robopass.lifecycle import service as lifecycle_service
from robopass.organizations import governance
from robopass.organizations import service as org_service
from robopass.product_models import amendments, evaluations
from robopass.product_models.models import ProductModel
from robopass.product_models.schemas import AmendmentChanges, EvaluationCreate
from robopass.recalls import closing
from robopass.recalls import service as recall_service
from robopass.recalls.models import RecallUnit
from robopass.robots import service as robot_service

SAFETY_STANDARDS = ("GB/T 36530-2018", "ISO 13482:2014", "IEC 62368-1:2023")


def accredit_labs(url: str, *, regulator: Actor, labs: Sequence[Actor], uscc: str,
                  until: date) -> tuple[Actor, str]:
    """Accredit the demo's labs and add one in Wuhan, Hubei; returns it and its key."""
    with writing(url) as session:
        org, key = org_service.create(
            session, actor=regulator, name="Hubei Intelligent Robot Testing and Inspection "
            "Center", roles=["testing_lab"], country="CN", uscc=uscc, province="420000",
            city="420100")
        org.name_zh = "湖北省智能机器人检验检测中心"
        hubei = Actor.of(org)
        for lab in [*labs, hubei]:
            governance.accredit(session, actor=regulator, org_id=lab.id,
                                scopes=["intelligence", "safety"], valid_until=until,
                                reason="CNAS accreditation verified")
    return hubei, key


def evaluate(session: Session, rng: random.Random, *, lab: Actor, model: ProductModel,
             passing: bool = True, valid_until: date) -> None:
    """A lab's evaluation: overall near the claimed level, grades around it."""
    overall = min(5, max(1, model.intelligence_level + rng.choice((-1, 0, 0, 0, 1))))
    grades = [min(5, max(1, overall + rng.choice((-1, 0, 0, 1)))) for _ in range(4)]
    grades[rng.randrange(4)] = overall  # the overall lies within the grades
    tests = [{"standard": s, "result": "pass"} for s in SAFETY_STANDARDS]
    if not passing:
        tests[rng.randrange(len(tests))]["result"] = "fail"
    report = hashlib.sha256(f"report {model.id} {lab.id} {overall}".encode()).hexdigest()
    evaluations.file_evaluation(session, actor=lab, model_id=model.id,
                                data=EvaluationCreate.model_validate({
                                    "grades": dict(zip(("perception", "decision", "execution",
                                                        "collaboration"), grades, strict=True)),
                                    "overall": overall, "safety_tests": tests,
                                    "report_sha256": report, "valid_until": valid_until}))


def amend_models(url: str, rng: random.Random, *, regulator: Actor, lab: Actor,
                 makers: dict[str, Actor], valid_until: date) -> dict[str, str]:
    """Three amendments of approved models, before their units are coded (so those units are
    built to the new version where it was approved)."""
    with writing(url) as session:
        approved = list(session.scalars(select(ProductModel).where(
            ProductModel.status == "approved").order_by(ProductModel.id)))
        picked = rng.sample([m for m in approved if m.manufacturer_id in makers], 3)
        out: dict[str, str] = {}
        plans: list[tuple[str, dict[str, Any], str]] = [
            ("builds", {"software": {"builds": [
                {"version": picked[0].software.get("version", "1.0")},
                {"version": "3.0.1", "sha256": hashlib.sha256(b"3.0.1").hexdigest()}]},
                "parameters": {"payload_kg": 25}}, "approve"),
            ("battery", {"parameters": {"battery_chemistry": "LFP",
                                        "battery_capacity_wh": 1024}}, "reevaluate"),
            ("ai_stack", {"software": {"ai_stack": "VLA-13B"}}, "await"),
        ]
        for model, (label, changes, fate) in zip(picked, plans, strict=True):
            maker = makers[model.manufacturer_id]
            row = amendments.file_amendment(
                session, actor=maker, model_id=model.id,
                changes=AmendmentChanges.model_validate(changes),
                reason={"builds": "OTA 3.0.1 fixes gait instability on stairs",
                        "battery": "switch to LFP cells for thermal safety",
                        "ai_stack": "larger vision-language-action model"}[label])
            if fate == "reevaluate":
                evaluate(session, rng, lab=lab, model=model, valid_until=valid_until)
            if fate != "await":
                amendments.decide(session, actor=regulator, model_id=model.id,
                                  amendment_id=row.id, decision="approve",
                                  reason="amendment reviewed")
            out[f"amendment_{label}"] = row.id
    return out


def recalls(url: str, *, regulator: Actor, units: list[dict[str, Any]],
            now: datetime) -> dict[str, str]:
    """A recall its manufacturer closed once remedied, one the regulator closed (opened in
    error), and one past its remedy_by date with units still open (overdue)."""
    live = [u for u in units if u.get("deployed") and u["target"] == "in_service"]
    by_model: dict[str, list[dict[str, Any]]] = {}
    for u in live:
        by_model.setdefault(u["code"][6:12] + u["code"][2:6], []).append(u)
    groups = sorted((g for g in by_model.values() if len(g) >= 2), key=lambda g: g[0]["code"])
    out: dict[str, str] = {}
    if len(groups) < 3:  # a tiny demo: no campaigns to show
        return out
    first = sorted(u["code"] for u in groups[0])[:2]
    maker = groups[0][0]["maker"]
    with writing(url) as session:
        recall = recall_service.open_recall(
            session, actor=maker, reason="Hip joint fastener torque out of specification",
            scope={"serial_from": first[0], "serial_to": first[1]},
            remedy_by=now.date() + timedelta(days=30))
        rid = recall.id
        codes = list(session.scalars(select(RecallUnit.code)
                                     .where(RecallUnit.recall_id == rid)))
    try:
        with writing(url) as session:
            lifecycle_service.record_events(session, actor=maker, requests=[
                lifecycle_service.EventRequest(code=c, type="recall_remedied",
                                               details={"recall_id": rid,
                                                        "action": "fasteners re-torqued"})
                for c in codes], batch=True)
        closer, why = maker, "every affected unit was remedied"
    except lifecycle_service.EventRefused:
        closer, why = regulator, "remaining units verified by inspection"
    with writing(url) as session:
        closing.close_recall(session, actor=closer, recall_id=rid, reason=why)
    out["closed_recall"] = rid
    second = groups[1]
    with writing(url) as session:
        recall = recall_service.open_recall(
            session, actor=regulator, reason="Suspected arm encoder fault",
            scope={"model_id": _model_id(session, second[0]["code"])})
        closing.close_recall(session, actor=regulator, recall_id=recall.id,
                             reason="opened in error: the fault was in the test bench")
        out["recall_closed_in_error"] = recall.id
    third = groups[2]
    opened = now - timedelta(days=75)
    with writing(url) as session:
        recall = recall_service.open_recall(
            session, actor=regulator, now=opened, remedy_by=(opened + timedelta(days=45)).date(),
            reason="Emergency-stop button may stick after 5,000 presses",
            scope={"model_id": _model_id(session, third[0]["code"])})
        out["overdue_recall"] = recall.id
    return out


def _model_id(session: Session, code: str) -> str:
    unit = robot_service.get_unit(session, code)
    assert unit is not None
    return unit.model_id


def suspend_organization(url: str, *, regulator: Actor, org: Actor) -> str:
    with writing(url) as session:
        governance.change_status(session, actor=regulator, org_id=org.id, action="suspend",
                                 reason="production licence under review after a failed "
                                        "factory audit")
    return org.id
