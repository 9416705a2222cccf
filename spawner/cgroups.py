"""Resource limits per server with control groups.

cgroup v1 (this kind of machine, hybrid layout): memory (``memory.limit_in_bytes`` and, when swap
accounting is on, ``memory.memsw.limit_in_bytes``), process count (``pids.max``) and CPU
(``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``), each in its own hierarchy under ``shuyu/``.
cgroup v2 (unified): ``memory.max``, ``memory.swap.max``, ``pids.max`` and ``cpu.max`` in one group.
The launcher writes its own pid into the groups before it execs the sandbox, so every process of
the server is limited from its first instruction.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from spawner.policy import Limits

ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


def is_v2() -> bool:
    return (ROOT / "cgroup.controllers").exists()


def group_dirs(name: str) -> list[Path]:
    if is_v2():
        return [ROOT / "shuyu" / name]
    return [ROOT / ctrl / "shuyu" / name for ctrl in ("memory", "pids", "cpu")]


def settings(limits: Limits, v2: bool) -> dict[str, str]:
    """Controller files and values for ``limits`` (pure)."""
    quota = max(1000, int(limits.cpus * PERIOD_US))
    if v2:
        return {
            "memory.max": str(limits.memory_bytes),
            "memory.swap.max": "0",
            "pids.max": str(limits.pids),
            "cpu.max": f"{quota} {PERIOD_US}",
        }
    return {
        "memory.limit_in_bytes": str(limits.memory_bytes),
        "memory.memsw.limit_in_bytes": str(limits.memory_bytes),
        "pids.max": str(limits.pids),
        "cpu.cfs_period_us": str(PERIOD_US),
        "cpu.cfs_quota_us": str(quota),
    }


def create(name: str, limits: Limits) -> list[Path]:
    """Create the groups of one server and write its limits; returns their folders."""
    v2 = is_v2()
    dirs = group_dirs(name)
    if v2:
        (ROOT / "shuyu").mkdir(exist_ok=True)
        with contextlib.suppress(OSError):
            (ROOT / "shuyu" / "cgroup.subtree_control").write_text("+memory +pids +cpu")
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    for key, value in settings(limits, v2).items():
        for d in dirs:
            f = d / key
            if f.exists():
                with contextlib.suppress(OSError):  # e.g. memsw without swap accounting
                    f.write_text(value)
    return dirs


def procs(name: str) -> list[int]:
    found: set[int] = set()
    for d in group_dirs(name):
        with contextlib.suppress(FileNotFoundError):
            found.update(int(p) for p in (d / "cgroup.procs").read_text().split())
    return sorted(found)


def kill_all(name: str, timeout: float = 5.0) -> None:
    """SIGKILL every process of the group until it is empty (a fork bomb cannot outrun it)."""
    deadline = time.monotonic() + timeout
    while (left := procs(name)) and time.monotonic() < deadline:
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


def remove(name: str) -> None:
    kill_all(name)
    for d in group_dirs(name):
        with contextlib.suppress(FileNotFoundError, OSError):
            d.rmdir()


def stale_groups() -> list[str]:
    """Names of server groups that hold no process."""
    base = ROOT / "shuyu" if is_v2() else ROOT / "pids" / "shuyu"
    if not base.exists():
        return []
    return [d.name for d in base.iterdir() if d.is_dir() and not procs(d.name)]
