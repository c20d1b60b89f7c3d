"""Regenerate the initial migration from the models (development only, before the first release).

    python -m robopass.migrations.regenerate

Deletes ``versions/0001_initial.py`` and autogenerates it again against an empty SQLite
database. Once a release has shipped, add new revisions with ``alembic revision`` instead.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from robopass.schema import alembic_config

VERSIONS = Path(__file__).parent / "versions"


def main() -> None:
    for old in VERSIONS.glob("0001_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = alembic_config(f"sqlite:///{tmp}/empty.db")
        command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001",
                         version_path=str(VERSIONS))
    for new in VERSIONS.glob("0001_*.py"):
        new.rename(VERSIONS / "0001_initial.py")


if __name__ == "__main__":
    main()
