"""Loaded by every Python of an end-to-end privacy test (``PYTHONPATH=tests/memdump``).

With ``SHUYU_TEST_MEMDUMP=DIR`` set, a privacy node's process (``python -m privacy …`` or its
worker) copies what it still holds in memory to ``DIR/<pid>-<program>.mem`` when it exits, if
``DIR`` exists then — the test creates it around the computations it scans — so the test can
search each node's memory for the other side's raw values (:mod:`tests.memory_scan`). The process
is never told what will be searched for. Other processes, and runs without the variable or the
folder, are left alone.
"""

import atexit
import os
import sys

_FOLDER = os.environ.get("SHUYU_TEST_MEMDUMP")


def _dump() -> None:
    import ctypes
    import gc
    from pathlib import Path

    program = sys.argv[0] if sys.argv else ""
    if not program.endswith(("privacy/__main__.py", "privacy/worker.py")):
        return
    if not Path(_FOLDER).is_dir():
        return
    from tests.memory_scan import dump_memory

    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # free heap pages back: what is held is what counts
    name = "-".join(Path(a).name for a in sys.argv[:2] if a)[:60]
    dump_memory(Path(_FOLDER) / f"{os.getpid()}-{name}.mem")


if _FOLDER:
    atexit.register(_dump)
