"""A CJK font embedded in the label PDF, so the Chinese line prints on any reader.

PDF's 14 standard fonts have no Chinese glyphs, and a reader without a CJK font shows nothing
(or boxes) for a non-embedded one. We take a TrueType CJK font from the system — Debian's
``fonts-wqy-microhei`` by default (``ROBOPASS_CJK_FONT`` names another TrueType/TTC file) —
keep only the glyphs of the label's text (fontTools' subsetter: a few kB instead of 5 MB), and
embed it as a ``CIDFontType2`` with ``Identity-H`` encoding and a ``ToUnicode`` map, so the text
stays searchable and copyable. Glyph ids are written as 4 hex digits.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

#: Debian packages providing a TrueType (glyf) CJK font, first found wins.
CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)


@dataclass(frozen=True)
class EmbeddedFont:
    name: str  # PostScript name with the subset tag
    program: bytes  # the subset TrueType file
    glyphs: dict[str, int]  # character → glyph id
    widths: dict[int, int]  # glyph id → advance width in 1/1000 em
    bbox: tuple[int, int, int, int]
    ascent: int
    descent: int

    def encode(self, text: str) -> str:
        """The PDF hex string of ``text`` (every character must be in the subset)."""
        return "<" + "".join(f"{self.glyphs[ch]:04X}" for ch in text) + ">"


def font_path() -> Path | None:
    from robopass.config import cjk_font_from_environment

    configured = cjk_font_from_environment()
    for candidate in ([configured] if configured else []) + list(CANDIDATES):
        if Path(candidate).is_file():
            return Path(candidate)
    return None


@cache
def subset(text: str) -> EmbeddedFont | None:
    """The system CJK font cut down to ``text``'s characters, or None without one."""
    path = font_path()
    if path is None:
        return None
    from fontTools import subset as ft_subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(path), fontNumber=0, lazy=False)
    options = ft_subset.Options()
    options.layout_features = []
    options.name_IDs = [1, 2, 4, 6]
    options.notdef_outline = True
    subsetter = ft_subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    buffer = io.BytesIO()
    font.save(buffer)
    scale = 1000 / font["head"].unitsPerEm
    cmap = font.getBestCmap()
    glyphs = {ch: font.getGlyphID(cmap[ord(ch)]) for ch in set(text) if ord(ch) in cmap}
    widths = {gid: round(font["hmtx"][font.getGlyphName(gid)][0] * scale)
              for gid in glyphs.values()}
    head, hhea = font["head"], font["hhea"]
    ps_name = str(font["name"].getDebugName(6) or "CJKFont").replace(" ", "")
    return EmbeddedFont(
        name=f"RPSUBS+{ps_name}", program=buffer.getvalue(), glyphs=glyphs, widths=widths,
        bbox=tuple(round(v * scale) for v in (head.xMin, head.yMin, head.xMax, head.yMax)),  # type: ignore[arg-type]
        ascent=round(hhea.ascent * scale), descent=round(hhea.descent * scale))


def pdf_objects(font: EmbeddedFont, first_number: int) -> list[bytes]:
    """The five PDF objects of the font, numbered from ``first_number``; the Type0 font the
    page resources name is the last one."""
    n = first_number
    program = zlib.compress(font.program)
    cmap_lines = [f"<{gid:04X}> <{ord(ch):04X}>" for ch, gid in sorted(font.glyphs.items())]
    to_unicode = ("/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
                  "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
                  "/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"
                  "1 begincodespacerange <0000> <FFFF> endcodespacerange\n"
                  f"{len(cmap_lines)} beginbfchar\n" + "\n".join(cmap_lines) +
                  "\nendbfchar endcmap CMapName currentdict /CMap defineresource pop end end")
    cmap_stream = zlib.compress(to_unicode.encode())
    widths = " ".join(f"{gid} [{w}]" for gid, w in sorted(font.widths.items()))
    bbox = " ".join(str(v) for v in font.bbox)
    return [
        b"<< /Length %d /Length1 %d /Filter /FlateDecode >>\nstream\n" % (
            len(program), len(font.program)) + program + b"\nendstream",
        (f"<< /Type /FontDescriptor /FontName /{font.name} /Flags 4 /FontBBox [{bbox}] "
         f"/ItalicAngle 0 /Ascent {font.ascent} /Descent {font.descent} "
         f"/CapHeight {font.ascent} /StemV 80 /FontFile2 {n} 0 R >>").encode(),
        (f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{font.name} "
         "/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
         f"/FontDescriptor {n + 1} 0 R /CIDToGIDMap /Identity /DW 1000 /W [{widths}] >>"
         ).encode(),
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(cmap_stream) + cmap_stream
        + b"\nendstream",
        (f"<< /Type /Font /Subtype /Type0 /BaseFont /{font.name} /Encoding /Identity-H "
         f"/DescendantFonts [{n + 2} 0 R] /ToUnicode {n + 3} 0 R >>").encode(),
    ]
