"""Every domain's router, in one list (each domain adds its own line)."""

from __future__ import annotations

from fastapi import APIRouter


def all_routers() -> list[APIRouter]:
    from robopass.audit.routes import router as audit
    from robopass.compliance.routes import router as compliance
    from robopass.decisions.routes import router as decisions
    from robopass.epcis.routes import router as epcis
    from robopass.federation.routes import router as federation
    from robopass.incidents.routes import router as incidents
    from robopass.labels.routes import router as labels
    from robopass.ledger.routes import router as ledger
    from robopass.lifecycle.routes import router as lifecycle
    from robopass.maintenance.routes import router as maintenance
    from robopass.notifications.routes import router as notifications
    from robopass.organizations.routes import router as organizations
    from robopass.passports.routes import router as passports
    from robopass.pilots.routes import router as pilots
    from robopass.policies.routes import router as policies
    from robopass.product_models.routes import router as product_models
    from robopass.recalls.routes import router as recalls
    from robopass.robots.routes import router as robots
    from robopass.signals.routes import router as signals
    from robopass.stats.routes import router as stats
    from robopass.statuslist.routes import router as status_list
    from robopass.telemetry.routes import router as telemetry
    from robopass.verification.routes import router as verification
    from robopass.web.app import router as web_app
    from robopass.web.public import router as web_public

    # The public hot paths (verify, /r/, /healthz) first: routes are matched in order.
    return [verification, web_public, organizations, product_models, robots, lifecycle, epcis,
            ledger, telemetry, passports, labels, recalls, notifications, incidents, maintenance,
            signals, stats, audit, decisions, policies, pilots, compliance, status_list,
            federation, web_app]
