"""The ``robopass`` command line (Typer + Rich). Commands call the same services as the API."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import typer
from rich.console import Console

from robopass import config
from robopass.cli import code as code_cli

app = typer.Typer(help="robopass: humanoid robot full-lifecycle registry", no_args_is_help=True,
                  pretty_exceptions_enable=False)
app.add_typer(code_cli.app, name="code", help="Validate, parse and format identity codes.")
ledger_app = typer.Typer(help="The tamper-evident ledger.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
from robopass.cli import compliance as compliance_cli  # noqa: E402
from robopass.cli import federation as federation_cli  # noqa: E402
from robopass.cli import filings as filings_cli  # noqa: E402
from robopass.cli import keys as keys_cli  # noqa: E402
from robopass.cli import labels as labels_cli  # noqa: E402
from robopass.cli import monitor as monitor_cli  # noqa: E402
from robopass.cli import notify as notify_cli  # noqa: E402
from robopass.cli import passport as passport_cli  # noqa: E402
from robopass.cli import policy as policy_cli  # noqa: E402
from robopass.cli import stats as stats_cli  # noqa: E402
from robopass.cli import telemetry as telemetry_cli  # noqa: E402
from robopass.cli import witness as witness_cli  # noqa: E402

app.add_typer(passport_cli.app, name="passport")
app.add_typer(filings_cli.app, name="filings")
app.add_typer(keys_cli.app, name="keys")
app.add_typer(federation_cli.peer_app, name="peer")
app.command("import-robot")(federation_cli.import_robot)
app.command("labels")(labels_cli.labels)
app.add_typer(notify_cli.app, name="notify")
app.add_typer(telemetry_cli.ingest_app, name="ingest")
app.add_typer(telemetry_cli.telemetry_app, name="telemetry")
app.command("simulate")(telemetry_cli.simulate)
app.add_typer(compliance_cli.app, name="compliance")
app.add_typer(policy_cli.policy_app, name="policy")
app.add_typer(policy_cli.pilot_app, name="pilot")
app.add_typer(witness_cli.app, name="witness")
app.add_typer(stats_cli.app, name="stats")
app.command("monitor")(monitor_cli.monitor)

err = Console(stderr=True, soft_wrap=True)
DB_HELP = "Database URL (sqlite:///path.db or postgresql://...); default $ROBOPASS_DATABASE_URL"


def db_option() -> str:
    return config.database_url()


DbOpt = typer.Option(None, "--db", help=DB_HELP)


def resolve_db(db: str | None) -> str:
    return config.database_url(db)


@app.command()
def init(db: str | None = DbOpt,
         country: str = typer.Option("CN", help="This registry's country (ISO 3166-1 alpha-2)"),
         origin: str | None = typer.Option(
             None, help="Ledger origin (checkpoint origin, note key name, passport iss); "
                        "default: the public URL's host and path + /ledger"),
         public_url: str | None = typer.Option(
             None, help="Public base URL the default origin is derived from; default "
                        "$ROBOPASS_PUBLIC_URL"),
         as_json: bool = typer.Option(False, "--json", help="Print JSON")) -> None:
    """Create or migrate the schema; on a new database print the regulator's API key once."""
    from robopass.registry import service

    try:
        key = service.initialise(resolve_db(db), country=country, origin=origin,
                                 public_url=public_url or config.public_url_from_environment())
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if as_json:
        print(json.dumps({"regulator_api_key": key}))
    elif key:
        print("Registry created. The regulator's API key (shown once, keep it safe):")
        print(key)
        from robopass.db import reading

        with reading(resolve_db(db)) as session:
            print(f"Ledger origin (checkpoints, note key name, passport iss): "
                  f"{service.origin(session)}")
    else:
        print("Database already initialised; schema is up to date.")


def _start_background(url: str, *, webhooks: bool, signal_scan: float,
                      compliance_scan: float, witness_interval: float) -> None:
    """The server's background threads: webhook and hand-over delivery, the defect-signal and
    compliance scanners, the witness submitter and the telemetry folder."""
    if webhooks:
        from robopass.notifications.delivery import start_background_worker

        start_background_worker(url)
        from robopass.federation import delivery as handover_delivery  # SPEC §16 hand-over

        handover_delivery.start_background_worker(url)
    if signal_scan > 0:
        from robopass.signals.watch import start_background_scanner

        start_background_scanner(url, interval=signal_scan)
    if compliance_scan > 0:
        from robopass.compliance.watch import start_background_scanner as compliance_scanner

        compliance_scanner(url, interval=compliance_scan)
    if witness_interval > 0:
        from robopass.ledger.witnessing import start_background_submitter

        start_background_submitter(url, interval=witness_interval)
    from robopass.telemetry.settings import get_telemetry_settings
    from robopass.telemetry.staging import start_background_folder

    if get_telemetry_settings().fold_interval_s > 0:  # live telemetry staged → chunks
        start_background_folder(url, interval=get_telemetry_settings().fold_interval_s)


