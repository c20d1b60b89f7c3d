"""``robopass stats``: check the dashboard's maintained counts against a full recount, or
rebuild them: the unit counts from ``units`` (:mod:`robopass.stats.counts`) and the
supply-chain counts from ``components`` and ``units`` (:mod:`robopass.stats.supply`)."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from robopass import config

app = typer.Typer(help="The dashboard's maintained unit and supply-chain counts.",
                  no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)
DB_HELP = "Database URL (sqlite:///path.db or postgresql://...); default $ROBOPASS_DATABASE_URL"


@app.command("check")
def check(db: str | None = typer.Option(None, "--db", help=DB_HELP)) -> None:
    """Recount units and supply-chain figures (scans) and compare with the maintained counts;
    exit 1 on any difference, each printed as JSON."""
    from robopass.db import reading
    from robopass.stats import counts, supply

    with reading(config.database_url(db)) as session:
        unit_differences = counts.differences(session)
        supply_differences = supply.differences(session)
    for difference in unit_differences:
        err.print(f"[red]count MISMATCH[/red] {json.dumps(difference)}")
    for difference in supply_differences:
        err.print(f"[red]supply count MISMATCH[/red] {json.dumps(difference)}")
    if unit_differences or supply_differences:
        raise typer.Exit(1)
    print("unit counts OK: the maintained counts equal a recount of units")
    print("supply counts OK: the maintained counts equal a recount of components")


@app.command("rebuild")
def rebuild(db: str | None = typer.Option(None, "--db", help=DB_HELP)) -> None:
    """Replace the maintained counts by a recount of units and of components (scans, one
    transaction)."""
    from robopass.db import writing
    from robopass.stats import counts, supply

    with writing(config.database_url(db)) as session:
        rows = counts.rebuild(session)
        supply_rows = supply.rebuild(session)
    print(f"unit counts rebuilt: {rows} rows")
    print(f"supply counts rebuilt: {supply_rows} rows")
