"""`robopass code validate|parse|format`, driven through the Typer sub-app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from robopass import idcode
from robopass.cli.code import app

VECTORS = json.loads((Path(__file__).parent.parent / "data" / "idcodes.json").read_text("utf-8"))
VALID = "CNH7K2A3B5C72603P13B000000429"
BAD_CHECK = "CNH7K2A3B5C72603P13B000000428"

runner = CliRunner()


def invoke(*args: str, stdin: str | bytes | None = None) -> Any:
    return runner.invoke(app, list(args), input=stdin)


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines()]


# --- validate -------------------------------------------------------------------------------


def test_validate_json_lines_for_arguments() -> None:
    result = invoke("validate", "--json", VALID, "cn-h7k2-a3b5c7-2603p13b000000429", BAD_CHECK)
    assert result.exit_code == 1
    lines = json_lines(result.stdout)
    assert [list(line) for line in lines] == [["input", "code", "valid", "reason"]] * 3
    assert lines[0] == {"input": VALID, "code": VALID, "valid": True, "reason": None}
    assert lines[1] == {
        "input": "cn-h7k2-a3b5c7-2603p13b000000429",
        "code": VALID,
        "valid": True,
        "reason": None,
    }
    assert lines[2] == {
        "input": BAD_CHECK,
        "code": None,
        "valid": False,
        "reason": "position 29: the check character '8' does not match positions 1-28 "
        "(ISO 7064 MOD 37,36)",
    }


def test_validate_exit_0_when_all_valid() -> None:
    result = invoke("validate", "--json", VALID)
    assert result.exit_code == 0
    assert json_lines(result.stdout)[0]["valid"] is True


@pytest.mark.parametrize(
    "vector", VECTORS["valid"] + VECTORS["invalid"], ids=lambda v: repr(v["input"])
)
def test_validate_json_matches_golden_vectors(vector: dict[str, Any]) -> None:
    result = invoke("validate", "--json", vector["input"])
    (line,) = json_lines(result.stdout)
    assert line["input"] == vector["input"]
    if "compact" in vector:
        assert result.exit_code == 0
        assert (line["code"], line["valid"], line["reason"]) == (vector["compact"], True, None)
    else:
        assert result.exit_code == 1
        assert (line["code"], line["valid"], line["reason"]) == (None, False, vector["message"])


@pytest.mark.parametrize("args", [(), ("-",)])
def test_validate_reads_stdin(args: tuple[str, ...]) -> None:
    stdin = f"{VALID}\r\n\n   \ncn {VALID[2:].lower()}\n{BAD_CHECK}\n".encode()
    result = invoke("validate", "--json", *args, stdin=stdin)
    assert result.exit_code == 1
    lines = json_lines(result.stdout)
    assert [(line["input"], line["valid"]) for line in lines] == [
        (VALID, True),
        ("cn " + VALID[2:].lower(), True),
        (BAD_CHECK, False),
    ]


def test_validate_stdin_and_arguments_mix_in_order() -> None:
    result = invoke("validate", "--json", BAD_CHECK, "-", VALID, stdin=VALID + "\n")
    assert [line["input"] for line in json_lines(result.stdout)] == [BAD_CHECK, VALID, VALID]


def test_validate_undecodable_stdin_line_is_an_invalid_code() -> None:
    result = invoke("validate", "--json", stdin=b"\xff\xfe" + VALID.encode()[2:] + b"\n")
    assert result.exit_code == 1
    (line,) = json_lines(result.stdout)
    assert line["valid"] is False
    assert line["reason"].startswith("position 1: '\ufffd' is not allowed")


def test_validate_empty_stdin_is_success() -> None:
    result = invoke("validate", "--json", stdin="")
    assert result.exit_code == 0
    assert result.stdout == ""


def test_validate_streams_many_codes_from_stdin() -> None:
    head = idcode.prefix(
        country="CN",
        company="H7K2",
        model="A3B5C7",
        year=2026,
        month=3,
        plant="P1",
        intelligence_level=3,
        hardware_class="B",
    )
    codes = idcode.build_many(head, range(1, 20_001))
    codes[12_345] = codes[12_345][:28] + ("0" if codes[12_345][28] != "0" else "1")
    result = invoke("validate", "--json", stdin="\n".join(codes) + "\n")
    assert result.exit_code == 1
    lines = json_lines(result.stdout)
    assert len(lines) == 20_000
    assert [i for i, line in enumerate(lines) if not line["valid"]] == [12_345]


def test_validate_text_lines_from_stdin() -> None:
    result = invoke("validate", stdin=f"{VALID}\nxx\n")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"valid\t{VALID}",
        "invalid\txx\tthe code has 2 characters after removing spaces and hyphens; 29 are expected",
    ]


def test_validate_table_for_arguments_does_not_interpret_markup() -> None:
    result = invoke("validate", VALID, "[bold]x[/bold]")
    assert result.exit_code == 1
    assert VALID in result.stdout
    assert "[bold]x[/bold]" in result.stdout
    assert "valid" in result.stdout


# --- parse ----------------------------------------------------------------------------------


def test_parse_json() -> None:
    result = invoke("parse", "--json", "CN-H7K2-A3B5C7-2603P13B000000429")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "country": "CN",
        "company": "H7K2",
        "model": "A3B5C7",
        "production_month": "2026-03",
        "plant": "P1",
        "intelligence_level": 3,
        "hardware_class": "B",
        "sequence": 42,
        "check": "9",
    }


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: repr(v["input"]))
def test_parse_json_matches_golden_vectors(vector: dict[str, Any]) -> None:
    result = invoke("parse", "--json", vector["input"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == vector["parsed"]


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["note"])
def test_parse_json_invalid_code(vector: dict[str, Any]) -> None:
    result = invoke("parse", "--json", vector["input"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "error": {
            "code": vector["error"],
            "message": vector["message"],
            "position": vector["position"],
        }
    }


def test_parse_text() -> None:
    result = invoke("parse", VALID)
    assert result.exit_code == 0
    for expected in ("CN-H7K2-A3B5C7-2603P13B000000429", "2026-03", "B (full-size biped)"):
        assert expected in result.stdout


def test_parse_text_invalid_code_gives_reason_on_stderr() -> None:
    result = invoke("parse", BAD_CHECK)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "position 29" in result.stderr


# --- format ---------------------------------------------------------------------------------


def test_format() -> None:
    result = invoke("format", "cnh7k2 a3b5c7 2603p13b000000429")
    assert result.exit_code == 0
    assert result.stdout == "CN-H7K2-A3B5C7-2603P13B000000429\n"


def test_format_invalid_code() -> None:
    result = invoke("format", "CNH7K2A3B5C72613P13B000000429")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "positions 15-16: month '13' is not 01-12" in result.stderr


def test_help_lists_the_three_commands() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("validate", "parse", "format"):
        assert command in result.stdout


# --- the transcripts in docs/identity-code.md are real ----------------------------------------

DOC = Path(__file__).parent.parent.parent / "docs" / "identity-code.md"


def doc_transcripts() -> list[tuple[list[str], str, int]]:
    """(arguments after `robopass code`, expected output, exit status) per console block."""
    transcripts = []
    for block in DOC.read_text("utf-8").split("```console\n")[1:]:
        lines = block.split("```", 1)[0].splitlines()
        assert lines[0].startswith("$ robopass code ") and lines[-2] == "$ echo $?"
        args = lines[0].removeprefix("$ robopass code ").split()
        transcripts.append((args, "".join(f"{line}\n" for line in lines[1:-2]), int(lines[-1])))
    return transcripts


@pytest.mark.parametrize("args, output, status", doc_transcripts(), ids=lambda v: str(v)[:40])
def test_doc_transcripts(args: list[str], output: str, status: int) -> None:
    result = invoke(*args)
    assert (result.stdout, result.exit_code) == (output, status)


def test_doc_has_transcripts() -> None:
    assert len(doc_transcripts()) >= 5