@app.command()
def serve(db: str | None = DbOpt, host: str = "127.0.0.1", port: int = 8000,
          workers: int = typer.Option(1, help="Server worker processes"),
          public_url: str | None = typer.Option(None, help="Public base URL for labels"),
          webhooks: bool = typer.Option(True, help="Deliver webhooks in a background thread"),
          signal_scan: float = typer.Option(300.0, help="Seconds between defect-signal scans "
                                                        "in a background thread; 0 disables"),
          compliance_scan: float = typer.Option(300.0, help="Seconds between compliance "
                                                "scans in a background thread; 0 disables"),
          witness_interval: float = typer.Option(
              1.0, help="Seconds between checks for a new checkpoint to submit to the "
                        "witnesses (`robopass witness add`); 0 disables")
          ) -> None:
    """Serve the API and web UI (with --workers N, each worker on its own SO_REUSEPORT socket)."""
    url = os.environ["ROBOPASS_DATABASE_URL"] = resolve_db(db)
    # the workers read their settings from the environment: pass these on
    current = config.get_settings()
    os.environ["ROBOPASS_PUBLIC_URL"] = public_url or (
        current.public_url if "public_url" in current.model_fields_set
        else f"http://{host}:{port}")

    def background() -> None:  # this process's threads, started once the workers are forked
        _start_background(url, webhooks=webhooks, signal_scan=signal_scan,
                          compliance_scan=compliance_scan, witness_interval=witness_interval)

    from robopass import serving

    def ready(count: int) -> None:
        err.print(f"Ready: {count} worker{'s' if count > 1 else ''} serving "
                  f"http://{host}:{port} (Ctrl-C stops)")

    status = serving.run(host=host, port=port, workers=workers, on_ready=ready,
                         after_start=background)
    if status:
        err.print("[red]error:[/red] a server worker could not start (see its output above)")
        raise typer.Exit(status)


signals_app = typer.Typer(help="Defect signals (possible common defects).",
                          no_args_is_help=True)
app.add_typer(signals_app, name="signals")


@signals_app.command("scan")
def signals_scan(db: str | None = DbOpt) -> None:
    """Evaluate the defect-signal thresholds now (for cron); prints the signals raised or
    updated as JSON lines."""
    from robopass.signals.watch import scan_once

    for signal in scan_once(resolve_db(db)):
        print(json.dumps(signal, ensure_ascii=False, default=str))


@ledger_app.command("verify")
def ledger_verify(db: str | None = DbOpt) -> None:
    """Recompute digests, leaves and roots from the database; exit 1 on the first mismatch."""
    from robopass.db import reading
    from robopass.ledger import audit

    with reading(resolve_db(db)) as session:
        report = audit.verify_ledger(session, progress=True)
    if report.ok:
        print(f"ledger OK: {report.size} entries, root {report.root_hash}")
    else:
        err.print(f"[red]ledger MISMATCH[/red] at entry {report.bad_index}: {report.reason}")
        raise typer.Exit(1)
    _verify_unit_states(resolve_db(db))


def _verify_unit_states(url: str) -> None:
    """Second half of ``ledger verify``: every unit's row against the fold of its events."""
    from rich.progress import Progress

    from robopass.db import reading
    from robopass.ledger import statecheck

    with reading(url) as session, Progress(transient=True, console=err) as bar:
        task = bar.add_task("re-folding unit states", total=statecheck.count_units(session))
        checked, differences = statecheck.check_units(
            session, progress=lambda n: bar.advance(task, n))
    if differences:
        for difference in differences:
            err.print(f"[red]state MISMATCH[/red] {difference}")
        raise typer.Exit(1)
    print(f"unit states OK: {checked} units match the fold of their events")


