"""``robopass passport verify FILE --jwks FILE``: offline passport verification."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

app = typer.Typer(help="Signed robot passports.", no_args_is_help=True)
err = Console(stderr=True)


def _load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        err.print("[red]error:[/red] " + escape(f"cannot read the {what} {path}: {exc.strerror}"))
        raise typer.Exit(2) from exc
    except ValueError as exc:
        err.print("[red]error:[/red] " + escape(f"the {what} {path} is not JSON"))
        raise typer.Exit(2) from exc


@app.command("verify")
def verify(file: Path = typer.Argument(..., help="The passport: a compact JWS, or the JSON "
                                       "{passport, history} the registry serves"),
           jwks: Path = typer.Option(..., "--jwks", help="The issuing registry's JWKS file"),
           code: str | None = typer.Option(None, help="Require the passport to be for this code"),
           as_json: bool = typer.Option(False, "--json", help="Print the claims as JSON")) -> None:
    """Check a passport's signature (retired keys included) and, when the file holds the
    event summaries, its history digest. Exit 1 with the reason if it fails. No network."""
    from robopass import idcode
    from robopass.passports.verify import PassportError, verify_history, verify_passport

    try:
        text = file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        err.print("[red]error:[/red] " + escape(f"cannot read {file}: {exc.strerror}"))
        raise typer.Exit(2) from exc
    history = None
    token: Any = text
    if text.startswith("{"):
        try:
            body = json.loads(text)
        except ValueError as exc:
            err.print("[red]INVALID[/red] " + escape(f"{file} is neither a compact JWS nor JSON"))
            raise typer.Exit(1) from exc
        token = body.get("passport") if isinstance(body, dict) else None
        history = body.get("history") if isinstance(body, dict) else None
    keys = _load_json(jwks, "JWKS")
    expected = None
    if code:
        try:
            expected = idcode.validate(code)
        except idcode.InvalidCode as exc:
            err.print("[red]error:[/red] " + escape(f"--code: {exc.message}"))
            raise typer.Exit(2) from exc
    try:
        claims = verify_passport(token, keys, expected_sub=expected)
        if history is not None:
            verify_history(claims, history)
    except PassportError as exc:
        err.print("[red]INVALID[/red] " + escape(f"({exc.reason}): {exc}"))
        raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps({"valid": True, "history_checked": history is not None,
                          "claims": claims}, ensure_ascii=False))
        return
    print(f"VALID passport for {idcode.format(claims['sub'])}")
    print(f"  issuer: {claims['iss']}  status: {claims['status']}")
    print(f"  model: {claims['model'].get('name')}  manufacturer: "
          f"{claims['manufacturer'].get('name')}")
    print(f"  ledger size {claims['ledger']['size']} root {claims['ledger']['root_hash']}")
    print(f"  history digest {claims['history_digest']}"
          + (" (checked against the event summaries)" if history is not None else ""))
