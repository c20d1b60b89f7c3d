"""Server-side charts as inline SVG (no JavaScript, no CDN): horizontal bars and columns.

Each chart is a ``<figure>``: the SVG carries ``role="img"`` and an accessible name (and, being
an image, holds no links: a link inside ``role="img"`` is unreachable for assistive
technology), followed by its figures as a table in a ``<details>`` element, where the
drill-down links live. Nothing depends on seeing the picture.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

PALETTE = ("#0b57d0", "#116329", "#7d4e00", "#a40e26", "#6639ba", "#1b7c83", "#57606a")


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _short(text: str, n: int) -> str:
    """``text`` cut to ``n`` columns (CJK characters count double)."""
    if sum(_width(c) for c in text) <= n:
        return text
    out, used = [], 1
    for c in text:
        used += _width(c)
        if used > n:
            break
        out.append(c)
    return "".join(out) + "…"


def _figure(svg: str, title: str, rows: Sequence[tuple[str, str, str | None]]) -> Markup:
    """The SVG and its text equivalent: ``rows`` of (label, value, href)."""
    body = "".join(
        "<tr><th scope=\"row\">"
        + (f'<a href="{escape(href)}">{escape(label)}</a>' if href else str(escape(label)))
        + f"</th><td class=\"num\">{escape(value)}</td></tr>" for label, value, href in rows)
    table = (f'<details class="data-table"><summary>{escape(title)}</summary>'
             f'<table class="data"><tbody>{body}</tbody></table></details>') if rows else ""
    return Markup(f'<figure class="chart">{svg}{table}</figure>')


def hbar(items: Sequence[dict[str, Any]], *, title: str, width: int = 460, bar: int = 18,
         label_width: int = 160, color: str = PALETTE[0]) -> Markup:
    """``items``: ``{label, value, href?, color?}``; bars scaled to the largest value."""
    top = max((float(i["value"]) for i in items), default=0.0) or 1.0
    height = max(1, len(items)) * (bar + 6) + 4
    plot = width - label_width - 70
    out = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
           f'preserveAspectRatio="xMinYMin meet" aria-label="{escape(title)}">'
           f"<title>{escape(title)}</title>"]
    for n, item in enumerate(items):
        y = 2 + n * (bar + 6)
        w = max(1.0 if item["value"] else 0.0, plot * float(item["value"]) / top)
        label = escape(_short(str(item["label"]), max(8, label_width // 7)))
        value = _fmt(float(item["value"]))
        fill = item.get("color") or color
        rect = (f'<rect x="{label_width}" y="{y}" width="{w:.1f}" height="{bar}" rx="2" '
                f'fill="{fill}"><title>{escape(str(item["label"]))}: {value}</title></rect>')
        text = (f'<text x="{label_width - 6}" y="{y + bar * 0.72:.1f}" text-anchor="end">'
                f"{label}</text>")
        out.append(text + rect)
        out.append(f'<text class="v" x="{label_width + w + 4:.1f}" y="{y + bar * 0.72:.1f}">'
                   f"{value}</text>")
    out.append("</svg>")
    return _figure("".join(out), title, [(str(i["label"]), _fmt(float(i["value"])),
                                          i.get("href")) for i in items])


def columns(items: Sequence[dict[str, Any]], *, title: str, width: int = 460, height: int = 170,
            color: str = PALETTE[0], every: int = 1) -> Markup:
    """Vertical columns (time series, histograms); ``every`` thins the x labels."""
    top = max((float(i["value"]) for i in items), default=0.0) or 1.0
    n = max(1, len(items))
    base = height - 22
    slot = (width - 10) / n
    out = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
           f'preserveAspectRatio="xMinYMin meet" aria-label="{escape(title)}">'
           f"<title>{escape(title)}</title>",
           f'<line x1="5" x2="{width - 5}" y1="{base}" y2="{base}" stroke="#d0d7de"/>']
    for k, item in enumerate(items):
        h = (base - 14) * float(item["value"]) / top
        x = 5 + k * slot
        fill = item.get("color") or color
        out.append(f'<rect x="{x + slot * 0.1:.1f}" y="{base - h:.1f}" width="{slot * 0.8:.1f}" '
                   f'height="{h:.1f}" fill="{fill}"><title>{escape(str(item["label"]))}: '
                   f'{_fmt(float(item["value"]))}</title></rect>')
        if k % every == 0:
            out.append(f'<text x="{x + slot / 2:.1f}" y="{height - 6}" text-anchor="middle">'
                       f'{escape(str(item["label"]))}</text>')
    out.append(f'<text class="v" x="8" y="10">{_fmt(top)}</text></svg>')
    return _figure("".join(out), title, [(str(i["label"]), _fmt(float(i["value"])),
                                          i.get("href")) for i in items])


def line(points: Sequence[tuple[str, float | None]], *, title: str, width: int = 560,
         height: int = 160, lo: float | None = None, hi: float | None = None,
         color: str = PALETTE[0]) -> Markup:
    """A polyline through ``(label, value)`` points; gaps (None) are skipped."""
    values = [v for _l, v in points if v is not None]
    if not values:
        return Markup("")
    lo = min(values) if lo is None else lo
    hi = max(values) if hi is None else hi
    span = (hi - lo) or 1.0
    n = max(1, len(points) - 1)
    base = height - 20
    coords = []
    for k, (_label, v) in enumerate(points):
        if v is None:
            continue
        x = 40 + (width - 50) * k / n
        y = 8 + (base - 8) * (1 - (v - lo) / span)
        coords.append(f"{x:.1f},{y:.1f}")
    first, last = points[0][0], points[-1][0]
    return _figure(
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<line x1="40" x2="{width - 10}" y1="{base}" y2="{base}" stroke="#d0d7de"/>'
        f'<text class="v" x="2" y="12">{_fmt(hi)}</text>'
        f'<text class="v" x="2" y="{base}">{_fmt(lo)}</text>'
        f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(coords)}"/>'
        f'<text x="40" y="{height - 4}">{escape(first)}</text>'
        f'<text x="{width - 10}" y="{height - 4}" text-anchor="end">{escape(last)}</text></svg>',
        title, [(label, _fmt(v), None) for label, v in points if v is not None])
