"""The label PDF keeps its Chinese line (an embedded CJK subset) and a printable margin."""

from __future__ import annotations

import io
import re
import zlib

import pytest

from robopass import idcode
from robopass.labels import cjk_font, render
from tests.labels.test_labels import BASE, check_pdf


def streams(data: bytes) -> list[bytes]:
    return [zlib.decompress(s) for s in re.findall(rb"stream\n(.*?)\nendstream", data, re.S)]


@pytest.fixture
def cjk() -> cjk_font.EmbeddedFont:
    if cjk_font.font_path() is None:
        from tests.conftest import require_service

        require_service(False, "a CJK TrueType font (Debian fonts-wqy-microhei)")
    font = cjk_font.subset(render.CJK_LINE)
    assert font is not None
    return font


def test_the_chinese_line_is_embedded_searchable_and_drawn(cjk: cjk_font.EmbeddedFont) -> None:
    from fontTools.ttLib import TTFont

    codes = idcode.build_many("CN10000000012603A13B", range(1, 4))
    data = render.sheet_pdf(codes, BASE)
    assert check_pdf(data) == 1
    assert b"/Subtype /CIDFontType2" in data and b"/FontFile2" in data
    assert b"/Encoding /Identity-H" in data
    decoded = streams(data)
    # the font program is a real TrueType subset holding the four characters
    program = next(s for s in decoded if s[:4] in (b"\x00\x01\x00\x00", b"true"))
    font = TTFont(io.BytesIO(program))
    assert {ord(c) for c in render.CJK_LINE} <= set(font.getBestCmap())
    assert len(program) < 100_000  # a subset, not the whole 5 MB font
    # ToUnicode maps each glyph back to 扫码核验, so the text can be searched and copied
    cmap = next(s for s in decoded if b"beginbfchar" in s).decode()
    for ch in render.CJK_LINE:
        assert f"<{cjk.glyphs[ch]:04X}> <{ord(ch):04X}>" in cmap
    content = b"".join(s for s in decoded if b" Tj ET" in s).decode("latin-1")
    assert content.count("/F3 7 Tf") == 3 and content.count(cjk.encode(render.CJK_LINE)) == 3


def test_every_mark_stays_inside_the_printable_margin() -> None:
    codes = idcode.build_many("CN10000000012603A13B", range(1, 25))
    data = render.sheet_pdf(codes, BASE)
    content = b"".join(s for s in streams(data) if b" re" in s).decode("latin-1")
    mm = render.MM
    left, bottom = 5 * mm, 5 * mm  # what office printers cannot reach
    right, top = render.A4_W_MM * mm - left, render.A4_H_MM * mm - bottom
    for x, y, w, h in re.findall(r"([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) re", content):
        assert left <= float(x) and float(x) + float(w) <= right
        assert bottom <= float(y) and float(y) + float(h) <= top
    for x, y in re.findall(r"Tf ([\d.]+) ([\d.]+) Td", content):
        assert left <= float(x) <= right - 20 * mm and bottom <= float(y) <= top
