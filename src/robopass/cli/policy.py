"""``robopass policy`` and ``robopass pilot``: scenario policies and pilot programmes (SPEC
§14). Writes act as the registry's national regulator (the organisation ``robopass init``
created) and are ledgered as its decisions, exactly as through the API."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import typer

from robopass import config

policy_app = typer.Typer(help="Scenario policies (versioned, ledgered).", no_args_is_help=True)
pilot_app = typer.Typer(help="Pilot programmes.", no_args_is_help=True)

DB_HELP = "Database URL (sqlite:///path.db or postgresql://...); default $ROBOPASS_DATABASE_URL"
DbOpt = typer.Option(None, "--db", help=DB_HELP)


def _db(db: str | None) -> str:
    return db or config.database_url()


def _print(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def _fail(exc: Exception) -> typer.Exit:
    from rich.console import Console

    Console(stderr=True).print(f"[red]error:[/red] {getattr(exc, 'message', exc)}")
    return typer.Exit(1)


def national_regulator(session: Any) -> Any:
    """The registry's own national regulator, as an Actor."""
    from sqlalchemy import select

    from robopass.auth.service import Actor
    from robopass.organizations.models import Organization

    org = session.scalars(select(Organization).where(
        Organization.registration_number == "REGISTRY").order_by(Organization.created_at)
        .limit(1)).first()
    if org is None:
        raise typer.BadParameter("no national regulator: run `robopass init` first")
    return Actor.of(org)


@policy_app.command("list")
def policy_list(db: str | None = DbOpt) -> None:
    """The version in force of every scenario's policy (and provincial tightenings)."""
    from robopass.db import reading
    from robopass.policies import service

    with reading(_db(db)) as session:
        _print([service.view(p) for p in service.current_versions(session)])


@policy_app.command("show")
def policy_show(scenario: str, db: str | None = DbOpt,
                province: str | None = typer.Option(None, help="A province's tightening")
                ) -> None:
    """Every version of one scenario's policy, oldest first."""
    from robopass.db import reading
    from robopass.errors import RobopassError
    from robopass.policies import service

    try:
        with reading(_db(db)) as session:
            _print([service.view(p) for p in service.versions(session, scenario, province)])
    except RobopassError as exc:
        raise _fail(exc) from exc


@policy_app.command("set")
def policy_set(scenario: str,
               rules: str = typer.Option(..., help='Rules as JSON, e.g. {"min_level": 3}'),
               reason: str = typer.Option(..., help="Why (kept with the version)"),
               province: str | None = typer.Option(None, help="Tighten for one province"),
               db: str | None = DbOpt) -> None:
    """Set the next version of a scenario's policy (a decision, ledgered)."""
    from robopass.db import writing
    from robopass.errors import RobopassError
    from robopass.policies import service

    try:
        parsed = json.loads(rules)
    except ValueError as exc:
        raise typer.BadParameter(f"--rules is not JSON: {exc}") from exc
    try:
        with writing(_db(db)) as session:
            row = service.set_policy(session, actor=national_regulator(session),
                                     scenario=scenario, rules=parsed, reason=reason,
                                     province=province)
            _print(service.view(row))
    except RobopassError as exc:
        raise _fail(exc) from exc


@pilot_app.command("list")
def pilot_list(db: str | None = DbOpt) -> None:
    """Every pilot, newest first, with its units in service."""
    from robopass.db import reading
    from robopass.pilots import service

    with reading(_db(db)) as session:
        counts = service.unit_counts(session)
        _print([service.view(p, counts.get(p.id, 0)) for p in service.list_pilots(session)])


@pilot_app.command("open")
def pilot_open(name: str = typer.Option(...), scenario: str = typer.Option(...),
               province: list[str] = typer.Option(..., help="Province code (repeatable)"),
               starts: datetime = typer.Option(..., formats=["%Y-%m-%dT%H:%M:%S%z",
                                                             "%Y-%m-%d"]),
               ends: datetime = typer.Option(..., formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"]),
               participant: list[str] = typer.Option(..., help="Organisation id (repeatable)"),
               rules: str = typer.Option("{}", help="The pilot's rules as JSON"),
               reason: str = typer.Option(...), db: str | None = DbOpt) -> None:
    """Open a pilot programme (a decision, ledgered)."""
    from robopass.db import writing
    from robopass.errors import RobopassError
    from robopass.pilots import service

    try:
        with writing(_db(db)) as session:
            pilot = service.open_pilot(session, actor=national_regulator(session), name=name,
                                       scenario=scenario, provinces=province, starts=starts,
                                       ends=ends, participants=participant,
                                       rules=json.loads(rules), reason=reason)
            _print(service.view(pilot))
    except RobopassError as exc:
        raise _fail(exc) from exc


@pilot_app.command("end")
def pilot_end(pilot_id: str, reason: str = typer.Option(...), db: str | None = DbOpt) -> None:
    """End a pilot early; its units get pilot_ended findings at the next scan."""
    from robopass.db import writing
    from robopass.errors import RobopassError
    from robopass.pilots import service

    try:
        with writing(_db(db)) as session:
            _print(service.view(service.end_pilot(session, actor=national_regulator(session),
                                                  pilot_id=pilot_id, reason=reason)))
    except RobopassError as exc:
        raise _fail(exc) from exc
