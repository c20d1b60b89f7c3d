"""QR labels (SPEC §8): one label as SVG or PNG, many as a printable PDF or SVG sheet.

A label carries the code in display form (``CC-MMMM-PPPPPP-SSSSSSSSSSSSSSSSS``, split over two
lines) and a QR code (segno, error correction M) of ``{public_url}/r/{code}``, the public page.
Pure: no database, no web. PNG and PDF are written here directly (zlib and a few PDF objects), so
labels need no imaging library: the PNG text uses a built-in 5×7 bitmap font for ``0-9A-Z-``, the
PDF uses the standard Courier-Bold and Helvetica fonts every PDF reader has, plus an embedded
subset of a system CJK font for the Chinese line (``labels.cjk_font``).

SVG sheets are A4 with 3 × 8 labels of 70 × 37 mm, one page per 24; the PDF sheet uses
63.5 × 33.9 mm labels inside a printable margin (the 24-up label stock office printers take).
"""

from __future__ import annotations

import logging
import struct
import zlib
from collections.abc import Sequence
from xml.sax.saxutils import escape

import segno
import segno.consts

from robopass import idcode
from robopass.labels import cjk_font

__all__ = ["LabelTooDense", "label_png", "label_svg", "passport_qr_facts", "public_url_for",
           "sheet_pdf", "sheet_svg"]
log = logging.getLogger(__name__)

MM = 72 / 25.4  # PDF points per millimetre
LABEL_W_MM, LABEL_H_MM = 70.0, 37.125
COLS, ROWS = 3, 8
A4_W_MM, A4_H_MM = 210.0, 297.0
#: The PDF sheet keeps a printable margin (office printers cannot print the outer ~5 mm): the
#: common 3 × 8 A4 label stock (63.5 × 33.9 mm, e.g. Avery L7159) centred on the page, leaving
#: 9.75 mm at the sides and 12.9 mm at top and bottom.
PDF_LABEL_W_MM, PDF_LABEL_H_MM = 63.5, 33.9
PDF_MARGIN_X_MM = (A4_W_MM - COLS * PDF_LABEL_W_MM) / 2
PDF_MARGIN_Y_MM = (A4_H_MM - ROWS * PDF_LABEL_H_MM) / 2
#: The Chinese part of the label's call to action, printed with the embedded CJK font.
CJK_LINE = "扫码核验"


def public_url_for(public_url: str, code: str) -> str:
    return f"{public_url.rstrip('/')}/r/{code}"


#: Passport labels (SPEC §16): the QR holds ``{public_url}/r/{code}#RP1:…`` — a phone opens the
#: page, an offline verifier reads the fragment. It needs a QR of about version 12–14, so these
#: labels use the 21-up A4 stock of 70 × 42.3 mm (3 × 7) and never print a module smaller than
#: :data:`MIN_MODULE_MM` (measured sizes: docs/passports-and-federation.md).
PASSPORT_LABEL_H_MM = 42.3
PASSPORT_ROWS = 7
MIN_MODULE_MM = 0.5


class LabelTooDense(ValueError):
    """The passport QR would need modules smaller than :data:`MIN_MODULE_MM` on the label."""


def _matrix(url: str, passport: str | None = None) -> list[list[bool]]:
    if passport is None:
        qr = segno.make(url, error="m", micro=False)
    else:
        # two segments: the URL in byte mode, the base45 passport in the denser alphanumeric
        # mode; error level L at least (segno raises it when that costs no extra modules)
        qr = _passport_qr(url, passport)
    return [[bool(v) for v in row] for row in qr.matrix_iter(scale=1, border=0)]


def _passport_qr(url: str, passport: str) -> segno.QRCode:
    segments = [(f"{url}#", segno.consts.MODE_BYTE),
                (passport, segno.consts.MODE_ALPHANUMERIC)]
    # segno documents a list of (content, mode) segments; its type hints say str only
    return segno.make_qr(segments, error="l")  # type: ignore[arg-type]


def passport_qr_facts(url: str, passport: str) -> dict[str, float | int | str]:
    """Version, error level, modules and the module size printed on a passport label."""
    qr = _passport_qr(url, passport)
    modules = int(qr.symbol_size(border=0)[0])
    size = _passport_qr_mm(modules)
    return {"version": int(qr.version), "error": str(qr.error), "modules": modules,
            "qr_mm": round(size, 2), "module_mm": round(size / modules, 3),
            "characters": len(url) + 1 + len(passport)}


