"""``robopass passport verify FILE --jwks FILE``: offline passport verification."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
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


def describe_age(seconds: int) -> str:
    """``3 d 4 h``, ``5 h 2 min``, ``42 s``: how old a signed statement is."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _when(epoch: int) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@app.command("verify")
def verify(file: Path = typer.Argument(..., help="The passport: a compact JWS, or the JSON "
                                       "{passport, history} the registry serves"),
           jwks: Path = typer.Option(..., "--jwks", help="The issuing registry's JWKS file"),
           code: str | None = typer.Option(None, help="Require the passport to be for this code"),
           as_json: bool = typer.Option(False, "--json", help="Print the claims as JSON"),
           allow_expired: bool = typer.Option(False, "--allow-expired",
                                              help="Check an expired passport as a record of "
                                              "the past (it still is not current)")) -> None:
    """Check a passport's signature (retired keys included) and, when the file holds the
    event summaries, its history digest; print its age. An expired passport (past ``exp``)
    fails unless --allow-expired. Exit 1 with the reason if it fails. No network."""
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
        claims = verify_passport(token, keys, expected_sub=expected,
                                 allow_expired=allow_expired)
        if history is not None:
            verify_history(claims, history)
    except PassportError as exc:
        err.print("[red]INVALID[/red] " + escape(f"({exc.reason}): {exc}"))
        raise typer.Exit(1) from exc
    age = int(time.time()) - int(claims["iat"])
    expired = "exp" in claims and time.time() > claims["exp"]
    if as_json:
        print(json.dumps({"valid": True, "history_checked": history is not None,
                          "age_seconds": age, "expired": expired,
                          "claims": claims}, ensure_ascii=False))
        return
    print(f"VALID passport for {idcode.format(claims['sub'])}"
          + (" (EXPIRED: a record of the past, not the robot's current state)"
             if expired else ""))
    print(f"  issued {_when(claims['iat'])}, {describe_age(age)} ago"
          + (f"; passes as current until {_when(claims['exp'])}" if "exp" in claims else
             "; no exp: it cannot tell whether it is current"))
    print(f"  issuer: {claims['iss']}  status: {claims['status']}")
    print(f"  model: {claims['model'].get('name')}  manufacturer: "
          f"{claims['manufacturer'].get('name')}")
    print(f"  ledger size {claims['ledger']['size']} root {claims['ledger']['root_hash']}")
    print(f"  history digest {claims['history_digest']}"
          + (" (checked against the event summaries)" if history is not None else ""))


@app.command("verify-offline")
def verify_offline(text: str = typer.Argument(..., help="The scanned text: RP1:..., or the "
                                              "label URL carrying it after '#', or - for stdin"),
                   jwks: Path = typer.Option(..., "--jwks", help="The issuing registry's JWKS"),
                   status: Path | None = typer.Option(None, "--status", help="A status list "
                                                      "token file (GET /api/v1/status-list)"),
                   as_json: bool = typer.Option(False, "--json", help="Print JSON")) -> None:
    """Verify an offline label passport with no network: its COSE signature against the JWKS,
    its age, and with --status the robot's entry in a signed status list (and that list's
    age against its ttl). Exit 1 if the passport or the list fails, or the robot is not
    valid (invalid, suspended, open recall)."""
    import sys

    from robopass import idcode
    from robopass.passports.offline import status_reference
    from robopass.passports.offline import verify_offline as check
    from robopass.passports.verify import PassportError
    from robopass.statuslist import token as status_token

    if text == "-":
        text = sys.stdin.read()
    keys = _load_json(jwks, "JWKS")
    try:
        passport = check(text, keys)
        idx, uri = status_reference(passport.claims)
    except PassportError as exc:
        err.print("[red]INVALID[/red] " + escape(f"({exc.reason}): {exc}"))
        raise typer.Exit(1) from exc
    claims = passport.claims
    now = int(time.time())
    out: dict[str, Any] = {"valid": True, "code": claims["sub"], "issuer": claims["iss"],
                           "kid": passport.kid, "age_seconds": now - claims["iat"],
                           "status_list": {"idx": idx, "uri": uri}, "claims": claims}
    verdict = 0
    if status is not None:
        try:
            token_text = status.read_text(encoding="utf-8").strip()
        except OSError as exc:
            err.print("[red]error:[/red] " + escape(f"cannot read {status}: {exc.strerror}"))
            raise typer.Exit(2) from exc
        try:
            payload, array = status_token.verify(token_text, keys)
            if payload.get("sub") not in (None, uri):
                raise status_token.StatusListError(
                    f"the list is {payload.get('sub')}, the passport points at {uri}",
                    reason="wrong_list")
            value = status_token.status_of(array, idx)
        except (PassportError, IndexError) as exc:
            reason = getattr(exc, "reason", "index_out_of_range")
            err.print("[red]STATUS LIST UNUSABLE[/red] " + escape(f"({reason}): {exc}"))
            raise typer.Exit(1) from exc
        list_age = now - int(payload["iat"])
        ttl = payload.get("ttl")
        out["status"] = {"value": value, "meaning": status_token.MEANING[value],
                         "list_age_seconds": list_age, "ttl": ttl,
                         "list_fresh": not isinstance(ttl, int) or list_age <= ttl}
        verdict = value
    if as_json:
        print(json.dumps(out, ensure_ascii=False, default=str))
    else:
        model = claims.get("model") or {}
        maker = claims.get("manufacturer") or {}
        print(f"GENUINE offline passport for {idcode.format(claims['sub'])} "
              f"(signed by {claims['iss']}, key {passport.kid})")
        print(f"  issued {_when(claims['iat'])}, {describe_age(out['age_seconds'])} ago")
        print(f"  model {model.get('code')} {model.get('name')}  manufacturer "
              f"{maker.get('name')} ({maker.get('country')})  level {claims.get('level')}  "
              f"produced {claims.get('production_month')}")
        if "status" in out:
            st = out["status"]
            print(f"  status: {st['meaning'].upper()} (list entry {idx}; list signed "
                  f"{describe_age(st['list_age_seconds'])} ago"
                  + ("" if st["list_fresh"] else f", OLDER than its ttl of {st['ttl']} s: "
                     "fetch a newer list when you can") + ")")
        else:
            print(f"  status: not checked (no --status list; entry {idx} of {uri})")
    if verdict:
        raise typer.Exit(1)