import_app = typer.Typer(help="Import data from CSV.", no_args_is_help=True)
export_app = typer.Typer(help="Export data as CSV.", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")


@import_app.command("units")
def import_units(file: str = typer.Argument(..., help="CSV file (columns: code, province, "
                                                       "city, firmware), or - for stdin"),
                 db: str | None = DbOpt,
                 skip_bad: bool = typer.Option(False, help="Import the good rows, report the "
                                                           "bad ones")) -> None:
    """Register existing units from CSV; nothing is imported if any row is bad (unless
    --skip-bad). Exit 1 when rows were bad."""
    from pathlib import Path

    from robopass.db import writing
    from robopass.robots import csv_io

    text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8-sig")
    import io

    rows, header_errors = csv_io.read_rows(io.StringIO(text))
    if header_errors:
        for e in header_errors:
            err.print(f"line {e.line}: {e.field}: {e.message}")
        raise typer.Exit(1)
    with _progress_bar() as bar:
        task = bar.add_task("checking and importing units", total=len(rows))
        with writing(resolve_db(db)) as session:
            report = csv_io.import_units(session, rows, skip_bad=skip_bad)
        bar.update(task, completed=len(rows))
    for e in report.errors:
        err.print(f"line {e.line}: {e.field}: {e.message}")
    if report.errors and not skip_bad:
        err.print(f"[red]{len(report.errors)} problem(s); nothing was imported[/red] "
                  "(fix them, or use --skip-bad)")
        raise typer.Exit(1)
    print(f"imported {report.imported} unit(s)"
          + (f", skipped {len({e.line for e in report.errors})} bad row(s)"
             if report.errors else ""))
    if report.errors:
        raise typer.Exit(1)


@export_app.command("units")
def export_units(db: str | None = DbOpt,
                 out: str = typer.Option("-", help="Output CSV file, - for stdout"),
                 model_id: str | None = typer.Option(None, help="Only this model's units"),
                 status: str | None = typer.Option(None, help="Only units in this status"),
                 key: str | None = typer.Option(None, "--key", envvar="ROBOPASS_API_KEY",
                                                help="Act as this organisation (e.g. a "
                                                     "provincial regulator: its units only); "
                                                     "default: the registry's regulator")
                 ) -> None:
    """Export units as CSV (streamed in code order); the export goes through the access gate
    and is audit-logged like the API's reads."""
    import csv
    from pathlib import Path

    from sqlalchemy import func, select

    from robopass import gate
    from robopass.db import reading
    from robopass.errors import RobopassError
    from robopass.robots import csv_io
    from robopass.robots.models import Unit

    handle = sys.stdout if out == "-" else Path(out).open("w", newline="", encoding="utf-8")
    try:
        writer = csv.DictWriter(handle, fieldnames=csv_io.EXPORT_COLUMNS)
        writer.writeheader()
        with reading(resolve_db(db)) as session, _progress_bar() as bar:
            try:
                actor = gate.console_actor(session, key)
                gate.require_regulator(actor)
            except RobopassError as exc:
                err.print(f"[red]{exc.message}[/red]")
                raise typer.Exit(1) from exc
            total = session.scalar(select(func.count()).select_from(Unit)
                                   .where(gate.unit_filter(actor)))
            task = bar.add_task("exporting units", total=total)
            for n, row in enumerate(csv_io.export_units(session, actor=actor, model_id=model_id,
                                                        status=status), start=1):
                writer.writerow(row)
                if n % 1000 == 0:
                    bar.update(task, completed=n)
    finally:
        if handle is not sys.stdout:
            handle.close()


def _per_table(bar: Any, verb: str) -> Any:
    """A progress callback ``(table, done, total)`` with one bar per table."""
    tasks: dict[str, Any] = {}

    def progress(table: str, n: int, total: int) -> None:
        if table not in tasks:
            tasks[table] = bar.add_task(f"{verb} {table}", total=total)
        bar.update(tasks[table], completed=n)

    return progress


@app.command()
def backup(out: str = typer.Argument(..., help="Backup file to write (.jsonl.gz)"),
           db: str | None = DbOpt) -> None:
    """Back up a (live) database to a portable file."""
    from pathlib import Path

    from robopass import backup as backup_mod

    with _progress_bar() as bar:
        counts = backup_mod.backup(resolve_db(db), Path(out),
                                   progress=_per_table(bar, "backing up"))
    print(f"backed up {sum(counts.values()):,} rows from {len(counts)} tables to {out}")


@app.command()
def restore(file: str = typer.Argument(..., help="Backup file written by `robopass backup`"),
            db: str | None = DbOpt) -> None:
    """Restore a backup into a new, empty database (SQLite or PostgreSQL)."""
    from pathlib import Path

    from robopass import backup as backup_mod

    try:
        with _progress_bar() as bar:
            counts = backup_mod.restore(resolve_db(db), Path(file),
                                        progress=_per_table(bar, "restoring"))
    except backup_mod.BackupError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    print(f"restored {sum(counts.values()):,} rows into {resolve_db(db)}")


def _progress_bar():  # type: ignore[no-untyped-def]
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                    TextColumn("{task.completed:,}"), TimeElapsedColumn(), console=err)


