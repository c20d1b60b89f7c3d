"""Fill a registry's ledger directly through the storage layer (as issuance does)."""

from __future__ import annotations

from robopass.db import writing
from robopass.ledger import service


def leaf(i: int, kind: str = "code") -> service.LeafInput:
    code = f"CN-TEST-{i:021d}"
    return service.LeafInput(kind=kind, code=code, type="issued" if kind == "code" else "sold",
                             at="2026-12-01T08:00:00Z", id=f"{kind}-{i}",
                             record={"code": code, "n": i})


def append(url: str, count: int, *, start: int = 0, batch: int = 5000) -> None:
    """Append ``count`` well-formed public leaves numbered from ``start``."""
    done = 0
    while done < count:
        n = min(batch, count - done)
        with writing(url) as session:
            service.append(session, [leaf(start + done + i) for i in range(n)])
        done += n
