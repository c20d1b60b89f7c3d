"""QR labels: per code as SVG/PNG, production-run sheets as PDF/SVG from the CLI."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path
from xml.etree import ElementTree

import segno
from typer.testing import CliRunner

from robopass import idcode
from robopass.cli import app
from robopass.labels import render

runner = CliRunner()
BASE = "https://robopass.example.cn"


def decode_png(data: bytes) -> list[bytes]:
    """Rows of an 8-bit greyscale, non-interlaced PNG (what render.label_png writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert (depth, colour) == (8, 0)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    rows = [raw[i * (width + 1):(i + 1) * (width + 1)] for i in range(height)]
    assert all(r[0] == 0 for r in rows)
    return [r[1:] for r in rows]


def qr_matrix(url: str) -> list[list[bool]]:
    return [[bool(v) for v in row]
            for row in segno.make(url, error="m", micro=False).matrix_iter(scale=1, border=0)]


def test_png_label_encodes_the_public_url_and_the_code() -> None:
    code = "CN10000000012603A13B00000001V"
    module = 8
    rows = decode_png(render.label_png(code, BASE, module=module))
    expected = qr_matrix(f"{BASE}/r/{code}")
    n = len(expected)
    width = len(rows[0])
    ox, oy = (width - n * module) // 2, 4 * module
    sampled = [[rows[oy + y * module + module // 2][ox + x * module + module // 2] == 0
                for x in range(n)] for y in range(n)]
    assert sampled == expected
    # the text rows below the QR hold dark pixels (the code in display form)
    assert any(0 in row for row in rows[oy + n * module + 2 * module:])


def test_svg_label_is_well_formed_with_display_code() -> None:
    code = "CN10000000012603A13B00000001V"
    svg = render.label_svg(code.lower(), BASE)
    root = ElementTree.fromstring(svg)
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "CN-1000-000001" in texts and "2603A13B00000001V" in texts
    assert root.get("aria-label") == idcode.format(code)


def test_label_endpoints(client) -> None:  # type: ignore[no-untyped-def]
    _, code = client.manufactured_unit()
    r = client.raw.get(f"/api/v1/robots/{idcode.format(code).lower()}/label.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    ElementTree.fromstring(r.text)
    assert idcode.format(code)[:14] in r.text
    r = client.raw.get(f"/api/v1/robots/{code}/label.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    decode_png(r.content)
    missing = idcode.with_check("CN10000000012603A13B00000999")
    r = client.raw.get(f"/api/v1/robots/{missing}/label.svg")
    assert r.status_code == 404 and r.json()["error"]["code"] == "unit_not_found"
    r = client.raw.get("/api/v1/robots/garbage/label.png")
    assert r.status_code == 422 and r.json()["error"]["field"] == "code"


def check_pdf(data: bytes) -> int:
    """Structure of the hand-written PDF: header, xref offsets, page count."""
    assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
    start = int(re.search(rb"startxref\n(\d+)", data).group(1))  # type: ignore[union-attr]
    assert data[start:start + 4] == b"xref"
    count = int(re.search(rb"xref\n0 (\d+)", data).group(1))  # type: ignore[union-attr]
    table = data[start:].split(b"\n")[2:2 + count]
    for n, line in enumerate(table[1:], start=1):
        offset = int(line[:10])
        assert data[offset:].startswith(f"{n} 0 obj".encode())
    return int(re.search(rb"/Type /Pages /Kids \[[^\]]*\] /Count (\d+)", data).group(1))  # type: ignore[union-attr]


def test_sheet_pdf_pages_and_content() -> None:
    prefix = "CN10000000012603A13B"
    codes = idcode.build_many(prefix, range(1, 30))
    data = render.sheet_pdf(codes, BASE)
    assert check_pdf(data) == 2  # 29 labels: 24 + 5
    streams = re.findall(rb"stream\n(.*?)\nendstream", data, re.S)
    text = b"".join(zlib.decompress(s) for s in streams).decode("latin-1")
    assert text.count("(CN-1000-000001) Tj") == 29
    assert "(2603A13B00000029" in text


def test_cli_prints_a_production_run(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    maker = client.org("manufacturer")
    model_id = client.approved_model(maker)
    march = client.codes(maker, model_id, 30, month="2026-03")
    client.codes(maker, model_id, 5, month="2026-02")
    out = tmp_path / "sheet.pdf"
    result = runner.invoke(app, ["labels", "--db", client.registry.url, "--model", model_id,
                                 "--production-month", "2026-03", "--out", str(out),
                                 "--public-url", BASE])
    assert result.exit_code == 0, result.output
    assert "30 labels on 2 page(s)" in result.output and check_pdf(out.read_bytes()) == 2
    svg = tmp_path / "sheet.svg"
    model_code = client.get(f"/api/v1/models/{model_id}", maker).json()["model_code"]
    result = runner.invoke(app, ["labels", "--db", client.registry.url, "--model", model_code,
                                 "--out", str(svg)])
    assert result.exit_code == 0, result.output
    root = ElementTree.fromstring(svg.read_text())
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert sum(t == idcode.format(march[0])[15:] for t in texts) == 1
    assert texts.count("robopass") == 35
    for args, words in ((["--model", "nope", "--out", str(svg)], "no product model"),
                        (["--model", model_id, "--out", str(tmp_path / "x.txt")], ".pdf or .svg"),
                        (["--model", model_id, "--plant", "ZZ", "--out", str(svg)], "no units")):
        result = runner.invoke(app, ["labels", "--db", client.registry.url, *args])
        assert result.exit_code != 0 and words in result.output, result.output
