"""Signed-in web pages: regulator dashboard, organisation portal, unit pages (SPEC §9)."""

from __future__ import annotations

from fastapi import APIRouter

from robopass.web.app import (
    auth,
    compliance_pages,
    dashboard,
    filings_forms,
    forms,
    keys_pages,
    lifecycle_forms,
    portal,
    registry_forms,
    registry_pages,
    regulation_forms,
    safety_forms,
    safety_pages,
    search,
    units,
)

#: Modules that only register forms (imported for that effect).
FORM_MODULES = (lifecycle_forms, registry_forms, safety_forms, filings_forms, regulation_forms,
                keys_pages)
router = APIRouter(include_in_schema=False)
for _module in (auth, compliance_pages, dashboard, forms, keys_pages, portal, registry_pages,
                regulation_forms, safety_pages, search, units):
    router.include_router(_module.router)