def _passport_qr_mm(modules: int) -> float:
    """The QR's printed size: as large as the label height allows with a 4-module quiet zone
    above and below, at most 38 mm."""
    return min(38.0, PASSPORT_LABEL_H_MM * modules / (modules + 8))


def _lines(code: str) -> tuple[str, str]:
    display = idcode.format(code)
    return display[:14], display[15:]  # "CC-MMMM-PPPPPP" / production..check


def _qr_path(matrix: list[list[bool]], x0: float, y0: float, module: float) -> str:
    """One SVG path of horizontal runs of dark modules."""
    parts = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                parts.append(f"M{x0 + start * module:.3f} {y0 + y * module:.3f}"
                             f"h{(x - start) * module:.3f}v{module:.3f}"
                             f"h{-(x - start) * module:.3f}z")
            else:
                x += 1
    return "".join(parts)


def _label_group(code: str, url: str, x: float, y: float,
                 passport: str | None = None) -> str:
    """SVG elements of one 70 × 37 mm label (70 × 42.3 mm with a passport) at (x, y), in mm."""
    matrix = _matrix(url, passport)
    qr_size = 29.0  # at 3.5 mm from the edges: a quiet zone of more than 4 modules
    margin, height = 3.5, LABEL_H_MM
    if passport is not None:
        height = PASSPORT_LABEL_H_MM
        qr_size = _passport_qr_mm(len(matrix))
        if qr_size / len(matrix) < MIN_MODULE_MM:
            raise LabelTooDense(f"the passport QR of {code} needs {len(matrix)} modules: "
                                f"{qr_size / len(matrix):.2f} mm each on this label, under "
                                f"{MIN_MODULE_MM} mm")
        margin = (height - qr_size) / 2
    module = qr_size / len(matrix)
    first, second = _lines(code)
    tx = x + margin + qr_size + 2.5
    return (
        f'<rect x="{x:.3f}" y="{y:.3f}" width="{LABEL_W_MM}" height="{height}" '
        f'fill="#fff"/>'
        f'<path d="{_qr_path(matrix, x + margin, y + margin, module)}" fill="#000"/>'
        f'<text x="{tx:.3f}" y="{y + 8:.3f}" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="3.2" font-weight="bold">robopass</text>'
        f'<text x="{tx:.3f}" y="{y + 16:.3f}" font-family="Courier New, Courier, monospace" '
        f'font-size="3.1" font-weight="bold">{escape(first)}</text>'
        f'<text x="{tx:.3f}" y="{y + 20.5:.3f}" font-family="Courier New, Courier, monospace" '
        f'font-size="2.4" font-weight="bold">{escape(second)}</text>'
        f'<text x="{tx:.3f}" y="{y + 31:.3f}" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="2.3">Scan to verify · 扫码核验</text>'
    )


def label_svg(code: str, public_url: str, passport: str | None = None) -> str:
    """A 70 × 37 mm SVG label for a (valid) code; with ``passport`` (``RP1:…``) a 70 × 42.3 mm
    label whose QR carries it as the page URL's fragment. Raises LabelTooDense."""
    code = idcode.validate(code)
    url = public_url_for(public_url, code)
    height = LABEL_H_MM if passport is None else PASSPORT_LABEL_H_MM
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{LABEL_W_MM}mm" '
            f'height="{height}mm" viewBox="0 0 {LABEL_W_MM} {height}" role="img" '
            f'aria-label="{escape(idcode.format(code))}">'
            f'<title>{escape(idcode.format(code))}</title>'
            f'{_label_group(code, url, 0, 0, passport)}</svg>')


