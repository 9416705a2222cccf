"""The Docker workspace's init (kernels/reaper.py), run as a real process: it passes on the
server's exit status and signals, reaps orphans, and no process of its uid can read its
environment."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REAPER = [sys.executable, "-I", "-S", str(Path(__file__).resolve().parents[1] / "kernels" / "reaper.py")]  # fmt: skip
NOBODY = 65534


def wait_for(predicate, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)
    return found


def test_when_the_server_exits_then_the_init_exits_with_its_status():
    assert subprocess.run([*REAPER, sys.executable, "-c", "raise SystemExit(3)"]).returncode == 3
    killed = subprocess.run([*REAPER, "sh", "-c", "kill -9 $$"])
    assert killed.returncode == 128 + signal.SIGKILL


def test_when_the_init_is_told_to_stop_then_the_server_gets_the_signal(tmp_path):
    """``docker stop`` signals pid 1; the server must hear it to shut its kernels down."""
    ready, seen = tmp_path / "ready", tmp_path / "seen"
    server = (
        "import signal, sys, pathlib, time\n"
        f"def stop(n, f): pathlib.Path({str(seen)!r}).write_text(str(n)); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        f"pathlib.Path({str(ready)!r}).touch()\n"
        "time.sleep(60)\n"
    )
    init = subprocess.Popen([*REAPER, sys.executable, "-c", server])
    try:
        wait_for(ready.exists, "server started")
        init.send_signal(signal.SIGTERM)
        assert init.wait(timeout=20) == 0
    finally:
        init.kill()
    assert seen.read_text() == str(int(signal.SIGTERM))


def test_when_processes_are_orphaned_then_the_init_adopts_and_reaps_them(tmp_path):
    made, go = tmp_path / "made", tmp_path / "go"
    server = (
        "import os, time\n"
        "kids = []\n"
        "for _ in range(5):\n"
        "    r, w = os.pipe()\n"
        "    if os.fork() == 0:\n"
        "        if os.fork() == 0:\n"  # the orphan: outlives its parent, exits when told
        "            os.close(w); os.read(r, 1); os._exit(0)\n"  # or when the server is gone
        "        os._exit(0)\n"
        "    kids.append(w)\n"
        "    os.wait()\n"
        f"open({str(made)!r}, 'w').write('made')\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.05)\n"
        "for w in kids: os.write(w, b'x')\n"
        "time.sleep(60)\n"
    )
    init = subprocess.Popen([*REAPER, sys.executable, "-c", server])

    def children() -> list[str]:
        out = subprocess.run(["ps", "--ppid", str(init.pid), "-o", "stat="],
                             capture_output=True, text=True).stdout  # fmt: skip
        return out.split()

    try:
        wait_for(made.exists, "orphans made")
        assert len(children()) == 6  # the server and the five orphans it left
        go.touch()
        wait_for(lambda: len(children()) == 1, "orphans reaped")  # a zombie would stay listed
        assert [s for s in children() if s.startswith("Z")] == []
    finally:
        init.send_signal(signal.SIGTERM)
        init.wait(timeout=20)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root")
def test_when_a_process_of_the_same_uid_reads_the_inits_environment_then_it_is_refused():
    """What Docker's own init left open: the container's environment, signing key included."""
    python = "/usr/bin/python3"  # the checkout and its venv may be closed to the unprivileged uid
    as_nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        os.chmod(folder, 0o755)
        reaper = shutil.copy(REAPER[-1], folder)
        init = subprocess.Popen(
            [*as_nobody, python, "-I", "-S", reaper, python, "-c",
             "import time; print('ready', flush=True); time.sleep(60)"],
            env={"SHUYU_EXEC_KEY": "ab" * 32, "PATH": os.environ["PATH"]},
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert init.stdout.readline() == "ready\n"
            probe = (
                "import sys\n"
                "for what in ('environ', 'mem'):\n"
                "    try:\n"
                "        open(f'/proc/{sys.argv[1]}/{what}', 'rb').read(1); print('LEAK', what)\n"
                "    except PermissionError:\n"
                "        print('BLOCKED', what)\n"
            )
            out = subprocess.run([*as_nobody, python, "-c", probe, str(init.pid)],
                                 capture_output=True, text=True, timeout=30).stdout  # fmt: skip
            assert out.split("\n")[:2] == ["BLOCKED environ", "BLOCKED mem"], out
            status = Path(f"/proc/{init.pid}/status").read_text()
            assert status.split("Uid:")[1].split()[0] == str(NOBODY)  # the probe's uid
        finally:
            init.send_signal(signal.SIGTERM)
            init.wait(timeout=20)
