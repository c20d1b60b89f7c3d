"""``robopass keys rotate|list``: the registry's Ed25519 signing keys."""

from __future__ import annotations

import json

import typer

from robopass import config

app = typer.Typer(help="Signing keys for tree heads and passports.", no_args_is_help=True)
DbOpt = typer.Option(None, "--db", help="Database URL; default $ROBOPASS_DATABASE_URL")


def _db(db: str | None) -> str:
    return config.database_url(db)


@app.command("rotate")
def rotate(db: str | None = DbOpt,
           as_json: bool = typer.Option(False, "--json", help="Print JSON")) -> None:
    """Retire the active key and create a new one. Retired keys stay in the JWKS, so heads and
    passports signed before still verify. Running servers pick the new key up on their next
    signature (the active key is read from the database each time)."""
    from robopass.db import writing
    from robopass.ledger import keys

    with writing(_db(db)) as session:
        retired = [k["kid"] for k in keys.jwks(session)["keys"] if "retired_at" not in k]
        new = keys.rotate(session)
        kid = new.kid
    if as_json:
        print(json.dumps({"kid": kid, "retired": retired}))
    else:
        print(f"new signing key {kid}; retired {', '.join(retired) or 'none'}")


@app.command("list")
def list_keys(db: str | None = DbOpt) -> None:
    """The JWKS: current and retired keys."""
    from robopass.db import reading
    from robopass.ledger import keys

    with reading(_db(db)) as session:
        print(json.dumps(keys.jwks(session), indent=2))
