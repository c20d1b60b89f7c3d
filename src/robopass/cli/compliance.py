"""``robopass compliance``: run the compliance scan now, list findings (SPEC §14)."""

from __future__ import annotations

import json

import typer

from robopass import config

app = typer.Typer(help="Continuous compliance: findings about units in service.",
                  no_args_is_help=True)

DB_HELP = "Database URL (sqlite:///path.db or postgresql://...); default $ROBOPASS_DATABASE_URL"


def _db(db: str | None) -> str:
    return db or config.database_url()


@app.command("scan")
def scan(db: str | None = typer.Option(None, "--db", help=DB_HELP),
         full: bool = typer.Option(False, "--full",
                                   help="Judge every unit, not only what changed since the "
                                        "last scan")) -> None:
    """Judge the units in service now (those whose facts changed since the last scan, or all
    with --full): open new findings, resolve those whose cause went away, notify; prints the
    summary as JSON (for cron)."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from robopass.compliance.watch import scan_once

    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"),
                  TextColumn("{task.completed:,}"), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("compliance scan", total=None)

        def progress(stage: str, n: int) -> None:
            bar.update(task, description=stage, completed=n)

        report = scan_once(_db(db), progress=progress, full=full)
    print(json.dumps(report.as_dict()))


@app.command("findings")
def findings(db: str | None = typer.Option(None, "--db", help=DB_HELP),
             kind: str | None = typer.Option(None), scenario: str | None = typer.Option(None),
             province: str | None = typer.Option(None),
             all_: bool = typer.Option(False, "--all", help="Resolved ones too"),
             limit: int = typer.Option(100)) -> None:
    """Findings as JSON lines (as the national regulator sees them), newest first."""
    from robopass.cli.policy import national_regulator
    from robopass.compliance import service
    from robopass.db import reading

    with reading(_db(db)) as session:
        for f in service.visible_findings(session, actor=national_regulator(session),
                                          kind=kind, scenario=scenario, province=province,
                                          open_only=None if all_ else True, limit=limit):
            print(json.dumps(service.view(f), ensure_ascii=False))
