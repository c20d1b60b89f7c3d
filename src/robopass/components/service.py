"""Key components and their bindings to units (SPEC §3).

A component is identified by (supplier, serial). ``manufactured`` events may bind components
(``details.components``), ``component_replaced`` swaps one (``details.removed`` serial and
``details.installed`` component), and a recycled or scrapped unit releases its components.
A component is bound to at most one live unit; bindings are history, never deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from robopass.auth.service import Actor
from robopass.components.models import COMPONENT_TYPES, Component, ComponentBinding
from robopass.db import bulk_insert, db_timestamp
from robopass.errors import Conflict, InvalidInput, NotFound, RobopassError
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
        for spec, field in parse_components(details):
            bind(session, code=code, spec=spec, event_id=event_id, at=at, field=field)
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


@dataclass
class PendingBinding:
    """A component to bind by a ``manufactured`` event, collected while checking a batch."""

    index: int
    code: str
    event_id: str
    at: datetime
    spec: dict[str, str | None]
    field: str


class BindingRefused(Exception):
    def __init__(self, index: int, error: RobopassError) -> None:
        super().__init__(error.message)
        self.index = index
        self.error = error


def parse_components(details: dict[str, Any]) -> list[tuple[dict[str, str | None], str]]:
    """The ``details.components`` of a manufactured event, validated (no database)."""
    specs = details.get("components") or []
    if not isinstance(specs, list) or len(specs) > 500:
        raise InvalidInput("details.components must be a list (at most 500)",
                           field="details.components")
    return [(_parse_spec(raw, f"details.components[{i}]"), f"details.components[{i}]")
            for i, raw in enumerate(specs)]


def bind_batch(session: Session, pending: list[PendingBinding]) -> None:
    """Bind many components at once (a batch of manufactured events): one query for the
    suppliers, one per 500 serials for existing components, bulk inserts for the rest.
    Raises BindingRefused naming the event index."""
    if not pending:
        return
    supplier_ids = {p.spec["supplier_id"] for p in pending}
    roles = dict(session.execute(select(Organization.id, Organization.roles)
                                 .where(Organization.id.in_(supplier_ids))).all())
    seen: dict[tuple[str, str], str] = {}
    for p in pending:
        sid, serial = str(p.spec["supplier_id"]), str(p.spec["serial"])
        if sid not in roles:
            raise BindingRefused(p.index, InvalidInput(f"no organisation {sid!r}",
                                                       field=f"{p.field}.supplier_id"))
        if not {"component_supplier", "manufacturer"} & set(roles[sid]):
            raise BindingRefused(p.index, InvalidInput(f"{sid} is not a component supplier",
                                                       field=f"{p.field}.supplier_id"))
        if (sid, serial) in seen and seen[(sid, serial)] != p.code:
            raise BindingRefused(p.index, Conflict(
                f"component {serial} is bound twice in this batch",
                code="component_already_bound", field=f"{p.field}.serial"))
        if (sid, serial) in seen:  # one component twice for one unit: one row, not two
            raise BindingRefused(p.index, InvalidInput(
                f"component {serial} of {sid} is listed twice", field=f"{p.field}.serial"))
        seen[(sid, serial)] = p.code
    serials = sorted({str(p.spec["serial"]) for p in pending})
    existing: dict[tuple[str, str], Component] = {}
    for start in range(0, len(serials), 500):
        for comp in session.scalars(select(Component).where(
                Component.serial.in_(serials[start:start + 500]))):
            existing[(comp.supplier_id, comp.serial)] = comp
    now = utcnow()
    new_components: list[tuple[Any, ...]] = []
    bindings: list[tuple[Any, ...]] = []
    for p in pending:
        key = (str(p.spec["supplier_id"]), str(p.spec["serial"]))
        found = existing.get(key)
        if found is None:
            comp_id = new_id("cmp")
            new_components.append((comp_id, key[1], p.spec["type"], key[0], p.spec["batch"],
                                   p.code, db_timestamp(session, now)))
        else:
            if found.unit_code is not None and found.unit_code != p.code:
                raise BindingRefused(p.index, Conflict(
                    f"component {key[1]} is already bound to {found.unit_code}",
                    code="component_already_bound", field=f"{p.field}.serial"))
            found.unit_code = p.code
            comp_id = found.id
        bindings.append((new_id("bnd"), comp_id, p.code, db_timestamp(session, p.at),
                         p.event_id))
    session.flush()
    bulk_insert(session, "components", ("id", "serial", "component_type", "supplier_id", "batch",
                                        "unit_code", "created_at"), new_components)
    bulk_insert(session, "component_bindings", ("id", "component_id", "unit_code", "bound_at",
                                                "bound_by_event"), bindings)
