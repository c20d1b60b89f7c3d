"""``runtime.tune_memory``: a process keeps one malloc arena however many threads allocate
(glibc's ``malloc_info`` counts them), so a server's freed buffers are not spread over many,
and large blocks stay mapped on their own (glibc's ``mallinfo2`` counts them)."""

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


MAPPED = """
import ctypes, sys
from robopass import runtime
if sys.argv[1] == "tuned":
    runtime.tune_memory()
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(2_000_000))  # glibc's dynamic threshold rises past this size
block = libc.malloc(2_000_000)
print(libc.mallinfo2().hblkhd >= 2_000_000)
"""


@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "mallinfo2"), reason="needs glibc >= 2.33")
def test_a_large_block_is_mapped_on_its_own_after_one_was_freed() -> None:
    """A freed request body does not raise the size from which blocks are mapped on their
    own, so the next body is mapped too and goes back to the system when freed."""
    def mapped(mode: str) -> bool:
        out = subprocess.run([sys.executable, "-c", MAPPED, mode], capture_output=True,
                             text=True, check=True)
        return out.stdout.strip() == "True"

    assert mapped("tuned")
    assert not mapped("default")  # the probe does meet glibc's dynamic threshold
