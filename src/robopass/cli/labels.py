"""``robopass labels --model M --out sheet.pdf|.svg``: printable label sheets."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from robopass import config

err = Console(stderr=True)


def labels(model: str = typer.Option(..., help="Product model id or 6-character model code"),
           out: Path = typer.Option(..., help="Output file: .pdf (A4 pages) or .svg"),
           db: str | None = typer.Option(None, "--db", help="Database URL; default "
                                         "$ROBOPASS_DATABASE_URL"),
           production_month: str | None = typer.Option(None, help="Only this month, YYYY-MM"),
           plant: str | None = typer.Option(None, help="Only this plant code"),
           status: str | None = typer.Option(None, help="Only units in this status"),
           limit: int = typer.Option(10_000, help="At most this many labels"),
           public_url: str | None = typer.Option(None, help="Base URL the QR codes point to; "
                                                 "default $ROBOPASS_PUBLIC_URL"),
           passport: bool = typer.Option(False, "--passport", help="Put each robot's offline "
                                         "passport in its QR as the URL's fragment (70 x 42.3 "
                                         "mm labels, 21 a page; .svg only)")) -> None:
    """Print the labels of a production run: code in display form and a QR of
    {public_url}/r/{code}; 24 labels (70 x 37 mm) per A4 page."""
    from robopass.config import get_settings
    from robopass.db import reading
    from robopass.errors import RobopassError
    from robopass.labels import render, service

    suffix = out.suffix.lower()
    if suffix not in (".pdf", ".svg"):
        err.print("[red]error:[/red] " + escape("--out must end in .pdf or .svg"))
        raise typer.Exit(2)
    url = config.database_url(db)
    base = public_url or get_settings().public_url
    try:
        with reading(url) as session:
            codes = service.production_run(session, model=model,
                                           production_month=production_month, plant=plant,
                                           status=status, limit=limit)
    except RobopassError as exc:
        err.print("[red]error:[/red] " + escape(f"{exc.message}"))
        raise typer.Exit(1) from exc
    if not codes:
        err.print("[red]error:[/red] " + escape("no units match; nothing written"))
        raise typer.Exit(1)
    if passport:
        if suffix != ".svg":
            err.print("[red]error:[/red] " + escape("--passport sheets are written as .svg"))
            raise typer.Exit(2)
        from robopass.passports import service as passport_service

        with reading(url) as session:
            texts = [passport_service.issue_offline(session, c, public_url=base) for c in codes]
        try:
            out.write_text(render.sheet_svg(codes, base, texts), encoding="utf-8")
        except render.LabelTooDense as exc:
            err.print("[red]error:[/red] " + escape(str(exc)))
            raise typer.Exit(1) from exc
        print(f"{len(codes)} passport labels on {-(-len(codes) // (render.COLS * 7))} "
              f"page(s) -> {out}")
        return
    if suffix == ".pdf":
        out.write_bytes(render.sheet_pdf(codes, base))
    else:
        out.write_text(render.sheet_svg(codes, base), encoding="utf-8")
    pages = -(-len(codes) // (render.COLS * render.ROWS))
    print(f"{len(codes)} labels on {pages} page(s) -> {out}")
