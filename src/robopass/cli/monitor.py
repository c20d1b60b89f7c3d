"""``robopass monitor``: follow a registry's log and fail loudly if it ever rewrites history."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from robopass.ledger import note

if TYPE_CHECKING:  # imported by the command itself: `robopass serve` forks its workers from
    import httpx  # the CLI's process, and httpx brings click and pygments (~6 MB in each)

    from robopass.monitor.follow import Report

err = Console(stderr=True, soft_wrap=True)


def monitor(log: str = typer.Option(..., "--log", help="The registry's base URL"),
            vkey: str = typer.Option(..., help="The log's verifier key (GET /api/v1/ledger/vkey, "
                                               "obtained out of band)"),
            witness: list[str] = typer.Option([], "--witness", help="A witness verifier key "
                                                                     "(repeatable)"),
            quorum: int = typer.Option(0, help="Valid witness cosignatures each checkpoint "
                                               "needs"),
            state: Path = typer.Option(..., help="Directory keeping the last verified "
                                                 "checkpoint"),
            once: bool = typer.Option(False, help="One pass, then exit"),
            interval: float = typer.Option(30.0, help="Seconds between passes"),
            quorum_wait: float = typer.Option(30.0, help="Seconds to keep refetching a "
                                                         "checkpoint that lacks the quorum")
            ) -> None:
    """Verify signatures, the consistency of each new checkpoint with the last one seen and
    every new leaf. Exit 2 (printing both signed checkpoints) on a split view or rewritten
    history, 3 on a missing quorum, 1 on other errors."""
    try:
        log_key = note.parse_vkey(vkey)
        witness_keys = [note.parse_vkey(w) for w in witness]
    except note.NoteError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if quorum > len(witness_keys):
        err.print(f"[red]error:[/red] a quorum of {quorum} needs at least {quorum} --witness")
        raise typer.Exit(2)
    import httpx

    with httpx.Client(trust_env=False, timeout=30) as client:
        while True:
            report = _pass(log, log_key, witness_keys, quorum, state, client, quorum_wait)
            print(f"verified {report.origin} up to size {report.size} (root "
                  f"{report.root.hex()}); {report.new_entries} new entries checked"
                  + (f"; cosigned by {', '.join(report.cosigners)}" if report.cosigners
                     else ""), flush=True)
            if once:
                return
            time.sleep(interval)


def _pass(log: str, log_key: note.NoteKey, witness_keys: list[note.NoteKey], quorum: int,
          state: Path, client: httpx.Client, quorum_wait: float) -> Report:
    from robopass.monitor import follow

    deadline = time.monotonic() + quorum_wait
    while True:
        try:
            return _run_once(log, log_key, witness_keys, quorum, state, client)
        except follow.Inconsistent as exc:
            print(f"INCONSISTENT: {exc.reason}")
            print("--- earlier signed checkpoint ---")
            print(exc.old, end="")
            print("--- new signed checkpoint ---")
            print(exc.new, end="", flush=True)
            raise SystemExit(2) from exc
        except follow.QuorumMissing as exc:
            if time.monotonic() < deadline:
                time.sleep(0.5)
                continue
            err.print(f"[red]missing quorum:[/red] {exc}")
            raise SystemExit(3) from exc
        except follow.MonitorError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise SystemExit(1) from exc


def _run_once(log: str, log_key: note.NoteKey, witness_keys: list[note.NoteKey], quorum: int,
              state: Path, client: httpx.Client) -> Report:
    from robopass.cli import _progress_bar
    from robopass.monitor import follow

    with _progress_bar() as bar:
        task = bar.add_task("verifying new entries", total=None)
        return follow.run_pass(log, log_key, witness_keys, quorum, state, client=client,
                               progress=lambda n: bar.update(task, completed=n))
