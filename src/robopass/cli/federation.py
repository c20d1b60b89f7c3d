"""Federation commands: ``robopass peer add|list`` and ``robopass import-robot``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from robopass import config

peer_app = typer.Typer(help="Peer registries of other countries.", no_args_is_help=True)
err = Console(stderr=True)
DbOpt = typer.Option(None, "--db", help="Database URL; default $ROBOPASS_DATABASE_URL")


def _db(db: str | None) -> str:
    return config.database_url(db)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print("[red]error:[/red] " + escape(f"{message}"))
    return typer.Exit(code)


@peer_app.command("add")
def add(country: str = typer.Argument(..., help="The peer's country (ISO 3166-1 alpha-2)"),
        base_url: str = typer.Argument(..., help="The peer's base URL, e.g. https://robopass.de"),
        db: str | None = DbOpt,
        jwks_file: Path | None = typer.Option(None, "--jwks", help="Pin this JWKS file instead "
                                              "of fetching {base_url}/.well-known/jwks.json"),
        witness_url: str | None = typer.Option(None, help="The peer's tlog-witness URL: submit "
                                                          "our checkpoints to it (SPEC §15)"),
        witness_vkey: str | None = typer.Option(None, help="That witness's verifier key")
        ) -> None:
    """Register a peer registry and pin its JWKS (fetched now, or from --jwks)."""
    from robopass.cli import witness as witness_cli
    from robopass.db import reading, writing
    from robopass.errors import RobopassError
    from robopass.federation import service

    try:
        with reading(_db(db)) as session:
            country, base = service.check_peer(session, country=country, base_url=base_url)
        if jwks_file is not None:
            jwks = json.loads(jwks_file.read_text(encoding="utf-8"))
        else:
            jwks = service.fetch_jwks(base, country=country)
        with writing(_db(db)) as session:
            peer = service.add_peer(session, country=country, base_url=base, jwks=jwks)
            kids = [k.get("kid") for k in peer.jwks.get("keys", [])]
            witness_note = witness_cli.offer_peer_witness(session, witness_url, witness_vkey)
    except RobopassError as exc:
        raise _fail(exc.message) from exc
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot read the JWKS file: {exc}") from exc
    print(f"peer {country} at {base} pinned with {len(kids)} key(s): {', '.join(map(str, kids))}")
    print(witness_note)


@peer_app.command("list")
def list_peers(db: str | None = DbOpt) -> None:
    from robopass.db import reading
    from robopass.federation import service

    with reading(_db(db)) as session:
        for peer in service.list_peers(session):
            print(json.dumps({"country": peer.country, "base_url": peer.base_url,
                              "keys": [k.get("kid") for k in peer.jwks.get("keys", [])]}))


def import_robot(code: str = typer.Argument(..., help="The peer's robot code"),
                 db: str | None = DbOpt,
                 owner: str | None = typer.Option(None, help="Local owner organisation id"),
                 as_json: bool = typer.Option(False, "--json", help="Print JSON")) -> None:
    """Admit a peer registry's robot: its code, verified passport and history digest are kept.
    Exit non-zero and write nothing when the peer says it is scrapped or recycled, the passport
    fails, the peer is unknown or does not answer."""
    from robopass.db import reading, writing
    from robopass.errors import RobopassError
    from robopass.federation import service
    from robopass.passports.verify import PassportError

    url = _db(db)
    try:
        with reading(url) as session:
            remote = service.fetch_for_import(session, code)
        with writing(url) as session:
            unit = service.admit(session, remote, owner_id=owner)
            result = {"code": unit.code, "imported_from": unit.imported_from,
                      "status": unit.status,
                      "history_digest": remote.claims["history_digest"]}  # type: ignore[index]
    except PassportError as exc:
        raise _fail(f"the passport failed verification ({exc.reason}): {exc}; nothing was "
                    "imported") from exc
    except RobopassError as exc:
        raise _fail(f"{exc.message}; nothing was imported") from exc
    if as_json:
        print(json.dumps(result))
    else:
        print(f"imported {result['code']} from {result['imported_from']} "
              f"(status {result['status']}, history digest {result['history_digest']})")


@peer_app.command("deliver")
def deliver(db: str | None = DbOpt,
            loop: bool = typer.Option(False, "--loop", help="Keep delivering until stopped"),
            interval: float = typer.Option(5.0, help="Seconds between rounds with --loop"),
            as_json: bool = typer.Option(False, "--json", help="Print the round's counts")
            ) -> None:
    """Send due hand-over messages to peer registries (``robopass serve`` does this in the
    background); a peer that does not answer is retried later with backoff."""
    import threading

    from robopass.federation import delivery

    url = _db(db)
    if loop:
        delivery.run_worker(url, stop=threading.Event(), interval=interval)
        return
    report = delivery.deliver_due(url)
    if as_json:
        print(json.dumps(report.as_dict()))
    else:
        print(f"attempted {report.attempted}, delivered {report.delivered}, "
              f"retrying {report.retrying}, failed {report.failed}")
    for line in report.errors:
        err.print(escape(line))


@peer_app.command("outbox")
def outbox(db: str | None = DbOpt,
           code: str | None = typer.Option(None, help="Only messages about this code")) -> None:
    """Hand-over messages queued for peers, one JSON line each."""
    from robopass.db import reading
    from robopass.federation import handover
    from robopass.timeutil import rfc3339

    with reading(_db(db)) as session:
        for m in handover.outbox(session, code=code):
            print(json.dumps({"id": m.id, "country": m.country, "kind": m.kind, "code": m.code,
                              "status": m.status, "attempts": m.attempts,
                              "last_error": m.last_error,
                              "delivered_at": rfc3339(m.delivered_at)}))