def sheet_svg(codes: Sequence[str], public_url: str,
              passports: Sequence[str] | None = None) -> str:
    """All labels on one A4-wide SVG, 3 per row (print on 24-up stock, 8 rows a page; with
    ``passports``, one per code, on 21-up stock of 70 × 42.3 mm, 7 rows a page)."""
    codes = [idcode.validate(c) for c in codes]
    rows = max(1, -(-len(codes) // COLS))
    label_h = LABEL_H_MM if passports is None else PASSPORT_LABEL_H_MM
    height = rows * label_h
    groups = []
    for i, code in enumerate(codes):
        r, c = divmod(i, COLS)
        groups.append(_label_group(code, public_url_for(public_url, code), c * LABEL_W_MM,
                                   r * label_h, passports[i] if passports else None))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{A4_W_MM}mm" height="{height}mm" '
            f'viewBox="0 0 {A4_W_MM} {height}"><title>robopass labels ({len(codes)})</title>'
            + "".join(groups) + "</svg>")


# --- PNG ------------------------------------------------------------------------------------

#: 5×7 glyphs, one string of 7 rows of 5 bits per character (classic LCD font).
_FONT = {
    "0": "01110 10001 10011 10101 11001 10001 01110",
    "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111",
    "3": "11111 00010 00100 00010 00001 10001 01110",
    "4": "00010 00110 01010 10010 11111 00010 00010",
    "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110",
    "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110",
    "9": "01110 10001 10001 01111 00001 00010 01100",
    "A": "01110 10001 10001 11111 10001 10001 10001",
    "B": "11110 10001 10001 11110 10001 10001 11110",
    "C": "01110 10001 10000 10000 10000 10001 01110",
    "D": "11100 10010 10001 10001 10001 10010 11100",
    "E": "11111 10000 10000 11110 10000 10000 11111",
    "F": "11111 10000 10000 11110 10000 10000 10000",
    "G": "01110 10001 10000 10111 10001 10001 01111",
    "H": "10001 10001 10001 11111 10001 10001 10001",
    "I": "01110 00100 00100 00100 00100 00100 01110",
    "J": "00111 00010 00010 00010 00010 10010 01100",
    "K": "10001 10010 10100 11000 10100 10010 10001",
    "L": "10000 10000 10000 10000 10000 10000 11111",
    "M": "10001 11011 10101 10101 10001 10001 10001",
    "N": "10001 10001 11001 10101 10011 10001 10001",
    "O": "01110 10001 10001 10001 10001 10001 01110",
    "P": "11110 10001 10001 11110 10000 10000 10000",
    "Q": "01110 10001 10001 10001 10101 10010 01101",
    "R": "11110 10001 10001 11110 10100 10010 10001",
    "S": "01111 10000 10000 01110 00001 00001 11110",
    "T": "11111 00100 00100 00100 00100 00100 00100",
    "U": "10001 10001 10001 10001 10001 10001 01110",
    "V": "10001 10001 10001 10001 10001 01010 00100",
    "W": "10001 10001 10001 10101 10101 10101 01010",
    "X": "10001 10001 01010 00100 01010 10001 10001",
    "Y": "10001 10001 10001 01010 00100 00100 00100",
    "Z": "11111 00001 00010 00100 01000 10000 11111",
    "-": "00000 00000 00000 11111 00000 00000 00000",
    " ": "00000 00000 00000 00000 00000 00000 00000",
}


def _draw_text(canvas: list[bytearray], text: str, x: int, y: int, scale: int) -> None:
    for ch in text:
        rows = _FONT.get(ch, _FONT[" "]).split()
        for ry, bits in enumerate(rows):
            for rx, bit in enumerate(bits):
                if bit == "1":
                    for dy in range(scale):
                        line = canvas[y + ry * scale + dy]
                        for dx in range(scale):
                            line[x + rx * scale + dx] = 0
        x += 6 * scale


def _png(canvas: list[bytearray]) -> bytes:
    height, width = len(canvas), len(canvas[0])

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + bytes(row) for row in canvas)
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def label_png(code: str, public_url: str, *, module: int = 8) -> bytes:
    """A greyscale PNG label: the QR (``module`` px per module, 4-module quiet zone) above the
    code in display form on two lines."""
    code = idcode.validate(code)
    matrix = _matrix(public_url_for(public_url, code))
    n = len(matrix)
    quiet = 4 * module
    scale = max(2, module // 2)
    first, second = _lines(code)
    text_w = max(len(first), len(second)) * 6 * scale
    width = max(n * module + 2 * quiet, text_w + 2 * quiet)
    text_h = 2 * 8 * scale + 3 * scale
    height = n * module + 2 * quiet + text_h + quiet // 2
    canvas = [bytearray(b"\xff" * width) for _ in range(height)]
    ox = (width - n * module) // 2
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                for dy in range(module):
                    line = canvas[quiet + y * module + dy]
                    line[ox + x * module: ox + (x + 1) * module] = b"\x00" * module
    ty = quiet + n * module + quiet // 2
    _draw_text(canvas, first, (width - len(first) * 6 * scale) // 2, ty, scale)
    _draw_text(canvas, second, (width - len(second) * 6 * scale) // 2, ty + 9 * scale, scale)
    return _png(canvas)


# --- PDF ------------------------------------------------------------------------------------

def _pdf_label(code: str, url: str, x: float, y_top: float,
               cjk: cjk_font.EmbeddedFont | None = None) -> str:
    """PDF content operators of one label whose top-left corner is (x, y_top) in points."""
    matrix = _matrix(url)
    qr = 27 * MM
    module = qr / len(matrix)
    ox, oy = x + 3 * MM, y_top - 3.4 * MM
    ops = ["0 g"]
    for ry, row in enumerate(matrix):
        rx = 0
        while rx < len(row):
            if row[rx]:
                start = rx
                while rx < len(row) and row[rx]:
                    rx += 1
                ops.append(f"{ox + start * module:.2f} {oy - (ry + 1) * module:.2f} "
                           f"{(rx - start) * module:.2f} {module:.2f} re")
            else:
                rx += 1
    ops.append("f")
    first, second = _lines(code)
    tx = ox + qr + 2.5 * MM
    ops.append(f"BT /F2 9 Tf {tx:.2f} {y_top - 8 * MM:.2f} Td (robopass) Tj ET")
    ops.append(f"BT /F1 7.6 Tf {tx:.2f} {y_top - 15 * MM:.2f} Td ({first}) Tj ET")
    ops.append(f"BT /F1 6 Tf {tx:.2f} {y_top - 19 * MM:.2f} Td ({second}) Tj ET")
    ops.append(f"BT /F2 6.5 Tf {tx:.2f} {y_top - 26.5 * MM:.2f} Td (Scan to verify) Tj ET")
    if cjk is not None:
        ops.append(f"BT /F3 7 Tf {tx:.2f} {y_top - 30 * MM:.2f} Td {cjk.encode(CJK_LINE)} Tj ET")
    return "\n".join(ops)


def sheet_pdf(codes: Sequence[str], public_url: str) -> bytes:
    """A4 PDF, 24 labels (3 × 8, 63.5 × 33.9 mm inside a printable margin) a page, vector QR
    codes, standard fonts for the code and an embedded CJK subset for the Chinese line (left
    out, with a warning in the log, where the system has no CJK font)."""
    codes = [idcode.validate(c) for c in codes]
    per_page = COLS * ROWS
    pages = [codes[i:i + per_page] for i in range(0, len(codes), per_page)] or [[]]
    width, height = A4_W_MM * MM, A4_H_MM * MM
    objects: list[bytes] = []  # object n is objects[n - 1]

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in at the end
    pages_obj = add(b"")
    font_mono = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier-Bold >>")
    font_sans = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold >>")
    cjk = cjk_font.subset(CJK_LINE)
    fonts = f"/F1 {font_mono} 0 R /F2 {font_sans} 0 R"
    if cjk is not None:
        for body in cjk_font.pdf_objects(cjk, len(objects) + 1):
            font_cjk = add(body)
        fonts += f" /F3 {font_cjk} 0 R"
    else:
        log.warning("no CJK font found (%s): the label PDF prints without its Chinese line",
                    ", ".join(cjk_font.CANDIDATES))
    kids = []
    for page_codes in pages:
        ops = []
        for i, code in enumerate(page_codes):
            r, c = divmod(i, COLS)
            ops.append(_pdf_label(code, public_url_for(public_url, code),
                                  (PDF_MARGIN_X_MM + c * PDF_LABEL_W_MM) * MM,
                                  height - (PDF_MARGIN_Y_MM + r * PDF_LABEL_H_MM) * MM, cjk))
        stream = zlib.compress("\n".join(ops).encode("latin-1"))
        content = add(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream)
                      + stream + b"\nendstream")
        kids.append(add(
            (f"<< /Type /Page /Parent {pages_obj} 0 R /MediaBox [0 0 {width:.2f} {height:.2f}] "
             f"/Resources << /Font << {fonts} >> >> "
             f"/Contents {content} 0 R >>").encode()))
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {pages_obj} 0 R >>".encode()
    objects[pages_obj - 1] = (f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] "
                              f"/Count {len(kids)} >>").encode()
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R >>\nstartxref\n{xref}\n"
            "%%EOF\n").encode()
    return bytes(out)
