"""The witness's state: per log origin, the size and root it last cosigned, one JSON file each.

Updates hold a process lock and an exclusive ``flock`` on the origin's file while deciding, and
replace the file atomically (write, fsync, rename) before the answer goes out.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

from robopass.witness.protocol import Answer, Known


class FileState:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def _path(self, origin: str) -> Path:
        return self.directory / f"{hashlib.sha256(origin.encode()).hexdigest()[:32]}.json"

    def get(self, origin: str) -> Known:
        path = self._path(origin)
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return int(data["size"]), bytes.fromhex(data["root"])

    def update(self, origin: str, decide: Callable[[Known], tuple[Answer, Known]]) -> Answer:
        path = self._path(origin)
        with self._lock, open(self.directory / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            known = self.get(origin)
            answer, new = decide(known)
            if new is not None and new != known:
                tmp = path.with_suffix(".tmp")
                with open(tmp, "w") as handle:
                    json.dump({"origin": origin, "size": new[0], "root": new[1].hex()}, handle)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            return answer
