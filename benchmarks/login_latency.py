"""Login → server ready latency through the real hub and proxy (the stock ``simple`` spawner).

    .venv/bin/python -m benchmarks.login_latency [--users 5]

Each user logs in once (password + TOTP, argon2id verify, admission, audit) and starts a server;
the time to the JupyterLab page answering through the proxy is measured, then the server is
stopped.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pyotp

from hub import home
from hub.db.engine import Database
from hub.demo import world
from hub.ops import Ctx, staff
from hub.ops.setup import init_home
from hub.validators import resident_id_check_char
from tests.e2e.hub_process import Browser, HubProcess


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--users", type=int, default=5)
    a = p.parse_args()
    hub_home = Path(tempfile.mkdtemp())
    db_url = f"sqlite:///{hub_home / 'platform.sqlite'}"
    db = Database(db_url)
    init_home(hub_home, db)
    world.build(hub_home, db, rows=200)
    secrets = {}
    with db.session() as s:
        ctx = Ctx(session=s, actor="bench", pepper=home.secret("id_pepper", hub_home))
        for i in range(a.users):
            body = f"33010619900101{i:03d}"
            new = staff.add(
                ctx,
                username=f"bench{i}",
                real_name="测试",
                id_number=body + resident_id_check_char(body),
                mobile="13900000000",
                role="processor",
                password=world.PASSWORD,
                tenant=world.TENANTS[0]["name"],
            )
            staff.verify(ctx, f"bench{i}")
            staff.record_training(ctx, f"bench{i}", 90)
            secrets[f"bench{i}"] = new.totp_secret
    hub = HubProcess(hub_home, db_url)
    t0 = time.perf_counter()
    hub.start()
    print(f"hub start: {time.perf_counter() - t0:.2f} s")
    logins, readies = [], []
    try:
        for user, secret in secrets.items():
            b = Browser(hub.url)
            t0 = time.perf_counter()
            r = b.login(user, world.PASSWORD, pyotp.TOTP(secret).now())
            t1 = time.perf_counter()
            assert r.status_code == 302, r.status_code
            b.start_server(user)
            t2 = time.perf_counter()
            logins.append(t1 - t0)
            readies.append(t2 - t0)
            xsrf = b.s.cookies.get("_xsrf", path="/hub/")
            b.s.delete(
                f"{hub.url}/hub/api/users/{user}/server",
                headers={"X-XSRFToken": xsrf or ""},
                timeout=30,
            )
    finally:
        hub.stop()
    print(
        f"login (form post → 302), median of {len(logins)}: {statistics.median(logins) * 1000:.0f} ms"
    )
    print(
        f"login → JupyterLab ready through the proxy, median: {statistics.median(readies):.2f} s "
        f"(min {min(readies):.2f}, max {max(readies):.2f})"
    )


if __name__ == "__main__":
    main()
