"""Loaded by every Python of an end-to-end privacy test (``PYTHONPATH=tests/memdump``).

With ``SHUYU_TEST_MEMDUMP=DIR`` set, a process copies what it still holds in memory to
``DIR/<pid>-<program>.mem`` when it exits, so the test can search each node's memory for the
other side's raw values (:func:`tests.memory_scan.scan`). The process is never told what will be
searched for. Without the variable this file does nothing.
"""

import atexit
import os
import sys

_FOLDER = os.environ.get("SHUYU_TEST_MEMDUMP")


def _dump() -> None:
    import ctypes
    import gc
    from pathlib import Path

    from tests.memory_scan import dump_memory

    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # free heap pages back: what is held is what counts
    program = "-".join(Path(a).name for a in sys.argv[:2] if a)[:60] or "python"
    dump_memory(Path(_FOLDER) / f"{os.getpid()}-{program}.mem")


if _FOLDER:
    atexit.register(_dump)
