"""``runtime.tune_memory``: a process keeps one malloc arena however many threads allocate
(glibc's ``malloc_info`` counts them), so a server's freed buffers are not spread over many."""

from __future__ import annotations

import ctypes
import subprocess
import sys

import pytest

PROBE = """
import ctypes, sys, tempfile, threading
from robopass import runtime
if sys.argv[1] == "tuned":
    runtime.tune_memory()
def work():
    blocks = [bytearray(50_000) for _ in range(50)]
    del blocks
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile(suffix=".xml") as out:
    fp = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(fp))
    libc.fclose(ctypes.c_void_p(fp))
    print(open(out.name).read().count("<heap nr="))
"""


def _heaps(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                         check=True)
    return int(out.stdout.strip())


@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "malloc_info"), reason="needs glibc")
def test_one_arena_however_many_threads_allocate() -> None:
    assert _heaps("tuned") == 1
    assert _heaps("default") > 1  # the probe does make threads take arenas of their own
