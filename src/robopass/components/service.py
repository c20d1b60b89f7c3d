"""Key components and their bindings to units (SPEC §3).

A component is identified by (supplier, serial). ``manufactured`` events may bind components
(``details.components``), ``component_replaced`` swaps one (``details.removed`` serial and
``details.installed`` component), and a recycled or scrapped unit releases its components.
A component is bound to at most one live unit; bindings are history, never deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from robopass.auth.service import Actor
from robopass.components.models import COMPONENT_TYPES, Component, ComponentBinding
from robopass.errors import Conflict, InvalidInput, NotFound
from robopass.ids import new_id
from robopass.organizations.models import Organization
from robopass.timeutil import utcnow


def _parse_spec(spec: Any, field: str) -> dict[str, str | None]:
    if not isinstance(spec, dict):
        raise InvalidInput("a component is an object {serial, type, supplier_id, batch?}",
                           field=field)
    serial, ctype, supplier = spec.get("serial"), spec.get("type"), spec.get("supplier_id")
    if not isinstance(serial, str) or not 1 <= len(serial) <= 64:
        raise InvalidInput("serial must be a string of 1-64 characters", field=f"{field}.serial")
    if ctype not in COMPONENT_TYPES:
        raise InvalidInput(f"type must be one of {', '.join(COMPONENT_TYPES)}",
                           field=f"{field}.type")
    if not isinstance(supplier, str):
        raise InvalidInput("supplier_id (an organisation id) is required",
                           field=f"{field}.supplier_id")
    batch = spec.get("batch")
    if batch is not None and (not isinstance(batch, str) or len(batch) > 64):
        raise InvalidInput("batch must be a string of at most 64 characters",
                           field=f"{field}.batch")
    return {"serial": serial, "type": ctype, "supplier_id": supplier, "batch": batch}


def _supplier_ok(session: Session, supplier_id: str, field: str) -> None:
    org = session.get(Organization, supplier_id)
    if org is None:
        raise InvalidInput(f"no organisation {supplier_id!r}", field=field)
    if not {"component_supplier", "manufacturer"} & set(org.roles):
        raise InvalidInput(f"{org.name} is not a component supplier", field=field)


def bind(session: Session, *, code: str, spec: dict[str, str | None], event_id: str | None,
         at: datetime, field: str) -> Component:
    assert spec["supplier_id"] is not None and spec["serial"] is not None
    _supplier_ok(session, spec["supplier_id"], f"{field}.supplier_id")
    comp = session.scalar(select(Component).where(Component.supplier_id == spec["supplier_id"],
                                                  Component.serial == spec["serial"]))
    if comp is None:
        comp = Component(id=new_id("cmp"), serial=spec["serial"], component_type=spec["type"],
                         supplier_id=spec["supplier_id"], batch=spec["batch"],
                         created_at=utcnow())
        session.add(comp)
    elif comp.unit_code is not None and comp.unit_code != code:
        raise Conflict(f"component {spec['serial']} is already bound to {comp.unit_code}",
                       code="component_already_bound", field=f"{field}.serial")
    comp.unit_code = code
    session.flush()
    session.add(ComponentBinding(id=new_id("bnd"), component_id=comp.id, unit_code=code,
                                 bound_at=at, bound_by_event=event_id))
    return comp


def unbind(session: Session, *, comp: Component, at: datetime, event_id: str | None) -> None:
    session.execute(update(ComponentBinding).where(
        ComponentBinding.component_id == comp.id, ComponentBinding.unbound_at.is_(None)
    ).values(unbound_at=at, unbound_by_event=event_id))
    comp.unit_code = None
    session.flush()


def apply_event(session: Session, *, code: str, event_type: str, details: dict[str, Any],
                event_id: str, at: datetime, actor: Actor) -> None:
    if event_type == "manufactured":
        specs = details.get("components") or []
        if not isinstance(specs, list) or len(specs) > 500:
            raise InvalidInput("details.components must be a list (at most 500)",
                               field="details.components")
        for i, raw in enumerate(specs):
            bind(session, code=code, spec=_parse_spec(raw, f"details.components[{i}]"),
                 event_id=event_id, at=at, field=f"details.components[{i}]")
    elif event_type == "component_replaced":
        removed, installed = details.get("removed"), details.get("installed")
        if removed is None and installed is None:
            raise InvalidInput("component_replaced needs details.removed (serial) and/or "
                               "details.installed (component)", field="details")
        if removed is not None:
            comp = session.scalar(select(Component).where(Component.unit_code == code,
                                                          Component.serial == removed))
            if comp is None:
                raise NotFound(f"no component with serial {removed!r} is bound to this unit",
                               code="component_not_bound", field="details.removed")
            unbind(session, comp=comp, at=at, event_id=event_id)
        if installed is not None:
            bind(session, code=code, spec=_parse_spec(installed, "details.installed"),
                 event_id=event_id, at=at, field="details.installed")
    else:  # recycled / scrapped release every component
        for comp in session.scalars(select(Component).where(Component.unit_code == code)):
            unbind(session, comp=comp, at=at, event_id=event_id)


def bound_components(session: Session, code: str, as_of: datetime | None = None
                     ) -> list[dict[str, Any]]:
    """Components bound to the unit now, or at ``as_of`` (from the binding history)."""
    query = (select(Component, ComponentBinding, Organization.name, Organization.country)
             .join(ComponentBinding, ComponentBinding.component_id == Component.id)
             .join(Organization, Organization.id == Component.supplier_id)
             .where(ComponentBinding.unit_code == code))
    if as_of is None:
        query = query.where(ComponentBinding.unbound_at.is_(None))
    else:
        query = query.where(ComponentBinding.bound_at <= as_of,
                            (ComponentBinding.unbound_at.is_(None))
                            | (ComponentBinding.unbound_at > as_of))
    return [{"id": c.id, "serial": c.serial, "type": c.component_type,
             "supplier_id": c.supplier_id, "supplier": name, "supplier_country": country,
             "batch": c.batch, "bound_at": b.bound_at, "bound_by_event": b.bound_by_event}
            for c, b, name, country in session.execute(query.order_by(ComponentBinding.bound_at))]
