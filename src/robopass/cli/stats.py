"""``robopass stats``: check the dashboard's maintained unit counts against a full recount, or
rebuild them from ``units`` (see :mod:`robopass.stats.counts`)."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from robopass import config

app = typer.Typer(help="The dashboard's maintained unit counts.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)
DB_HELP = "Database URL (sqlite:///path.db or postgresql://...); default $ROBOPASS_DATABASE_URL"


@app.command("check")
def check(db: str | None = typer.Option(None, "--db", help=DB_HELP)) -> None:
    """Recount units (one scan) and compare with the maintained counts; exit 1 on any
    difference, each printed as JSON."""
    from robopass.db import reading
    from robopass.stats import counts

    with reading(config.database_url(db)) as session:
        differences = counts.differences(session)
    for difference in differences:
        err.print(f"[red]count MISMATCH[/red] {json.dumps(difference)}")
    if differences:
        raise typer.Exit(1)
    print("unit counts OK: the maintained counts equal a recount of units")


@app.command("rebuild")
def rebuild(db: str | None = typer.Option(None, "--db", help=DB_HELP)) -> None:
    """Replace the maintained counts by a recount of units (one scan, one transaction)."""
    from robopass.db import writing
    from robopass.stats import counts

    with writing(config.database_url(db)) as session:
        rows = counts.rebuild(session)
    print(f"unit counts rebuilt: {rows} rows")
