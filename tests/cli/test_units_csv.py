"""`robopass import units` / `export units` (CSV), with line-numbered errors."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from typer.testing import CliRunner

from robopass import idcode
from robopass.cli import app
from tests.conftest import Registry
from tests.utils.api import ApiClient, Org


def _legacy_codes(client: ApiClient, maker: Org | None = None) -> tuple[str, list[str]]:
    """Codes a legacy system issued under this registry's scheme for a filed model."""
    maker = maker or client.org("manufacturer")
    model_id = client.approved_model(maker, hardware_class="B", intelligence_level=3)
    model = client.get(f"/api/v1/models/{model_id}", maker).json()
    prefix = idcode.prefix(country="CN", company=maker.company_code, model=model["model_code"],
                           year=2025, month=11, plant="L9", intelligence_level=3,
                           hardware_class="B")
    return model_id, idcode.build_many(prefix, range(1, 6))


def _write(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    path = tmp_path / "units.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["code", "province", "city", "firmware"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_import_then_export(client: ApiClient, registry: Registry, tmp_path: Path) -> None:
    model_id, codes = _legacy_codes(client)
    before = client.ledger_size()  # the lab's accreditation and the approval are decisions
    rows = [{"code": idcode.format(c).lower(), "province": "110000", "city": "110100",
             "firmware": "1.0"} for c in codes]
    result = CliRunner().invoke(app, ["import", "units", str(_write(tmp_path, rows)),
                                      "--db", registry.url])
    assert result.exit_code == 0, result.output
    assert "imported 5 unit(s)" in result.output
    robot = client.get(f"/api/v1/robots/{codes[0]}", client.regulator).json()
    assert robot["status"] == "coded" and robot["city"] == "110100"
    assert client.ledger_size() == before + 5
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(app, ["export", "units", "--db", registry.url, "--out",
                                      str(out)])
    assert result.exit_code == 0, result.output
    exported = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["code"] for r in exported] == codes
    assert exported[0]["display"] == idcode.format(codes[0])
    assert exported[0]["status"] == "coded"


def test_bad_rows_are_reported_with_lines_and_nothing_written(client: ApiClient,
                                                              registry: Registry,
                                                              tmp_path: Path) -> None:
    _, codes = _legacy_codes(client)
    before = client.ledger_size()
    typo = codes[1][:-1] + ("0" if codes[1][-1] != "0" else "1")
    rows = [{"code": codes[0]}, {"code": typo}, {"code": codes[2], "province": "999999"},
            {"code": codes[0]}, {"code": codes[3]}]
    path = _write(tmp_path, rows)
    result = CliRunner().invoke(app, ["import", "units", str(path), "--db", registry.url])
    assert result.exit_code == 1
    assert "line 3: code:" in result.output and "check" in result.output.lower()
    assert "line 4: province:" in result.output
    assert "line 5: code: duplicate of line 2" in result.output
    assert "nothing was imported" in result.output
    assert client.ledger_size() == before
    result = CliRunner().invoke(app, ["import", "units", str(path), "--db", registry.url,
                                      "--skip-bad"])
    assert "imported 2 unit(s)" in result.output
    assert client.ledger_size() == before + 2


def test_new_issuance_continues_after_imported_sequences(client: ApiClient,
                                                         registry: Registry,
                                                         tmp_path: Path) -> None:
    maker = client.org("manufacturer")
    model_id, codes = _legacy_codes(client, maker)
    path = _write(tmp_path, [{"code": c} for c in codes])
    assert CliRunner().invoke(app, ["import", "units", str(path), "--db",
                                    registry.url]).exit_code == 0
    new = client.codes(maker, model_id, 2, plant="L9", month="2025-11")
    assert [idcode.parse(c).sequence for c in new] == [6, 7]


def test_export_goes_through_the_gate(client: ApiClient, registry: Registry,
                                      tmp_path: Path) -> None:
    """A provincial regulator's export holds its province's units only; an operator may not
    export; every export is in the audit log."""
    model_id, codes = _legacy_codes(client)
    rows = [{"code": c, "province": p, "city": p[:2] + "0100",
             "firmware": "1.0"} for c, p in zip(codes, ["110000", "110000", "310000",
                                                        "310000", "310000"], strict=True)]
    assert CliRunner().invoke(app, ["import", "units", str(_write(tmp_path, rows)),
                                    "--db", registry.url]).exit_code == 0
    beijing = client.org("regulator", scope_province="110000")
    out = tmp_path / "bj.csv"
    result = CliRunner().invoke(app, ["export", "units", "--db", registry.url, "--out",
                                      str(out), "--key", beijing.key])
    assert result.exit_code == 0, result.output
    assert [r["code"] for r in csv.DictReader(io.StringIO(out.read_text()))] == codes[:2]
    operator = client.org("operator")
    result = CliRunner().invoke(app, ["export", "units", "--db", registry.url, "--out",
                                      str(tmp_path / "op.csv"), "--key", operator.key])
    assert result.exit_code == 1 and "regulator" in result.output
    log = client.get("/api/v1/audit-log", client.regulator).json()["entries"]
    assert any(e["action"] == "export_units" and e["organization"] == beijing.id for e in log)
