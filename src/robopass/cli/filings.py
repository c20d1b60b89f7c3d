"""``robopass filings``: accreditation, evaluations, amendments, regulatory decisions,
organisation changes, recall closing and the decision history (SPEC §13).

Every command acts for the organisation whose API key it is given (``--key`` or
``$ROBOPASS_API_KEY``), through the same service functions as the API, and is refused the
same way (a suspended organisation reads but writes nothing: ``auth.service.check_may_write``).
Each write is one transaction; output is JSON.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from robopass import config
from robopass.auth import service as auth_service
from robopass.auth.service import Actor
from robopass.errors import RobopassError

app = typer.Typer(help="Filings, evaluations and regulatory decisions (SPEC §13).",
                  no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")

DB_HELP = "Database URL (sqlite:///path.db or postgresql://...); default $ROBOPASS_DATABASE_URL"
KEY_HELP = "API key of the acting organisation; default $ROBOPASS_API_KEY"
DbOpt = typer.Option(None, "--db", help=DB_HELP)
KeyOpt = typer.Option(None, "--key", help=KEY_HELP)


def _db(db: str | None) -> str:
    return db or config.database_url()


def _key(key: str | None) -> str:
    value = key or config.api_key_from_environment()
    if not value:
        err.print("[red]error:[/red] give --key or set ROBOPASS_API_KEY")
        raise typer.Exit(2)
    return value


def _write(db: str | None, key: str | None, work: Callable[[Session, Actor], T]) -> T:
    """Run ``work`` in one write transaction as the key's organisation; errors exit 1."""
    from robopass.db import transaction, write_session

    try:
        with write_session(_db(db)) as session, transaction(session):
            actor = auth_service.authenticate(session, _key(key))
            auth_service.check_may_write(actor)
            return work(session, actor)
    except RobopassError as exc:
        err.print(f"[red]refused ({exc.code}):[/red] {exc.message}")
        print(json.dumps({"error": exc.to_dict()}, default=str), file=sys.stderr)
        raise typer.Exit(1) from exc


def _print(value: Any) -> None:
    print(json.dumps(value, default=_json, ensure_ascii=False, indent=2))


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _parse_date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {field} must be YYYY-MM-DD, got {value!r}")
        raise typer.Exit(2) from exc


@app.command("accredit")
def accredit(org_id: str, scope: list[str] = typer.Option(..., "--scope",
                                                          help="intelligence and/or safety"),
             until: str = typer.Option(..., help="valid until (YYYY-MM-DD, inclusive)"),
             reason: str | None = None, db: str | None = DbOpt, key: str | None = KeyOpt
             ) -> None:
    """Regulator: accredit a testing lab for scopes until a date."""
    from robopass.organizations import governance
    from robopass.organizations.schemas import OrganizationRead

    valid_until = _parse_date(until, "--until")
    _print(_write(db, key, lambda s, a: OrganizationRead.model_validate(governance.accredit(
        s, actor=a, org_id=org_id, scopes=scope, valid_until=valid_until, reason=reason))
        .model_dump(mode="json")))


@app.command("evaluate")
def evaluate(model_id: str,
             grades: str = typer.Option(..., help="perception,decision,execution,collaboration "
                                                  "levels 1-5, e.g. 3,3,4,3"),
             overall: int = typer.Option(..., help="overall level 1-5"),
             safety: list[str] = typer.Option([], "--safety",
                                              help="STANDARD=pass|fail, repeatable"),
             report_sha256: str = typer.Option(..., help="SHA-256 of the test report"),
             valid_until: str = typer.Option(..., help="YYYY-MM-DD"),
             db: str | None = DbOpt, key: str | None = KeyOpt) -> None:
    """Accredited testing lab: file an evaluation of a model."""
    from pydantic import ValidationError

    from robopass.product_models import evaluations
    from robopass.product_models.schemas import EvaluationCreate

    try:
        levels = [int(g) for g in grades.split(",")]
        tests = [dict(zip(("standard", "result"), t.rsplit("=", 1), strict=True))
                 for t in safety]
        data = EvaluationCreate.model_validate({
            "grades": dict(zip(("perception", "decision", "execution", "collaboration"), levels,
                               strict=True)),
            "overall": overall, "safety_tests": tests, "report_sha256": report_sha256,
            "valid_until": valid_until})
    except (ValueError, ValidationError) as exc:
        err.print(f"[red]invalid input:[/red] {exc}")
        raise typer.Exit(2) from exc

    def work(session: Session, actor: Actor) -> dict[str, Any]:
        row = evaluations.file_evaluation(session, actor=actor, model_id=model_id, data=data)
        return {"id": row.id, "model_id": row.model_id, "model_version": row.model_version,
                "overall": row.overall}

    _print(_write(db, key, work))


@app.command("decide")
def decide(model_id: str, decision: str = typer.Argument(..., help="approve, reject, "
                                                                   "suspend or revoke"),
           reason: str | None = None, db: str | None = DbOpt, key: str | None = KeyOpt) -> None:
    """Regulator: approve (needs a current, passing evaluation), reject, suspend or revoke a
    model."""
    from robopass.product_models import service as model_service

    if decision not in ("approve", "reject", "suspend", "revoke"):
        err.print("[red]error:[/red] decision must be approve, reject, suspend or revoke")
        raise typer.Exit(2)
    _print(_write(db, key, lambda s, a: model_service.snapshot(model_service.decide(
        s, actor=a, model_id=model_id, decision=decision, reason=reason))))  # type: ignore[arg-type]


