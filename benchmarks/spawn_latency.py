"""Login → server and kernel ready, per spawner; resident memory per idle server; most idle servers.

    .venv/bin/python -m benchmarks.spawn_latency [--spawners tenant-sandbox,simple] [--concurrent 20]
                                                 [--idle 100]

For each spawner a fresh hub is started with its own demo world plus bench users spread over four
tenants. "Ready" means: logged in with password + TOTP, server started, a kernel started and
``1 + 1`` answered over the kernel websocket through the proxy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import pyotp
import requests

from hub import home
from hub.db.engine import Database
from hub.demo import world
from hub.ops import Ctx, agreements, staff, tenants
from hub.ops.setup import init_home
from hub.validators import resident_id_check_char, uscc_check_char
from spawner.policy import UID_BASE
from tests.e2e.hub_process import Browser, HubProcess
from tests.e2e.kernel_client import Kernel, user_token

TENANTS = 4


def make_world(hub_home: Path, users: int) -> tuple[str, dict[str, str]]:
    db_url = f"sqlite:///{hub_home / 'platform.sqlite'}"
    db = Database(db_url)
    init_home(hub_home, db)
    world.build(hub_home, db, rows=200)
    secrets = {}
    with db.session() as s:
        ctx = Ctx(session=s, actor="bench", pepper=home.secret("id_pepper", hub_home))
        for t in range(TENANTS):
            body = f"9133010{t}MA2BENCH"[:17].replace("I", "1").replace("O", "0")
            body = body.ljust(17, "0")
            tenants.add(ctx, f"压测单位{t}", body + uscc_check_char(body))
            agreements.sign(ctx, f"压测单位{t}")
        for i in range(users):
            body = f"33010619900101{i:03d}"
            new = staff.add(
                ctx,
                username=f"bench{i}",
                real_name="测试",
                id_number=body + resident_id_check_char(body),
                mobile="13900000000",
                role="processor",
                password=world.PASSWORD,
                tenant=f"压测单位{i % TENANTS}",
            )
            staff.verify(ctx, f"bench{i}")
            staff.record_training(ctx, f"bench{i}", 90)
            secrets[f"bench{i}"] = new.totp_secret
    db.dispose()
    return db_url, secrets


def docker_engine(db_url: str, stop: list) -> dict:
    """A private Docker engine and the offline workspace image (as the attack lab starts them)."""
    from sqlalchemy import select

    from hub.db.models import Tenant
    from tests.e2e.attack_lab import start_docker

    db = Database(db_url)
    with db.session() as s:
        tenants = {f"t{t.id}": (t.id, t.group) for t in s.scalars(select(Tenant))}
    db.dispose()
    env, _links = start_docker(tenants, stop)
    return env


def login(hub: HubProcess, user: str, secret: str) -> Browser:
    b = Browser(hub.url)
    assert b.login(user, world.PASSWORD, pyotp.TOTP(secret).now()).status_code == 302
    return b


def spawn_to_kernel(hub: HubProcess, b: Browser, user: str, t0: float) -> tuple[float, float, str]:
    """Start the server, then a kernel that answers ``1 + 1``: seconds since ``t0`` until
    JupyterLab answered and until the kernel answered; and the user's API token."""
    b.start_server(user, timeout=180)
    lab = time.perf_counter() - t0
    token = user_token(b, hub.url, user)
    kernel = Kernel(hub.url, user, token)
    assert kernel.execute("1 + 1").data == ["2"]
    return lab, time.perf_counter() - t0, token


def ready(hub: HubProcess, user: str, secret: str) -> tuple[float, float, str]:
    """Seconds from the login form post to JupyterLab answering, and to ``1 + 1`` answered by a
    kernel of the new server; and the user's API token."""
    t0 = time.perf_counter()
    return spawn_to_kernel(hub, login(hub, user, secret), user, t0)


