"""Passport labels (SPEC §16): one QR holding ``{public_url}/r/{code}#RP1:…``, modules of at
least 0.5 mm on the printed 70 × 42.3 mm label; the QR decodes back to a verifiable passport."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from robopass.cli import app
from robopass.labels import render
from robopass.passports import offline

runner = CliRunner()


def test_passport_label_svg_modules_and_content(client) -> None:  # type: ignore[no-untyped-def]
    maker, code = client.manufactured_unit()
    r = client.get(f"/api/v1/robots/{code}/label.svg", params={"passport": "true"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    svg = r.text
    assert 'height="42.3mm"' in svg
    # every dark run is a multiple of one module; the module is >= 0.5 mm
    heights = {float(v) for v in re.findall(r"v([0-9.]+)h", svg)}
    assert len(heights) == 1 and heights.pop() >= 0.5
    # the QR's content: the page URL with the passport as the fragment
    text = client.get(f"/api/v1/robots/{code}/passport.qr").text
    url = render.public_url_for("http://127.0.0.1:8000", code)
    facts = render.passport_qr_facts(url, text)
    assert facts["module_mm"] >= 0.5 and 10 <= int(facts["version"]) <= 14
    jwks = client.get("/.well-known/jwks.json").json()
    assert offline.verify_offline(f"{url}#{text}", jwks).claims["sub"] == code
    # the plain label is unchanged (37 mm, URL only)
    plain = client.get(f"/api/v1/robots/{code}/label.svg").text
    assert 'height="37.125mm"' in plain


def test_matrix_round_trip_and_too_dense() -> None:
    long_text = "RP1:" + "A" * 2000
    with pytest.raises(render.LabelTooDense):
        render.label_svg("CN10000000012603A13B00000001V", "https://robopass.cn", long_text)


def test_cli_passport_sheet(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    client.codes(maker, model_id, 4)
    out = tmp_path / "sheet.svg"
    result = runner.invoke(app, ["labels", "--db", client.registry.url, "--model", model_id,
                                 "--out", str(out), "--passport"])
    assert result.exit_code == 0, result.output
    svg = out.read_text()
    assert svg.count("<rect") == 4 and 'height="84.6mm"' in svg
    result = runner.invoke(app, ["labels", "--db", client.registry.url, "--model", model_id,
                                 "--out", str(tmp_path / "s.pdf"), "--passport"])
    assert result.exit_code == 2
