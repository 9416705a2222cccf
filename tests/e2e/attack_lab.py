"""The attack lab: a running hub with two tenants' workspaces, a decoy service on the host and a
simulated outside host in a network namespace the test creates (never a real outside address).

The workspaces are rendered by one of ``SPAWNERS``: ``tenant-sandbox`` (bubblewrap in a tenant
network namespace) or ``tenant-docker`` (a container on the tenant's internal network of a private
Docker engine the lab starts, with the offline workspace image of ``tests/docker_engine.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import requests

from hub import home
from hub.db.engine import Database
from hub.demo import world
from hub.ops.setup import init_home
from spawner.docker import bridge_name, network_name, nft_table, subnet_gateway, tenant_subnet
from spawner.docker_factory import default_system_paths
from spawner.netns import tenant_link
from spawner.policy import tenant_uid
from tests import docker_engine as de
from tests.e2e.hub_process import Browser, HubProcess
from tests.e2e.kernel_client import Kernel, user_token
from tests.ports import free_port

SPAWNERS = ("tenant-sandbox", "tenant-docker")

OUTSIDE_NS = "shuyu-test-outside"
OUTSIDE_IP = "169.254.250.2"
OUTSIDE_HOST_IP = "169.254.250.1"


@dataclass(frozen=True)
class DockerLink:
    """A tenant's network in the Docker rendering, with what the tests read off a sandbox's
    ``netns.TenantLink``: the host's address on it, the workspace's interface, the nft table."""

    tenant: str
    network: str
    subnet: str
    bridge: str
    host_ip: str
    ns_if: str
    table: str


@dataclass
class Lab:
    spawner: str
    hub: HubProcess
    db: Database
    home: Path
    kernel: Kernel
    tokens: dict[str, str]
    browsers: dict[str, Browser]
    links: dict[str, object]
    targets: dict[str, str]
    decoy_port: int
    outside_port: int
    values: dict[str, object] = field(default_factory=dict)


def start_outside() -> tuple[int, subprocess.Popen]:
    """A host that stands for the outside world: its own namespace, a veth pair and a listener."""
    stop_outside()
    port = 8080
    for cmd in (
        ["ip", "netns", "add", OUTSIDE_NS],
        [
            "ip",
            "link",
            "add",
            "syto-h",
            "type",
            "veth",
            "peer",
            "name",
            "syto-n",
            "netns",
            OUTSIDE_NS,
        ],
        ["ip", "addr", "add", f"{OUTSIDE_HOST_IP}/30", "dev", "syto-h"],
        ["ip", "link", "set", "syto-h", "up"],
        [
            "ip",
            "netns",
            "exec",
            OUTSIDE_NS,
            "ip",
            "addr",
            "add",
            f"{OUTSIDE_IP}/30",
            "dev",
            "syto-n",
        ],
        ["ip", "netns", "exec", OUTSIDE_NS, "ip", "link", "set", "syto-n", "up"],
    ):
        subprocess.run(cmd, check=True, capture_output=True)
    listener = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            OUTSIDE_NS,
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            OUTSIDE_IP,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return port, listener


def stop_outside() -> None:
    subprocess.run(["ip", "link", "delete", "syto-h"], capture_output=True)
    subprocess.run(["ip", "netns", "delete", OUTSIDE_NS], capture_output=True)


def proxy_targets(lab_home: Path, hub: HubProcess) -> dict[str, str]:
    """Where the proxy sends each user's server (``http://ns-ip:port``), from its own API."""
    token = home.secret("proxy_auth_token", lab_home).hex()
    api = hub.env["SHUYU_PROXY_API_PORT"]
    routes = requests.get(
        f"http://127.0.0.1:{api}/api/routes", headers={"Authorization": f"token {token}"}, timeout=5
    ).json()
    return {r.split("/")[2]: v["target"] for r, v in routes.items() if r.startswith("/user/")}


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def start_docker(tenants: dict[str, tuple[int, str]], stop: list) -> tuple[dict, dict]:
    """A private Docker engine and the offline workspace image, for ``tenant-docker``.

    Returns the hub's environment for the Docker spawner and each user's ``DockerLink``. The
    engine's teardown (appended to ``stop``) removes the tenants' firewall tables (the spawner
    keeps them while the hub lives), then every container, network, process and mount.

    Raises:
        docker_engine.Unavailable: no Docker engine can run here (the caller skips, with why).
    """
    engine = de.start_engine()
    stop.append(lambda: _stop_engine(engine))
    uids = {f"ws{tenant_id}": tenant_uid(tenant_id) for tenant_id, _ in tenants.values()}
    image = de.build_workspace_image(engine.client, uids, default_system_paths())
    pool = str(
        next(engine.pool.subnets(new_prefix=engine.pool.prefixlen + 1))
    )  # upper half: Docker's
    links = {}
    for user, (tenant_id, group) in tenants.items():
        bridge, subnet = bridge_name(group), tenant_subnet(pool, tenant_id)
        engine.bridges.append(bridge)
        links[user] = DockerLink(
            tenant=group,
            network=network_name(group),
            subnet=subnet,
            bridge=bridge,
            host_ip=subnet_gateway(subnet),
            ns_if="eth0",
            table=nft_table(bridge),
        )
    env = {
        "SHUYU_SPAWNER": "tenant-docker",
        "DOCKER_HOST": engine.url,
        "SHUYU_DOCKER_IMAGE": image,
        "SHUYU_DOCKER_SUBNET_POOL": pool,
    }
    return env, links


