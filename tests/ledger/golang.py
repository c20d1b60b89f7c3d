"""Build the Go verifier (tests/ledger/go/verifier.go) against Debian's golang.org/x/mod.

Offline: GOPATH mode (GO111MODULE=off) over /usr/share/gocode, where golang-golang-x-mod-dev
installs the sources. Outside CI a missing Go skips; in CI it fails (tests/conftest.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import require_service

GOCODE = Path("/usr/share/gocode")
SOURCE = Path(__file__).parent / "go" / "verifier.go"


def go_env(work: Path) -> dict[str, str]:
    return {**os.environ, "GO111MODULE": "off", "GOPATH": str(GOCODE), "GOFLAGS": "",
            "GOCACHE": str(work / "gocache"), "HOME": str(work), "CGO_ENABLED": "0"}


def build_verifier(work: Path) -> Path:
    go = shutil.which("go")
    require_service(go is not None and (GOCODE / "src/golang.org/x/mod/sumdb/note").is_dir(),
                    "Go with golang-golang-x-mod-dev")
    assert go is not None
    src = work / "src" / "verifier.go"
    src.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SOURCE, src)
    out = work / "verifier"
    subprocess.run([go, "build", "-o", str(out), str(src)], env=go_env(work), check=True,
                   capture_output=True, timeout=300)
    return out
