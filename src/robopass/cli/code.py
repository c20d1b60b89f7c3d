"""``robopass code ...``: check, split and display identity codes offline (SPEC §2, §9).

Pure format checks: no database is opened, so a buyer or an inspector can run these
anywhere. Whether a code is registered is ``GET /api/v1/verify/{code}``'s job.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from json.encoder import encode_basestring_ascii
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from robopass import idcode

app = typer.Typer(
    help="Validate, parse and format 29-character robot identity codes (offline, no database).",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]

VALIDATE_HELP = (
    "Check codes; exit 1 if any is invalid.\n\n"
    'With --json, one line per input: {"input", "code", "valid", "reason"} (code is the compact '
    "form or null; reason is null or why the code is invalid).\n\n"
    "Without --json, codes given as arguments are shown in a table and codes read from standard "
    "input as tab-separated lines: valid CODE, or invalid INPUT REASON. Blank lines are skipped."
)
PARSE_HELP = (
    "Split a code into its parts; exit 1 with the reason if it is invalid.\n\n"
    "--json prints {country, company, model, production_month, plant, intelligence_level, "
    'hardware_class, sequence, check}; for an invalid code {"error": {"code", "message", '
    '"position"}}.'
)

_FLUSH_EVERY = 8192  # output lines per write when streaming


def _stdin_lines() -> Iterator[str]:
    """Lines of standard input without line endings, blank lines skipped.

    Read as bytes and decoded leniently so one undecodable line is reported as an
    invalid code (U+FFFD is outside the alphabet) instead of aborting the stream.
    """
    buffer = getattr(sys.stdin, "buffer", None)
    lines: Iterable[str] = (
        (raw.decode("utf-8", "replace") for raw in buffer) if buffer is not None else sys.stdin
    )
    for line in lines:
        line = line.rstrip("\r\n")
        if line.strip():
            yield line


def _inputs(codes: list[str] | None) -> Iterator[str]:
    if not codes:
        yield from _stdin_lines()
        return
    for code in codes:
        if code == "-":
            yield from _stdin_lines()
        else:
            yield code


def _printable(text: str) -> str:
    # Lone surrogates (undecodable argv bytes) cannot be written to a UTF-8 stdout.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _json_line(raw: str, code: str | None, reason: str | None) -> str:
    # Hand-built so a million lines stream fast; key order is the documented one.
    if code is None:
        return (
            f'{{"input": {encode_basestring_ascii(raw)}, "code": null, "valid": false, '
            f'"reason": {encode_basestring_ascii(reason or "")}}}\n'
        )
    return (
        f'{{"input": {encode_basestring_ascii(raw)}, "code": "{code}", "valid": true, '
        '"reason": null}\n'
    )


def _text_line(raw: str, code: str | None, reason: str | None) -> str:
    if code is None:
        return f"invalid\t{_printable(raw)}\t{reason}\n"
    return f"valid\t{code}\n"


@app.command("validate", help=VALIDATE_HELP)
def validate_codes(
    codes: Annotated[
        list[str] | None,
        typer.Argument(
            help="Codes to check; '-' or none reads one code per line from standard input.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check codes; exit 1 if any is invalid (help text: VALIDATE_HELP)."""
    validate = idcode.validate
    invalid_code = idcode.InvalidCode
    from_stdin = not codes or "-" in codes
    table = None if as_json or from_stdin else _results_table()
    render = _json_line if as_json else _text_line
    out = sys.stdout
    pending: list[str] = []
    any_invalid = False
    for raw in _inputs(codes):
        try:
            code: str | None = validate(raw)
            reason = None
        except invalid_code as err:
            code, reason, any_invalid = None, err.message, True
        if table is not None:
            table.add_row(
                Text(_printable(raw)),
                Text(code or "-"),
                Text("valid", style="green") if code else Text(reason or "", style="red"),
            )
            continue
        pending.append(render(raw, code, reason))
        if len(pending) >= _FLUSH_EVERY:
            out.write("".join(pending))
            pending.clear()
    if pending:
        out.write("".join(pending))
    if table is not None:
        Console(file=out, soft_wrap=True).print(table)
    out.flush()
    if any_invalid:
        raise typer.Exit(code=1)


def _results_table() -> Table:
    table = Table()
    table.add_column("input", overflow="fold")
    table.add_column("code", no_wrap=True, min_width=idcode.LENGTH)
    table.add_column("result")
    return table


def _fail(err: idcode.InvalidCode, as_json: bool) -> typer.Exit:
    if as_json:
        error = {"code": err.code, "message": err.message, "position": err.position}
        typer.echo(json.dumps({"error": error}))
    else:
        typer.echo(f"invalid code: {err.message}", err=True)
    return typer.Exit(code=1)


@app.command("parse", help=PARSE_HELP)
def parse_code(
    code: Annotated[str, typer.Argument(help="The identity code, compact or display form.")],
    as_json: JsonFlag = False,
) -> None:
    """Split a code into its parts (help text: PARSE_HELP)."""
    try:
        parsed = idcode.parse(code)
    except idcode.InvalidCode as err:
        raise _fail(err, as_json) from None
    if as_json:
        typer.echo(json.dumps(parsed.as_dict()))
        return
    fields = parsed.as_dict()
    table = Table("part", "positions", "value", show_header=False)
    table.add_row("code", "", idcode.format(parsed.code))
    table.add_row("country", "1-2", fields["country"])
    table.add_row("company", "3-6", fields["company"])
    table.add_row("model", "7-12", fields["model"])
    table.add_row("production month", "13-16", fields["production_month"])
    table.add_row("plant", "17-18", fields["plant"])
    table.add_row("intelligence level", "19", str(fields["intelligence_level"]))
    table.add_row(
        "hardware class",
        "20",
        f"{parsed.hardware_class} ({idcode.HARDWARE_CLASSES[parsed.hardware_class]})",
    )
    table.add_row("sequence", "21-28", str(fields["sequence"]))
    table.add_row("check", "29", fields["check"])
    Console(file=sys.stdout, soft_wrap=True).print(table)


@app.command("format")
def format_code(
    code: Annotated[str, typer.Argument(help="The identity code, in any spacing or case.")],
) -> None:
    """Print the display form CC-MMMM-PPPPPP-SSSSSSSSSSSSSSSSS; exit 1 if the code is invalid."""
    try:
        typer.echo(idcode.format(code))
    except idcode.InvalidCode as err:
        raise _fail(err, as_json=False) from None
