"""``robopass witness``: run a tlog-witness, and list the witnesses of this registry (SPEC §15)."""

from __future__ import annotations

import signal
from pathlib import Path

import typer
from rich.console import Console
from sqlalchemy.orm import Session

app = typer.Typer(help="Witnesses: cosign logs' checkpoints (tlog-witness), or list this "
                       "registry's witnesses.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)


@app.command("keygen")
def keygen(name: str = typer.Option(..., help="Witness key name, a schema-less URL such as "
                                                "witness.example.org/w1"),
           out: Path = typer.Option(..., help="Private key file to create (mode 0600)")) -> None:
    """Create a witness key; prints its verifier key NAME+hash+base64(0x04 ‖ public key)."""
    from robopass.ledger.note import NoteError
    from robopass.witness import keyfile

    try:
        key = keyfile.generate(name)
        keyfile.write(key, out)
    except (NoteError, FileExistsError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    print(key.vkey)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


@app.command("serve")
def serve(key: Path = typer.Option(..., help="Private key file from `witness keygen`"),
          logs: Path = typer.Option(..., help="File with one log verifier key a line"),
          state: Path = typer.Option(..., help="Directory keeping the last cosigned "
                                               "checkpoint of each log"),
          host: str = "127.0.0.1", port: int = 8100) -> None:
    """Serve POST /add-checkpoint (c2sp.org/tlog-witness) until SIGTERM or Ctrl-C."""
    from robopass.witness import keyfile, server
    from robopass.witness.state import FileState

    try:
        witness_key = keyfile.read(key)
        log_keys = server.read_logs(logs)
    except (OSError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    httpd = server.make_server(witness_key, log_keys, FileState(state), host, port)
    signal.signal(signal.SIGTERM, _interrupt)
    print(f"witness {witness_key.name} on http://{host}:{httpd.server_port} for "
          f"{len(log_keys)} log key(s); vkey {witness_key.vkey}", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


@app.command("add")
def add(name: str = typer.Argument(..., help="The witness's key name"),
        url: str = typer.Argument(..., help="Its submission prefix (POST URL/add-checkpoint)"),
        vkey: str = typer.Argument(..., help="Its verifier key (NAME+hash+base64)"),
        db: str | None = typer.Option(None, "--db", help="Database URL; default "
                                                         "$ROBOPASS_DATABASE_URL")) -> None:
    """Have this registry submit its checkpoints to a witness (by `robopass serve`)."""
    from robopass.cli import resolve_db
    from robopass.db import writing
    from robopass.errors import InvalidInput
    from robopass.ledger import witnessing

    try:
        with writing(resolve_db(db)) as session:
            witnessing.add_witness(session, name=name, url=url, vkey=vkey)
    except InvalidInput as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from exc
    print(f"witness {name} added; `robopass serve` submits checkpoints to {url}")


def offer_peer_witness(session: Session, url: str | None, vkey: str | None) -> str:
    """For `robopass peer add`: register the peer's witness when both options are given (its
    name is the vkey's), else say how to. Raises InvalidInput for a bad pair."""
    from robopass.errors import InvalidInput
    from robopass.ledger import note, witnessing

    if url is None and vkey is None:
        return ("Federated registries can witness each other: run `robopass witness serve` "
                "and pass --witness-url/--witness-vkey here, or `robopass witness add`.")
    if url is None or vkey is None:
        raise InvalidInput("--witness-url and --witness-vkey go together", field="witness_url")
    try:
        name = note.parse_vkey(vkey).name
    except note.NoteError as exc:
        raise InvalidInput(str(exc), field="witness_vkey", code="bad_vkey") from None
    witnessing.add_witness(session, name=name, url=url, vkey=vkey)
    return f"witness {name} added: `robopass serve` submits our checkpoints to {url}"


@app.command("list")
def list_(db: str | None = typer.Option(None, "--db", help="Database URL")) -> None:
    """This registry's witnesses and the size each last cosigned."""
    from robopass.cli import resolve_db
    from robopass.db import reading
    from robopass.ledger import witnessing

    with reading(resolve_db(db)) as session:
        for w in witnessing.list_witnesses(session):
            print(f"{w.name}\t{w.url}\tcosigned={w.cosigned_size}\t"
                  f"error={w.last_error or '-'}")