@app.command("amend")
def amend(model_id: str, changes: str = typer.Option(..., help="JSON: {parameters?, "
                                                               "components?, software?}"),
          reason: str = typer.Option(...), db: str | None = DbOpt, key: str | None = KeyOpt
          ) -> None:
    """Manufacturer: file an amendment (a new version of the model's filing)."""
    from pydantic import ValidationError

    from robopass.product_models import amendments
    from robopass.product_models.schemas import AmendmentChanges

    try:
        parsed = AmendmentChanges.model_validate_json(changes)
    except ValidationError as exc:
        err.print(f"[red]invalid changes:[/red] {exc}")
        raise typer.Exit(2) from exc

    def work(session: Session, actor: Actor) -> dict[str, Any]:
        row = amendments.file_amendment(session, actor=actor, model_id=model_id,
                                        changes=parsed, reason=reason)
        return {"id": row.id, "model_id": row.model_id, "version": row.version,
                "status": row.status, "reevaluation_required": row.reevaluation_required}

    _print(_write(db, key, work))


@app.command("decide-amendment")
def decide_amendment(model_id: str, amendment_id: str,
                     decision: str = typer.Argument(..., help="approve or reject"),
                     reason: str | None = None, db: str | None = DbOpt,
                     key: str | None = KeyOpt) -> None:
    """Regulator: approve or reject an amendment."""
    from robopass.product_models import amendments

    if decision not in ("approve", "reject"):
        err.print("[red]error:[/red] decision must be approve or reject")
        raise typer.Exit(2)

    def work(session: Session, actor: Actor) -> dict[str, Any]:
        row = amendments.decide(session, actor=actor, model_id=model_id,
                                amendment_id=amendment_id, decision=decision,  # type: ignore[arg-type]
                                reason=reason)
        return {"id": row.id, "version": row.version, "status": row.status}

    _print(_write(db, key, work))


@app.command("org-update")
def org_update(org_id: str, name: str | None = None, name_zh: str | None = None,
               province: str | None = None, city: str | None = None,
               reason: str | None = None, db: str | None = DbOpt, key: str | None = KeyOpt
               ) -> None:
    """Regulator: change an organisation's name, Chinese name, province or city."""
    from robopass.organizations import governance
    from robopass.organizations.schemas import OrganizationRead

    changes = {k: v for k, v in (("name", name), ("name_zh", name_zh), ("province", province),
                                 ("city", city)) if v is not None}
    _print(_write(db, key, lambda s, a: OrganizationRead.model_validate(governance.update(
        s, actor=a, org_id=org_id, changes=changes, reason=reason)).model_dump(mode="json")))


@app.command("org-status")
def org_status(org_id: str, action: str = typer.Argument(..., help="suspend, reinstate or "
                                                                   "deregister"),
               reason: str = typer.Option(...), db: str | None = DbOpt,
               key: str | None = KeyOpt) -> None:
    """Regulator: suspend, reinstate or deregister an organisation, with a reason."""
    from robopass.organizations import governance

    if action not in ("suspend", "reinstate", "deregister"):
        err.print("[red]error:[/red] action must be suspend, reinstate or deregister")
        raise typer.Exit(2)
    _print(_write(db, key, lambda s, a: governance.snapshot(governance.change_status(
        s, actor=a, org_id=org_id, action=action, reason=reason))))  # type: ignore[arg-type]


@app.command("close-recall")
def close_recall(recall_id: str, reason: str = typer.Option(...), db: str | None = DbOpt,
                 key: str | None = KeyOpt) -> None:
    """Close a recall campaign (its manufacturer once all units are remedied or terminal,
    the regulator at any time)."""
    from robopass.recalls import closing, service

    _print(_write(db, key, lambda s, a: service.progress(closing.close_recall(
        s, actor=a, recall_id=recall_id, reason=reason))))


@app.command("decisions")
def decisions(object_id: str | None = None, action: str | None = None,
              since: str | None = typer.Option(None, "--from", help="RFC 3339"),
              until: str | None = typer.Option(None, "--to", help="RFC 3339"),
              limit: int = 200, as_json: bool = typer.Option(False, "--json"),
              db: str | None = DbOpt, key: str | None = KeyOpt) -> None:
    """The decision history the key's organisation may see, newest first."""
    from robopass.db import reading
    from robopass.decisions import service
    from robopass.decisions.schemas import DecisionRead
    from robopass.timeutil import parse_rfc3339

    try:
        start = parse_rfc3339(since) if since else None
        end = parse_rfc3339(until) if until else None
        with reading(_db(db)) as session:
            actor = auth_service.authenticate(session, _key(key))
            rows = [DecisionRead.model_validate(r).model_dump(mode="json") for r in
                    service.list_decisions(session, actor=actor, object_id=object_id,
                                           action=action, from_=start, to=end, limit=limit)]
    except (RobopassError, ValueError) as exc:
        err.print(f"[red]error:[/red] {getattr(exc, 'message', exc)}")
        raise typer.Exit(1) from exc
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return
    table = Table("at", "action", "object", "by", "reason", "ledger")
    for row in rows:
        table.add_row(row["at"], row["action"], f"{row['object_type']} {row['object_id']}",
                      row["actor_name"], row["reason"] or "", str(row["ledger_index"]))
    Console().print(table)
