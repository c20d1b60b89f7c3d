"""Signed-in web pages: regulator dashboard, organisation portal, unit pages (SPEC §9)."""

from __future__ import annotations

from fastapi import APIRouter

from robopass.web.app import auth, dashboard, portal, units

router = APIRouter(include_in_schema=False)
for _module in (auth, dashboard, portal, units):
    router.include_router(_module.router)
