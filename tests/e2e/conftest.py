"""A demo world served by the real hub and proxy, once per backend."""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import date, timedelta

import pytest

from hub import home
from hub.db.engine import Database
from hub.demo import world
from hub.ops import Ctx, agreements, staff, tenants
from hub.validators import resident_id_check_char, uscc_check_char
from tests.e2e.hub_process import HubProcess
from tests.pg import pg_available, pg_create_template, pg_drop, pg_from_template

PASSWORD = world.PASSWORD
SUSPENDED_TENANT = "杭州暂停测试有限公司"


def _extra_staff(db: Database, pepper: bytes) -> dict[str, str]:
    """Users the demo does not have: expired training, a suspended tenant, a lockout victim."""
    secrets = {}
    uscc = "91330110MA2TE7T01"
    with db.session() as s:
        ctx = Ctx(session=s, actor="e2e", pepper=pepper)
        tenants.add(ctx, SUSPENDED_TENANT, uscc + uscc_check_char(uscc))
        agreements.sign(ctx, SUSPENDED_TENANT)
        people = [
            ("erin", world.TENANTS[0]["name"], "330106198805051234"),
            ("sam", SUSPENDED_TENANT, "330106198906061235"),
            ("lucy", world.TENANTS[0]["name"], "330106199007071236"),
        ]
        for username, tenant, id17 in people:
            id_number = id17[:17] + resident_id_check_char(id17[:17])
            new = staff.add(
                ctx,
                username=username,
                real_name="测试",
                id_number=id_number,
                mobile="13900000000",
                role="processor",
                password=PASSWORD,
                tenant=tenant,
            )
            secrets[username] = new.totp_secret
            staff.verify(ctx, username)
            if username != "erin":
                staff.record_training(ctx, username, 90)
        # erin passed 400 days ago; the result was valid for 365 days.
        past = Ctx(session=s, actor="e2e", pepper=pepper, today=date.today() - timedelta(days=400))
        staff.record_training(past, "erin", 95, valid_days=365)
        tenants.change_status(ctx, SUSPENDED_TENANT, "suspend", "违规调用接口 / misuse")
    return secrets


@contextlib.contextmanager
def running_hub(request, tmp_path_factory, backend: str, env: dict[str, str] | None = None):
    """(HubProcess, Database, totp secrets by username) for a running hub with the demo world;
    ``env`` adds to the hub's environment (what jupyterhub_config.py reads)."""
    hub_home = tmp_path_factory.mktemp(f"hub-{backend}")
    pg_names = []
    if backend == "postgres":
        if not pg_available():
            pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432")
        template = pg_create_template()
        name = f"shuyu_e2e_{uuid.uuid4().hex[:10]}"
        db_url = pg_from_template(template, name)
        pg_names = [name, template]
    else:
        db_url = f"sqlite:///{hub_home / 'platform.sqlite'}"
    db = Database(db_url)
    from hub.ops.setup import init_home

    init_home(hub_home, db)
    world.build(hub_home, db, rows=300)
    secrets = {
        u: v["totp_secret"]
        for u, v in json.loads((hub_home / world.LOGINS_FILE).read_text()).items()
    }
    secrets.update(_extra_staff(db, home.secret("id_pepper", hub_home)))
    proc = HubProcess(hub_home, db_url)
    proc.env.update(env or {})
    try:
        proc.start()
        yield proc, db, secrets
    finally:
        proc.stop()
        if request.node.session.testsfailed:
            print(f"--- hub log ({backend}) ---\n{proc.tail(150)}")
        db.dispose()
        for name in pg_names:
            pg_drop(name)


BACKENDS = ("sqlite", "postgres")


def backends(module) -> list:
    """The backends a module's tests run on: ``BACKENDS`` of the module, else both. A module
    whose database work the unit tests already prove on PostgreSQL runs its hub on SQLite only
    (each hub start costs half a minute)."""
    return [
        pytest.param(b, marks=pytest.mark.postgres) if b == "postgres" else b
        for b in getattr(module, "BACKENDS", BACKENDS)
    ]


def pytest_generate_tests(metafunc) -> None:
    if "hub" in metafunc.fixturenames and "hub" not in vars(metafunc.module):
        metafunc.parametrize("hub", backends(metafunc.module), indirect=True, scope="module")


@pytest.fixture(scope="module")
def hub(request, tmp_path_factory):
    """A running hub on each backend of the module (see :func:`running_hub`)."""
    with running_hub(request, tmp_path_factory, request.param) as running:
        yield running


def api_tokens(hub, users=("alice", "bob")) -> dict[str, str]:
    """A fresh API token of each of ``users``, logged in through the real login form."""
    import pyotp

    from tests.e2e.hub_process import Browser
    from tests.e2e.kernel_client import user_token

    proc, _, secrets = hub
    found = {}
    for user in users:
        b = Browser(proc.url)
        assert b.login(user, PASSWORD, pyotp.TOTP(secrets[user]).now()).status_code == 302
        found[user] = user_token(b, proc.url, user)
    return found


def gateway_url(hub) -> str:
    return f"http://127.0.0.1:{hub[0].env['SHUYU_GATEWAY_PORT']}"