def _stop_engine(engine: de.Engine) -> None:
    for bridge in engine.bridges:
        de.nft_delete_table(nft_table(bridge))
    problems = engine.stop()
    if problems:
        raise RuntimeError("the lab's Docker engine left traces: " + "; ".join(problems))


def build_lab(
    lab_home: Path,
    stop: list,
    spawner: str = "tenant-sandbox",
    *,
    rows: int = 300,
    db_url: str | None = None,
) -> Lab:
    """Start everything, appending to ``stop`` what undoes each step (run it in reverse order,
    also when this raises half-way). The demo world has ``rows`` rows a dataset; the platform's
    database is ``db_url`` (an empty, migrated one) or a new SQLite file in ``lab_home``."""
    if spawner not in SPAWNERS:
        raise ValueError(f"unknown spawner {spawner!r}")
    db_url = db_url or f"sqlite:///{lab_home / 'platform.sqlite'}"
    db = Database(db_url)
    stop.append(db.dispose)
    init_home(lab_home, db)
    world.build(lab_home, db, rows=rows)
    secrets = {
        u: v["totp_secret"]
        for u, v in json.loads((lab_home / world.LOGINS_FILE).read_text()).items()
    }
    # A colleague's home and the other tenant's shared folder, with something to steal.
    alice_tenant, bob_tenant = (f"tenant-{t['uscc'].lower()}" for t in world.TENANTS[:2])
    colleague = lab_home / "workspaces" / alice_tenant / "home" / "carol"
    other_shared = lab_home / "workspaces" / bob_tenant / "shared"
    for folder in (colleague, other_shared):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "secret.txt").write_text("not yours")
    with db.session() as s:
        from sqlalchemy import select

        from hub.db.models import Tenant

        ids = {t.group: t.id for t in s.scalars(select(Tenant))}
    tenants = {"alice": (ids[alice_tenant], alice_tenant), "bob": (ids[bob_tenant], bob_tenant)}
    hub_env = {"SHUYU_SPAWNER": spawner}
    if spawner == "tenant-docker":
        hub_env, links = start_docker(tenants, stop)
    else:
        links = {user: tenant_link(tenant_id) for user, (tenant_id, _) in tenants.items()}
    decoy_port = free_port()
    decoy = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(decoy_port), "--bind", "0.0.0.0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stop.append(decoy.kill)
    stop.append(stop_outside)
    outside_port, outside = start_outside()
    stop.append(outside.kill)
    hub = HubProcess(lab_home, db_url)
    hub.env.update(hub_env)
    stop.append(hub.stop)
    hub.start()
    browsers, tokens = {}, {}
    for user in ("alice", "bob"):
        b = Browser(hub.url)
        assert b.login(user, world.PASSWORD, pyotp.TOTP(secrets[user]).now()).status_code == 302
        b.start_server(user)
        browsers[user], tokens[user] = b, user_token(b, hub.url, user)
    kernel = Kernel(browsers["alice"], "alice")
    lab = Lab(
        spawner=spawner,
        hub=hub,
        db=db,
        home=lab_home,
        kernel=kernel,
        tokens=tokens,
        browsers=browsers,
        links=links,
        targets=proxy_targets(lab_home, hub),
        decoy_port=decoy_port,
        outside_port=outside_port,
    )
    lab.values = {
        "home": str(lab_home),
        "raw": str(lab_home / "domain" / "raw" / "medical_visits.parquet"),
        "colleague": str(colleague),
        "other_shared": str(other_shared),
        "config": str(Path(__file__).resolve().parents[2] / "jupyterhub_config.py"),
        "hub_pid": hub.proc.pid,
        "host_ip": links["alice"].host_ip,
        "ns_if": links["alice"].ns_if,
        "hub_port": int(hub.env["SHUYU_HUB_PORT"]),
        "gateway_port": int(hub.env["SHUYU_GATEWAY_PORT"]),
        "proxy_api_port": int(hub.env["SHUYU_PROXY_API_PORT"]),
        "proxy_port": hub.port,
        "decoy_port": decoy_port,
        "outside_ip": OUTSIDE_IP,
        "outside_port": outside_port,
        "bob_target": lab.targets["bob"],
    }
    return lab