def _run_seed(url: str, units: int, seed_value: int, telemetry: bool) -> object:
    from robopass.seed import seed as seed_registry

    with _progress_bar() as bar:
        tasks: dict[str, object] = {}

        def progress(stage: str, n: int) -> None:
            if stage not in tasks:
                for earlier in tasks.values():  # a new stage: the previous ones are done
                    bar.stop_task(earlier)  # type: ignore[arg-type]
                total = units if stage in ("units",) else None
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=n)  # type: ignore[arg-type]

        return seed_registry(url, units=units, seed_value=seed_value, progress=progress,
                             telemetry=telemetry)


@app.command()
def seed(db: str | None = DbOpt,
         units: int = typer.Option(28_000, help="How many units to register"),
         seed_value: int = typer.Option(20261122, "--seed", help="Random seed"),
         telemetry: bool = typer.Option(True, help="Give deployed units telemetry history"),
         keys_file: str = typer.Option("var/demo-keys.json", help="Where to write API keys")
         ) -> None:
    """Seed a new database with a realistic demo registry."""
    from pathlib import Path

    url = resolve_db(db)
    try:
        result = _run_seed(url, units, seed_value, telemetry)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    result.write(Path(keys_file))  # type: ignore[attr-defined]
    print(f"Seeded {url}; API keys written to {keys_file}")


@app.command()
def demo(db: str = typer.Option("sqlite:///var/demo.db", "--db", help=DB_HELP),
         host: str = "127.0.0.1", port: int = 8000,
         units: int = typer.Option(28_000, help="Units to seed on first run"),
         fresh: bool = typer.Option(False, help="Delete and rebuild the demo database")) -> None:
    """Build the demo registry (first run only) and serve it, printing where to click."""
    from pathlib import Path

    from robopass.db import normalise_url

    url = normalise_url(db)
    keys_file = Path("var/demo-keys.json")
    path = Path(url.split("///", 1)[1]) if url.startswith("sqlite") else None
    if path is not None and fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    if path is not None and not path.exists():
        err.print(f"Building the demo registry in {path} (a minute or two, once) ...")
        result = _run_seed(url, units, 20261122, True)
        result.write(keys_file)  # type: ignore[attr-defined]
    info = json.loads(keys_file.read_text()) if keys_file.exists() else {}
    base = f"http://{host}:{port}"
    samples = info.get("sample_codes", {})
    print()
    print(f"robopass demo registry: {url}")
    print(f"  Web UI (sign in with a key below): {base}/")
    print(f"  API docs (OpenAPI):                {base}/docs")
    if samples.get("in_service"):
        print(f"  Public page of a robot:            {base}/r/{samples['in_service']}")
    if samples.get("recalled"):
        print(f"  A robot under recall:              {base}/r/{samples['recalled']}")
    if samples.get("scrapped"):
        print(f"  A scrapped robot:                  {base}/r/{samples['scrapped']}")
    print(f"  Public verification API:           {base}/api/v1/verify/"
          f"{samples.get('in_service', '')}")
    print(f"  Ledger head:                       {base}/api/v1/ledger/head")
    if info.get("regulator_api_key"):
        print(f"  Regulator API key:                 {info['regulator_api_key']}")
    print(f"  Other organisations' keys:         {keys_file}")
    print()
    # No compliance scan in the background: nothing reports telemetry to a demo snapshot, so a
    # scan minutes later would find every unit silent (`robopass compliance scan` runs one).
    serve(db=url, host=host, port=port, workers=1, public_url=None, webhooks=True,
          signal_scan=300.0, compliance_scan=0.0, witness_interval=1.0)


def main() -> None:
    from robopass.runtime import tune_gc, tune_memory

    tune_memory()  # before the server's background threads start
    tune_gc()
    try:
        app()
    except BrokenPipeError:
        sys.exit(1)