def stop_all(hub: HubProcess, sessions: list[tuple[str, str]]) -> None:
    for user, token in sessions:
        requests.delete(
            f"{hub.url}/hub/api/users/{user}/server",
            headers={"Authorization": f"token {token}"},
            timeout=60,
        )
    time.sleep(2)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def server_memory(user_count: int) -> tuple[float, float]:
    """Mean resident and proportional (PSS: shared pages split between their users) memory in
    MiB of one idle server (no kernel): every process running as a tenant uid, which covers
    forked servers, their kernel zygotes and containers alike."""
    rss = pss = 0
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            if p.stat().st_uid < UID_BASE:
                continue
            for line in (p / "smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    n = max(user_count, 1)
    return rss / 1024 / n, pss / 1024 / n


CPU_KINDS = (
    ("kernel", b"ipykernel"),
    ("server", b"jupyterhub-singleuser"),
    ("zygote", b"spawner.zygote"),
    ("hub", b"jupyterhub"),
    ("gateway", b"hub.web.gateway"),
    ("proxy", b"configurable-http-proxy"),
)


def cpu_by_kind() -> dict[str, float]:
    """CPU seconds used so far by the live processes of each kind (hub, proxy, servers, ...)."""
    tick = os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = {}
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cmd = (p / "cmdline").read_bytes()
            fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kind = next((k for k, marker in CPU_KINDS if marker in cmd), None)
        if kind:
            totals[kind] = totals.get(kind, 0) + (int(fields[11]) + int(fields[12])) / tick
    return totals


def all_at_once(fn, users: list[str]) -> None:
    threads = [threading.Thread(target=fn, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def print_cpu(spawner: str, what: str, before: dict[str, float], client_before) -> None:
    """CPU seconds each kind of process used since ``before``; "zygote" counts the servers and
    kernels forked from it."""
    after, client_after = cpu_by_kind(), os.times()
    used = {k: v - before.get(k, 0) for k, v in after.items()}
    used["bench client"] = (client_after.user + client_after.system) - (
        client_before.user + client_before.system
    )
    print(
        f"{spawner}: CPU seconds used by {what}: "
        + ", ".join(f"{k} {v:.1f}" for k, v in sorted(used.items(), key=lambda kv: -kv[1]))
    )


def measure_batch(hub, spawner: str, label: str, cpu_label: str, users: list[str], start) -> None:
    """Run ``start(user) -> (seconds, token)`` for all ``users`` at once; print p50/p95 and the
    CPU each kind of process used; stop their servers."""
    results: dict[str, float] = {}
    sessions: list[tuple[str, str]] = []

    def one(user: str) -> None:
        seconds, token = start(user)
        results[user] = seconds
        sessions.append((user, token))

    cpu_before, client_before = cpu_by_kind(), os.times()
    all_at_once(one, users)
    times = list(results.values())
    print(
        f"{spawner}: {label}: p50 {statistics.median(times):.2f} s, "
        f"p95 {pct(times, 0.95):.2f} s (n={len(times)}/{len(users)})"
    )
    print_cpu(spawner, cpu_label, cpu_before, client_before)
    stop_all(hub, sessions)


def run(spawner: str, concurrent: int, idle: int) -> None:
    users = max(2 * concurrent, idle) + 5
    hub_home = Path(tempfile.mkdtemp(prefix=f"bench-{spawner}-"))
    db_url, secrets = make_world(hub_home, users)
    hub = HubProcess(hub_home, db_url)
    hub.env["SHUYU_SPAWNER"] = spawner
    stop: list = []
    if spawner == "tenant-docker":
        hub.env.update(docker_engine(db_url, stop))
    t0 = time.perf_counter()
    hub.start()
    print(f"{spawner}: hub start {time.perf_counter() - t0:.2f} s")
    names = list(secrets)
    try:
        labs, singles, sessions = [], [], []
        for user in names[:5]:
            lab, seconds, token = ready(hub, user, secrets[user])
            labs.append(lab)
            singles.append(seconds)
            sessions.append((user, token))
        stop_all(hub, sessions)
        print(
            f"{spawner}: 1 at a time, login → JupyterLab ready p50 {statistics.median(labs):.2f} s; "
            f"login → kernel ready p50 {statistics.median(singles):.2f} s, "
            f"p95 {pct(singles, 0.95):.2f} s (n={len(singles)})"
        )

        if concurrent:
            batch = names[5 : 5 + concurrent]
            measure_batch(
                hub,
                spawner,
                f"{concurrent} concurrent, login → kernel ready",
                "the concurrent logins and starts",
                batch,
                lambda user: ready(hub, user, secrets[user])[1:],
            )
            # The same number of spawns at once by users who logged in beforehand: the spawner's
            # share, without the hub's login work (password hashing, sessions) in the way.
            batch = names[5 + concurrent : 5 + 2 * concurrent]
            browsers = {u: login(hub, u, secrets[u]) for u in batch}
            measure_batch(
                hub,
                spawner,
                f"{concurrent} concurrent spawns of logged-in users, spawn → kernel ready",
                "the concurrent spawns",
                batch,
                lambda user: spawn_to_kernel(hub, browsers[user], user, time.perf_counter())[1:],
            )

        if idle:
            idle_sessions = []
            started = time.perf_counter()
            for user in names[:idle]:
                b = Browser(hub.url)
                assert (
                    b.login(user, world.PASSWORD, pyotp.TOTP(secrets[user]).now()).status_code
                    == 302
                )
                b.start_server(user, timeout=180)
                idle_sessions.append((user, user_token(b, hub.url, user)))
            up = time.perf_counter() - started
            rss, pss = server_memory(len(idle_sessions))
            meminfo = Path("/proc/meminfo").read_text().splitlines()
            avail = (
                int(next(x for x in meminfo if x.startswith("MemAvailable")).split()[1]) / 1024**2
            )
            print(
                f"{spawner}: {len(idle_sessions)} idle servers up in {up:.0f} s; per idle server "
                f"{rss:.0f} MiB resident, {pss:.0f} MiB proportional; {avail:.1f} GiB still available"
            )
            stop_all(hub, idle_sessions)
    finally:
        hub.stop()
        for fn in reversed(stop):
            fn()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--spawners", default="tenant-sandbox,simple")
    p.add_argument("--concurrent", type=int, default=20)
    p.add_argument("--idle", type=int, default=0, help="start this many idle servers (e.g. 100)")
    a = p.parse_args()
    for spawner in a.spawners.split(","):
        run(spawner, a.concurrent, a.idle)


if __name__ == "__main__":
    main()
