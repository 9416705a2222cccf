"""The Docker rendering of the workspace policy: as data, then against a real private engine.

The integration half runs tenant containers on a private dockerd (``tests/docker_engine.py``) and
checks each protection from inside the container, where it matters, not from its configuration.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import docker
import pytest
from docker.types import HostConfig

from spawner import seccomp, volumes
from spawner.docker import (
    NO_RESOLVER,
    TenantDockerSpawner,
    bridge_name,
    container_env,
    container_spec,
    network_bridge,
    network_gateway,
    network_name,
    nft_rules,
    nft_table,
    prepare_folders,
    seccomp_profile,
    subnet_gateway,
    tenant_network_spec,
    tenant_subnet,
)
from spawner.folders import Quotas, workspace_volumes
from spawner.policy import (
    SANDBOX_HOME,
    SANDBOX_SHARED,
    Endpoint,
    Limits,
    Mount,
    Workspace,
    allowed_ports,
    build_workspace,
)
from tests import docker_engine as de

MiB = 1024**2
SECRETS = {
    "JUPYTERHUB_CRYPT_KEY": "crypt-key-secret",
    "JUPYTERHUB_COOKIE_SECRET": "cookie-secret",
    "JUPYTERHUB_DB_URL": "sqlite:///hub-secret.sqlite",
    "CONFIGPROXY_AUTH_TOKEN": "proxy-secret",
    "SHUYU_DB_URL": "postgresql://shuyu:secret@db/shuyu",
    "SHUYU_HOME": "/srv/shuyu-secret",
    "AWS_SECRET_ACCESS_KEY": "aws-secret",
}
HUB_ENV = {
    **SECRETS,
    "JUPYTERHUB_API_TOKEN": "token-of-alice",
    "JUPYTERHUB_USER": "alice",
    "JUPYTERHUB_API_URL": "http://127.0.0.1:8081/hub/api",
    "JUPYTERHUB_ACTIVITY_URL": "http://127.0.0.1:8081/hub/api/users/alice/activity",
    "PATH": "/root/.pyenv/shims:/usr/bin",
}


WS = build_workspace(
    tenant="tenant-91330106ma2h0a1b2t",
    tenant_id=7,
    username="alice",
    workspaces_root="/srv/workspaces",
    system_paths=("/usr",),
    hub_env=HUB_ENV,
    hub=Endpoint("hub", "10.213.1.1", 8081),
    gateway=Endpoint("gateway", "10.213.1.1", 8090),
    limits=Limits(memory_bytes=512 * MiB, cpus=1.5, pids=128),
)
SPEC = container_spec(WS, "shuyu/workspace:1", "shuyu-tenant-91330106ma2h0a1b2t", ["start"])
HOST = SPEC["host_config"]


# --- container_spec as data ------------------------------------------------------------------------


def test_when_spec_is_rendered_then_every_capability_is_dropped():
    assert HOST["cap_drop"] == ["ALL"]
    assert "cap_add" not in HOST


def test_when_spec_is_rendered_then_no_new_privileges_can_be_gained():
    assert HOST["security_opt"] == ["no-new-privileges:true", "seccomp=" + seccomp_profile()]


def test_when_spec_is_rendered_then_the_sandboxs_seccomp_filter_is_docker_profile():
    profile = json.loads(seccomp_profile())
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO" and profile["defaultErrnoRet"] == 1
    rules = profile["syscalls"]
    allowed = {n for r in rules if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    assert not allowed & set(seccomp.DENIED)
    assert {"ptrace", "unshare", "setns", "mount", "vmsplice"}.isdisjoint(allowed)
    clone = [r for r in rules if r["names"] == ["clone"]]
    assert clone[0]["args"] == [
        {"index": 0, "value": seccomp.NAMESPACE_MASK, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
    ]
    assert {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38} in rules


def test_when_spec_is_rendered_then_dockers_init_is_off_for_the_workspaces_own():
    """Docker's init would hold the server's environment (its signing key) in a dumpable pid 1;
    the command starts with kernels.reaper instead (see the production image's layout test)."""
    assert HOST["init"] is False


def test_when_spec_is_rendered_then_the_root_filesystem_is_read_only():
    assert HOST["read_only"] is True


def test_when_spec_is_rendered_then_it_runs_as_the_tenant_uid_and_gid():
    assert SPEC["user"] == f"{WS.uid}:{WS.uid}"
    assert WS.uid == 200_007


def test_when_spec_is_rendered_then_the_limits_are_the_policys():
    assert HOST["mem_limit"] == 512 * MiB
    assert HOST["memswap_limit"] == 512 * MiB  # no swap on top of memory
    assert HOST["nano_cpus"] == 1_500_000_000
    assert HOST["pids_limit"] == 128


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("privileged", False),
        ("network_mode", "shuyu-tenant-91330106ma2h0a1b2t"),
        ("ipc_mode", "private"),
        ("pid_mode", None),
        ("userns_mode", None),
        ("uts_mode", None),
        ("port_bindings", {}),
        ("publish_all_ports", False),
        ("devices", None),
        ("volumes_from", None),
        ("cap_add", None),
    ],
)
def test_when_spec_is_rendered_then_nothing_of_the_host_is_shared(key, expected):
    assert HOST.get(key) == expected


def test_when_spec_is_rendered_then_home_and_shared_are_the_only_writable_binds():
    assert HOST["binds"] == {
        "/usr": {"bind": "/usr", "mode": "ro"},
        WS.home: {"bind": SANDBOX_HOME, "mode": "rw"},
        WS.shared: {"bind": SANDBOX_SHARED, "mode": "rw"},
        "/dev/null": {"bind": "/etc/resolv.conf", "mode": "ro"},  # no resolver, as in the sandbox
    }
    assert WS.home == "/srv/workspaces/tenant-91330106ma2h0a1b2t/home/alice"


def test_when_spec_is_rendered_then_tmp_is_a_sticky_size_limited_tmpfs_and_sys_an_empty_one():
    assert HOST["tmpfs"] == {
        "/tmp": f"rw,nosuid,nodev,mode=1777,size={256 * MiB}",  # the policy's default
        "/sys": "ro,nosuid,nodev,noexec,size=4k,mode=0555",
    }


def test_when_spec_is_rendered_then_the_server_starts_in_home_with_the_given_image_and_cmd():
    assert (SPEC["image"], SPEC["command"], SPEC["working_dir"]) == (
        "shuyu/workspace:1",
        ["start"],
        SANDBOX_HOME,
    )
    assert SPEC["labels"]["org.shuyu.tenant"] == WS.tenant


def test_when_spec_is_rendered_then_docker_py_accepts_the_host_config():
    config = HostConfig(version="1.41", **HOST)
    assert config["ReadonlyRootfs"] is True
    assert config["CapDrop"] == ["ALL"]
    assert config["PidsLimit"] == 128
    assert config["NetworkMode"] == "shuyu-tenant-91330106ma2h0a1b2t"


def test_when_a_mount_kind_is_unknown_then_rendering_refuses():
    ws = replace(WS, mounts=(*WS.mounts, Mount("/dev/kvm", "/dev/kvm", False, "device")))
    with pytest.raises(ValueError, match="unknown mount kind"):
        container_spec(ws, "img", "net", [])


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_when_hub_env_holds_a_secret_then_it_never_reaches_the_container(secret):
    assert secret not in SPEC["environment"]
    assert secret not in container_env(WS, HUB_ENV)
    assert SECRETS[secret] not in json.dumps(SPEC) + json.dumps(container_env(WS, HUB_ENV))


def test_when_env_is_refreshed_then_the_spawns_token_and_the_tenants_urls_are_used():
    env = container_env(WS, {**HUB_ENV, "JUPYTERHUB_API_TOKEN": "fresh-token"})
    assert env["JUPYTERHUB_API_TOKEN"] == "fresh-token"
    assert env["JUPYTERHUB_API_URL"] == "http://10.213.1.1:8081/hub/api"
    assert env["JUPYTERHUB_ACTIVITY_URL"] == "http://10.213.1.1:8081/hub/api/users/alice/activity"
    assert env["SHUYU_GATEWAY_URL"] == "http://10.213.1.1:8090"
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"


# --- tenant network and host firewall as data ------------------------------------------------------


def test_when_tenant_network_is_rendered_then_it_is_internal_without_masquerade_or_icc():
    spec = tenant_network_spec("tenant-91330106ma2h0a1b2t")
    assert spec["internal"] is True and spec["driver"] == "bridge"
    assert spec["options"]["com.docker.network.bridge.enable_icc"] == "false"
    assert spec["options"]["com.docker.network.bridge.enable_ip_masquerade"] == "false"
    assert spec["labels"]["org.shuyu.tenant"] == "tenant-91330106ma2h0a1b2t"
    assert "ipam" not in spec


def test_when_a_subnet_is_given_then_the_network_uses_it():
    spec = tenant_network_spec("tenant-a", subnet="10.213.7.0/24")
    assert spec["ipam"] == {
        "Driver": "default",
        "Config": [{"Subnet": "10.213.7.0/24", "Gateway": "10.213.7.1"}],
    }


@pytest.mark.parametrize(
    ("config", "gateway"),
    [
        ([{"Subnet": "10.213.7.0/24", "Gateway": "10.213.7.254"}], "10.213.7.254"),
        ([{"Subnet": "10.213.7.0/24"}], "10.213.7.1"),
    ],
)
def test_when_a_network_is_inspected_then_the_hosts_address_on_it_is_found(config, gateway):
    assert network_gateway({"Name": "n", "IPAM": {"Config": config}}) == gateway


@pytest.mark.parametrize(
    ("net", "iface"),
    [
        ({"Id": "f" * 64, "Options": {"com.docker.network.bridge.name": "shy-1"}}, "shy-1"),
        ({"Id": "0123456789abcdef" * 4, "Options": {}}, "br-0123456789ab"),
    ],
)
def test_when_a_network_is_inspected_then_its_bridge_interface_is_found(net, iface):
    assert network_bridge(net) == iface


def test_when_a_network_has_no_address_then_no_gateway_is_made_up():
    with pytest.raises(ValueError):
        network_gateway({"Name": "n", "IPAM": {"Config": []}})


@pytest.mark.parametrize(
    "tenant", ["tenant-91330106ma2h0a1b2t", "Tenant_A.b", "x", "tenant-" + "9" * 60]
)
def test_when_tenant_network_is_named_then_docker_and_the_kernel_accept_the_names(tenant):
    assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", network_name(tenant))
    assert re.fullmatch(r"[a-z0-9-]{1,15}", bridge_name(tenant))
    assert tenant_network_spec(tenant)["options"]["com.docker.network.bridge.name"] == (
        bridge_name(tenant)
    )


@pytest.mark.parametrize("tenant", ["", "---", "租户"])
def test_when_tenant_name_gives_no_docker_name_then_naming_refuses(tenant):
    with pytest.raises(ValueError):
        network_name(tenant)


def test_when_tenants_differ_then_their_networks_and_bridges_differ():
    assert network_name("tenant-a") != network_name("tenant-b")
    assert bridge_name("tenant-a") != bridge_name("tenant-b")


@pytest.mark.parametrize(
    ("pool", "tenant_id", "prefix", "subnet"),
    [
        ("10.213.0.0/17", 1, 24, "10.213.0.0/24"),
        ("10.213.0.0/17", 2, 24, "10.213.1.0/24"),
        ("10.213.0.0/17", 128, 24, "10.213.127.0/24"),
        ("10.213.0.0/16", 5, 28, "10.213.0.64/28"),
    ],
)
def test_when_a_tenant_subnet_is_derived_then_it_is_the_tenants_slice_of_the_pool(
    pool, tenant_id, prefix, subnet
):
    assert tenant_subnet(pool, tenant_id, prefix) == subnet
    assert tenant_network_spec("t", subnet=subnet)["ipam"]["Config"][0]["Gateway"] == (
        subnet_gateway(subnet)
    )


@pytest.mark.parametrize(
    ("pool", "tenant_id", "prefix"),
    [
        ("10.213.0.0/17", 0, 24),
        ("10.213.0.0/17", 129, 24),
        ("10.213.0.0/24", 1, 16),
        ("10.213.0.0/17", 1, 31),
        ("fd00::/64", 1, 80),
    ],
)
def test_when_a_tenant_has_no_subnet_in_the_pool_then_none_is_made_up(pool, tenant_id, prefix):
    with pytest.raises(ValueError):
        tenant_subnet(pool, tenant_id, prefix)


def test_when_tenants_differ_then_their_subnets_do_not_overlap():
    nets = [ipaddress.ip_network(tenant_subnet("10.213.0.0/17", i)) for i in range(1, 129)]
    assert all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])


RULES = nft_rules("shy-0123456789", "10.213.1.1", (8090, 8081, 8081))


def _chain(rules: str, name: str) -> list[str]:
    body = rules.split(f"chain {name} {{", 1)[1].split("\n\t}", 1)[0]
    return [line.strip() for line in body.strip().splitlines()]


def test_when_rules_are_rendered_then_only_allowed_ports_on_the_host_ip_are_accepted():
    accepts = [r for r in _chain(RULES, "input") if r.endswith("accept")]
    assert accepts == [
        'iifname "shy-0123456789" ct state established,related accept',
        'iifname "shy-0123456789" ip daddr 10.213.1.1 tcp dport { 8081, 8090 } ct state new accept',
    ]


@pytest.mark.parametrize("chain", ["input", "forward"])
def test_when_rules_are_rendered_then_everything_else_from_the_bridge_is_counted_and_dropped(chain):
    rules = _chain(RULES, chain)
    assert rules[0] == f"type filter hook {chain} priority filter; policy accept;"
    assert 'iifname "shy-0123456789" counter drop' in rules
    last_from_bridge = max(i for i, r in enumerate(rules) if r.startswith('iifname "shy-'))
    assert rules[last_from_bridge] == 'iifname "shy-0123456789" counter drop'


def test_when_rules_are_rendered_then_nothing_is_routed_into_the_bridge():
    assert _chain(RULES, "forward") == [
        "type filter hook forward priority filter; policy accept;",
        'iifname "shy-0123456789" ct state established,related accept',
        'iifname "shy-0123456789" counter drop',
        'oifname "shy-0123456789" counter drop',
    ]


def test_when_rules_are_applied_again_then_the_table_is_replaced_not_added_to():
    table = nft_table("shy-0123456789")
    assert table == "shuyu_shy_0123456789"
    assert RULES.splitlines()[:3] == [
        f"table inet {table}",
        f"delete table inet {table}",
        f"table inet {table} {{",
    ]


def test_when_the_host_ip_is_ipv6_then_the_rule_matches_ip6():
    assert "ip6 daddr fd00::1 tcp dport { 8081 } ct state new accept" in nft_rules(
        "shy-a", "fd00::1", (8081,)
    )


def test_when_no_port_is_allowed_then_nothing_but_replies_is_accepted():
    rules = _chain(nft_rules("shy-a", "10.0.0.1", ()), "input")
    assert [r for r in rules if "dport" in r] == []


@pytest.mark.parametrize(
    ("iface", "host_ip", "ports"),
    [
        ('shy-a" accept', "10.0.0.1", (1,)),
        ("shy a", "10.0.0.1", (1,)),
        ("a" * 16, "10.0.0.1", (1,)),
        ("shy-a", "10.0.0.1; flush ruleset", (1,)),
        ("shy-a", "10.0.0.1", (0,)),
        ("shy-a", "10.0.0.1", (65536,)),
        ("shy-a", "10.0.0.1", ("80",)),
    ],
)
def test_when_rule_inputs_are_malformed_then_rendering_refuses(iface, host_ip, ports):
    with pytest.raises(ValueError):
        nft_rules(iface, host_ip, ports)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="needs root and nft")
def test_when_rules_are_rendered_then_nft_accepts_them():
    check = subprocess.run(["nft", "-c", "-f", "-"], input=RULES, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


# --- TenantDockerSpawner without an engine ----------------------------------------------------------


def _spawner(ws: Workspace | None = WS, **kw) -> TenantDockerSpawner:
    from jupyterhub.objects import Hub

    user = SimpleNamespace(name="alice", escaped_name="alice", url="/user/alice/")
    kw.setdefault("image", "shuyu/workspace:1")
    return TenantDockerSpawner(
        user=user,
        hub=Hub(ip="127.0.0.1", port=8081, base_url="/hub/"),
        api_token="token-of-this-spawn",
        workspace_factory=(lambda spawner: ws),
        **kw,
    )


def test_when_workspace_is_applied_then_dockerspawners_traits_follow_the_policy():
    spawner = _spawner(mem_limit="8G", cpu_limit=4.0)
    spawner.apply_workspace(WS)
    assert spawner.network_name == network_name(WS.tenant)
    assert spawner.use_internal_ip and spawner.remove and spawner.port == WS.port
    assert spawner.volumes == {
        WS.home: {"bind": SANDBOX_HOME, "mode": "rw"},
        WS.shared: {"bind": SANDBOX_SHARED, "mode": "rw"},
    }
    assert spawner.read_only_volumes == {"/usr": "/usr", "/dev/null": "/etc/resolv.conf"}
    # Kept for the factory's next start; create_object leaves them out (see the engine test).
    assert spawner.mem_limit == 8 * 1024**3 and spawner.cpu_limit == 4.0
    assert spawner.extra_host_config == {k: v for k, v in HOST.items() if k != "binds"}
    assert spawner.extra_create_kwargs == {
        "user": SPEC["user"],
        "working_dir": SANDBOX_HOME,
        "labels": SPEC["labels"],
    }


def test_when_the_admin_configures_secrets_into_the_environment_then_the_policy_filters_them():
    spawner = _spawner(environment=dict(SECRETS))
    spawner.apply_workspace(WS)
    env = spawner.get_env()
    assert not set(SECRETS) & set(env)
    assert env["JUPYTERHUB_API_TOKEN"] == "token-of-this-spawn"
    assert env["JUPYTERHUB_API_URL"] == "http://10.213.1.1:8081/hub/api"


def test_when_no_workspace_was_applied_then_the_environment_is_refused():
    with pytest.raises(RuntimeError, match="no workspace"):
        _spawner().get_env()


def test_when_a_subnet_pool_is_set_then_the_spawner_knows_each_tenants_gateway_in_advance():
    spawner = _spawner(subnet_pool="10.213.0.0/17")
    assert spawner.subnet_of(7) == "10.213.6.0/24"
    assert spawner.gateway_of(7) == "10.213.6.1"
    assert _spawner().subnet_of(7) is None  # Docker picks; nobody knows the gateway in advance
    with pytest.raises(RuntimeError, match="subnet_pool"):
        _spawner().gateway_of(7)


def test_when_the_subnet_pool_is_not_a_network_then_the_config_is_refused():
    with pytest.raises(ValueError):
        _spawner(subnet_pool="10.213.0.0/33")


def test_when_folders_are_prepared_then_home_and_shared_belong_to_the_tenant(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    ws = build_workspace(
        tenant="tenant-a",
        tenant_id=7,
        username="alice",
        workspaces_root=str(tmp_path),
        system_paths=(),
        hub_env={},
        hub=Endpoint("hub", "10.213.6.1", 8081),
        gateway=Endpoint("gateway", "10.213.6.1", 8090),
        limits=LIMITS,
    )
    prepare_folders(ws)
    prepare_folders(ws)  # again: nothing changes
    for path, mode in ((ws.home, 0o700), (ws.shared, 0o770)):
        st = os.stat(path)
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (ws.uid, ws.uid, mode)


def test_when_the_factory_decides_then_endpoints_are_on_the_tenants_gateway(tmp_path, monkeypatch):
    from spawner import docker_factory

    factory = docker_factory.workspace_factory(
        tenant_lookup=lambda user: (7, "tenant-a"),
        workspaces_root=str(tmp_path),
        hub_port=8081,
        gateway_port=8090,
        system_paths=("/usr",),
        env={"JUPYTER_CONFIG_PATH": "/srv/jupyter_config"},
    )
    spawner = _spawner(subnet_pool="10.213.0.0/17", mem_limit="1G", cpu_limit=0.5, pids_limit=99)
    ws = factory(spawner)
    assert [(e.name, e.host, e.port) for e in ws.endpoints] == [
        ("hub", "10.213.6.1", 8081),
        ("gateway", "10.213.6.1", 8090),
    ]
    assert ws.limits == Limits(memory_bytes=1024**3, cpus=0.5, pids=99)
    assert (ws.tenant, ws.uid, ws.port) == ("tenant-a", 200_007, 8888)
    spawner.apply_workspace(ws)
    env = spawner.get_env()
    assert env["JUPYTER_CONFIG_PATH"] == "/srv/jupyter_config"
    assert env["JUPYTERHUB_API_URL"] == "http://10.213.6.1:8081/hub/api"
    assert env["SHUYU_GATEWAY_URL"] == "http://10.213.6.1:8090"
    assert env["JUPYTERHUB_API_TOKEN"] == "token-of-this-spawn"


def test_when_tmp_has_a_size_in_the_policy_then_the_tmpfs_has_that_size():
    ws = replace(WS, limits=replace(WS.limits, tmp_bytes=64 * MiB))
    ws = replace(
        ws, mounts=tuple(replace(m, size=64 * MiB) if m.kind == "tmpfs" else m for m in ws.mounts)
    )
    assert container_spec(ws, "img", "net", [])["host_config"]["tmpfs"]["/tmp"].endswith(
        f"size={64 * MiB}"
    )


def test_when_the_tmp_quota_is_configured_then_the_factory_puts_it_in_the_policy(tmp_path):
    from spawner import docker_factory

    factory = docker_factory.workspace_factory(
        tenant_lookup=lambda user: (7, "tenant-a"), workspaces_root=str(tmp_path),
        hub_port=8081, gateway_port=8090, system_paths=("/usr",),
    )  # fmt: skip
    ws = factory(_spawner(subnet_pool="10.213.0.0/17", tmp_quota=32 * MiB))
    assert [m.size for m in ws.mounts if m.target == "/tmp"] == [32 * MiB]
    spec = container_spec(ws, "img", "net", [])
    assert spec["host_config"]["tmpfs"]["/tmp"] == f"rw,nosuid,nodev,mode=1777,size={32 * MiB}"


def test_when_quotas_are_on_without_a_volumes_root_then_the_spawner_refuses_plain_folders():
    with pytest.raises(RuntimeError, match="volumes_root"):
        _spawner().quotas()
    assert _spawner(home_quota=0, shared_quota=0).quotas() is None  # off, explicitly
    quotas = _spawner(volumes_root="/srv/volumes", home_quota=MiB << 4).quotas()
    assert quotas == Quotas(Path("/srv/volumes"), 16 * MiB, 2 * 1024**3)


async def test_when_a_server_stops_then_only_volumes_no_container_binds_are_unmounted(tmp_path):
    """Who uses a volume is asked of Docker (containers outlive a hub restart): alice's home goes
    with her last container, the tenant's shared folder stays while a colleague's binds it."""
    if os.geteuid() != 0:
        pytest.skip("mounts need root")
    ws = build_workspace(
        tenant="tenant-a", tenant_id=7, username="alice", workspaces_root=str(tmp_path / "ws"),
        system_paths=(), hub_env={}, hub=Endpoint("hub", "10.213.6.1", 8081),
        gateway=Endpoint("gateway", "10.213.6.1", 8090), limits=LIMITS,
    )  # fmt: skip
    spawner = _spawner(ws, volumes_root=str(tmp_path / "volumes"), home_quota=volumes.MIN_BYTES,
                       shared_quota=volumes.MIN_BYTES)  # fmt: skip
    asked = []

    async def docker(method, *args, **kwargs):  # the engine: a colleague still runs
        asked.append((method, kwargs["filters"]["label"]))
        return [{"Id": "carol"}] if len(kwargs["filters"]["label"]) == 1 else []

    spawner.docker = docker
    try:
        prepare_folders(ws, spawner.quotas())
        home, shared = workspace_volumes(ws, spawner.quotas())
        assert volumes.is_mounted(home.mountpoint) and volumes.is_mounted(shared.mountpoint)
        await spawner._release_folders(ws)
        assert not volumes.is_mounted(home.mountpoint) and volumes.is_mounted(shared.mountpoint)
        assert asked == [
            ("containers", ["org.shuyu.tenant=tenant-a", "org.shuyu.username=alice"]),
            ("containers", ["org.shuyu.tenant=tenant-a"]),
        ]
    finally:
        for point in volumes.mounted_under(tmp_path):
            volumes.unmount(point)


async def test_when_no_workspace_factory_is_configured_then_start_refuses():
    spawner = _spawner()
    spawner.workspace_factory = None
    with pytest.raises(RuntimeError, match="workspace_factory"):
        await spawner.start()


async def test_when_the_factory_returns_no_workspace_then_start_refuses():
    with pytest.raises(TypeError, match="not a Workspace"):
        await _spawner(ws={"tenant": "x"}).start()


# --- against a real private Docker engine -----------------------------------------------------------

SERVER = """
import signal, socket, sys
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # pid 1 has no default handler
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept(); c.sendall(sys.argv[2].encode()); c.close()
"""

PROBE = """
import json, socket, sys
from concurrent.futures import ThreadPoolExecutor
def probe(target):
    try:
        with socket.create_connection(tuple(target), timeout=1.5) as c:
            c.settimeout(1.5)
            return c.recv(64).decode() or "closed"
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError:
        return "timeout"
    except OSError as e:
        return "error:%s" % e.errno
targets = json.loads(sys.argv[1])
with ThreadPoolExecutor(len(targets)) as pool:
    print(json.dumps(list(pool.map(probe, targets))))
"""

PYTHON = str(Path(sys.prefix) / "bin" / "python")
INIT = [PYTHON, "-I", "-S", str(Path(__file__).resolve().parents[1] / "kernels" / "reaper.py")]
LIMITS = Limits(memory_bytes=256 * MiB, cpus=1.0, pids=64, tmp_bytes=32 * MiB)
QUOTA = 16 * MiB  # each tenant's home and shared folder, in the engine tests


@pytest.fixture(scope="module")
def engine() -> Iterator[de.Engine]:
    """One private dockerd for the module; skipped, with the reason, where none can run."""
    for tool in ("ip", "nft"):
        if not shutil.which(tool):
            _skip(f"`{tool}` is not installed")
    try:
        eng = de.start_engine()
    except de.Unavailable as e:
        _skip(f"no Docker engine here: {e}")
    try:
        yield eng
    finally:
        problems = eng.stop()
        assert not problems, problems


def _skip(reason: str) -> None:
    print(f"SKIP: {reason}", file=sys.stderr)
    pytest.skip(reason)


@dataclass
class Tenant:
    """A running tenant: its network, firewall, server container and host-side listeners."""

    ws: Workspace
    bridge: str
    gateway: str
    subnet: str
    container: docker.models.containers.Container
    ip: str
    marker: str
    allowed: list[de.Listener]
    denied: de.Listener
    volumes: tuple[volumes.Volume, volumes.Volume]  # the home's and the shared folder's


@dataclass
class World:
    """Two tenants side by side and a simulated outside world, shared by the module's tests."""

    engine: de.Engine
    image: str
    a: Tenant
    b: Tenant
    outside: de.Outside
    outside_listener: de.Listener


def run_workspace(eng: de.Engine, ws: Workspace, image: str, cmd: list[str]):
    """Create and start a container from ``container_spec`` (as the spawner would)."""
    spec = container_spec(ws, image, network_name(ws.tenant), cmd)
    host_config = eng.client.api.create_host_config(**spec.pop("host_config"))
    name = f"ws-{ws.username}-{uuid.uuid4().hex[:6]}"
    created = eng.client.api.create_container(**spec, host_config=host_config, name=name)
    eng.client.api.start(created["Id"])
    return eng.client.containers.get(created["Id"])


def _wait_for(ip: str, port: int, marker: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection((ip, port), timeout=1) as c:
            if c.recv(64).decode() == marker:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{ip}:{port} did not answer {marker!r}")
        time.sleep(0.1)


def _start_tenant(
    stack: contextlib.ExitStack, eng: de.Engine, image: str, root: Path, tag: str, n: int
) -> Tenant:
    tenant = f"tenant-t{tag}{n}"
    subnet = eng.subnet(n)
    net = eng.create_network(tenant_network_spec(tenant, subnet=subnet))
    gateway = network_gateway(net)
    bridge = bridge_name(tenant)
    hub = stack.enter_context(de.host_listener(gateway, b"hub"))
    gw = stack.enter_context(de.host_listener(gateway, b"gateway"))
    denied = stack.enter_context(de.host_listener(gateway, b"database"))
    ws = build_workspace(
        tenant=tenant,
        tenant_id=900 + n,
        username="alice",
        workspaces_root=str(root),
        system_paths=de.host_python_paths(),
        hub_env=HUB_ENV,
        hub=Endpoint("hub", gateway, hub.port),
        gateway=Endpoint("gateway", gateway, gw.port),
        limits=LIMITS,
    )
    # Homes and shared folders on volumes of their own, mounted on the host and bound in, as the
    # spawner does; unmounted after the container is gone (the stack unwinds in reverse).
    quotas = Quotas(root / "volumes", QUOTA, QUOTA)
    for point in prepare_folders(ws, quotas):
        stack.callback(volumes.unmount, point)
    de.nft_apply(nft_rules(bridge, gateway, allowed_ports(ws)))
    stack.callback(de.nft_delete_table, nft_table(bridge))
    marker = f"server-of-{tenant}"
    container = run_workspace(eng, ws, image, [*INIT, PYTHON, "-c", SERVER, str(ws.port), marker])
    stack.callback(_remove_container, container)
    container.reload()
    ip = container.attrs["NetworkSettings"]["Networks"][network_name(tenant)]["IPAddress"]
    _wait_for(ip, ws.port, marker)
    return Tenant(
        ws, bridge, gateway, subnet, container, ip, marker, [hub, gw], denied,
        workspace_volumes(ws, quotas),
    )  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _remove_container(container) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        container.remove(force=True)


@pytest.fixture(scope="module")
def world(engine: de.Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Tenants A and B each on an internal network behind ``nft_rules``, both bridges forwarding.

    Forwarding is switched on for the test's own interfaces so that "unreachable" can only mean
    "dropped by the firewall", never "the host does not route".
    """
    root = tmp_path_factory.mktemp("workspaces")
    os.chmod(root, 0o755)
    tag = engine.tag[:5]
    with contextlib.ExitStack() as stack:
        image = de.build_workspace_image(
            engine.client,
            {"tenant-a": 200_901, "tenant-b": 200_902},
            de.host_python_paths(),
        )
        a = _start_tenant(stack, engine, image, root, tag, 1)
        b = _start_tenant(stack, engine, image, root, tag, 2)
        outside = stack.enter_context(de.outside_namespace([a.subnet, b.subnet]))
        listener = stack.enter_context(de.netns_listener(outside.netns, outside.ns_ip, b"world"))
        stack.enter_context(de.forwarding([a.bridge, b.bridge, outside.host_iface]))
        yield World(engine, image, a, b, outside, listener)


def sh(container, *cmd: str) -> tuple[int, str]:
    code, out = container.exec_run(list(cmd))
    return code, out.decode(errors="replace")


def probe(container, *targets: tuple[str, int]) -> list[str]:
    code, out = sh(container, PYTHON, "-c", PROBE, json.dumps(targets))
    assert code == 0, out
    return json.loads(out)


def test_when_workspace_runs_then_it_is_the_tenant_uid_and_nothing_more(world):
    code, out = sh(world.a.container, "id")
    assert code == 0
    assert out.strip() == "uid=200901(tenant-a) gid=200901(tenant-a) groups=200901(tenant-a)"


@pytest.mark.parametrize("path", ["/probe", "/usr/probe", "/etc/probe", "/var/tmp/probe"])
def test_when_workspace_writes_outside_its_folders_then_the_filesystem_refuses(world, path):
    code, out = sh(world.a.container, "touch", path)
    assert code != 0
    assert "Read-only file system" in out


def test_when_workspace_reads_its_status_then_it_has_no_capabilities_and_no_new_privileges(world):
    code, out = sh(world.a.container, "cat", "/proc/self/status")
    status = dict(line.split(":\t", 1) for line in out.splitlines() if ":\t" in line)
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[cap], 16) == 0, cap
    assert status["NoNewPrivs"].strip() == "1"


@pytest.mark.parametrize("folder", [SANDBOX_HOME, SANDBOX_SHARED, "/tmp"])
def test_when_workspace_writes_its_own_folders_then_it_succeeds(world, folder):
    code, out = sh(world.a.container, "sh", "-c", f"echo hi > {folder}/note && cat {folder}/note")
    assert (code, out) == (0, "hi\n")


def test_when_workspace_writes_home_then_the_host_sees_a_file_of_the_tenant_uid(world):
    sh(world.a.container, "sh", "-c", f"echo saved > {SANDBOX_HOME}/kept.txt")
    kept = Path(world.a.ws.home, "kept.txt")
    assert kept.read_text() == "saved\n"
    assert kept.stat().st_uid == world.a.ws.uid


FILL = """
import errno, json, os, sys
folder, total = sys.argv[1], int(sys.argv[2])
written, outcome = 0, "no limit"
try:
    for i in range(total >> 20):
        with open(f"{folder}/fill{i}.bin", "wb") as f:
            f.write(b"x" * (1 << 20))  # 1 MiB a file: no single file is large
            f.flush()
            os.fsync(f.fileno())
        written += 1 << 20
except OSError as e:
    outcome = errno.errorcode[e.errno]
for name in os.listdir(folder):
    if name.startswith("fill"):
        os.unlink(os.path.join(folder, name))
print(json.dumps([outcome, written]))
"""


@pytest.mark.parametrize("index, folder", [(0, SANDBOX_HOME), (1, SANDBOX_SHARED)])
def test_when_workspace_writes_past_its_quota_then_enospc_and_the_hosts_disk_is_untouched(
    world, index, folder
):
    """Sixteen times the quota asked for, from inside the container: the volume's file system
    ends it with ENOSPC; its image, allocated in full when made, does not grow on the host
    (but for the host file system's extent bookkeeping)."""
    volume = world.a.volumes[index]
    allocated = os.stat(volume.image).st_blocks
    disk = os.statvfs(volume.image.parent)
    free = disk.f_bavail * disk.f_frsize
    code, out = sh(world.a.container, PYTHON, "-c", FILL, folder, str(16 * QUOTA))
    assert code == 0, out
    outcome, written = json.loads(out)
    assert outcome == "ENOSPC" and 0 < written <= QUOTA, out
    os.sync()
    # Allocated in full when made: what the host's disk gives is the image's data blocks, plus at
    # most the host file system's own extent bookkeeping (4 KiB measured) as written parts of the
    # image stop being "unwritten" extents; never the 16 x quota asked for.
    assert (os.stat(volume.image).st_blocks - allocated) * 512 <= 64 << 10
    disk = os.statvfs(volume.image.parent)
    assert free - disk.f_bavail * disk.f_frsize < 8 * QUOTA  # other writers on the host aside
    code, out = sh(world.a.container, "stat", "-f", "-c", "%T %b %S", folder)
    fs, blocks, block_size = out.split()
    assert fs == "ext2/ext3" and int(blocks) * int(block_size) <= QUOTA  # its own file system


def test_when_workspace_fills_tmp_then_enospc_at_the_policys_size(world):
    code, out = sh(world.a.container, PYTHON, "-c", FILL, "/tmp", str(4 * LIMITS.tmp_bytes))
    assert code == 0, out
    outcome, written = json.loads(out)
    assert outcome == "ENOSPC" and 0 < written <= LIMITS.tmp_bytes, out
    assert world.a.container.exec_run(["true"]).exit_code == 0


def test_when_workspace_lists_tmp_then_it_is_a_sticky_tmpfs(world):
    code, out = sh(world.a.container, "stat", "-f", "-c", "%T", "/tmp")
    assert out.strip() == "tmpfs"
    code, out = sh(world.a.container, "stat", "-c", "%a", "/tmp", "/var/tmp")
    assert out.split() == ["1777", "1777"]


def test_when_workspace_reads_its_cgroups_then_the_policy_limits_are_in_force(world):
    # The workspace has no /sys (an empty tmpfs), so its cgroups are read where the kernel keeps
    # them for its pid 1: the same files Docker would have shown inside.
    code, out = sh(world.a.container, "cat", "/proc/1/cgroup")
    assert code == 0, out
    paths = {}
    for line in out.splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            paths[controller] = path
    if set(paths) == {""}:
        pytest.skip("cgroup v2 host: the limits are checked by the v1 file names below")

    def read(controller: str, name: str) -> str:
        return Path("/sys/fs/cgroup", controller, paths[controller].lstrip("/"), name).read_text()

    assert paths["memory"].endswith(world.a.container.id)
    assert int(read("memory", "memory.limit_in_bytes")) == LIMITS.memory_bytes
    assert int(read("pids", "pids.max")) == LIMITS.pids
    quota = int(read("cpu", "cpu.cfs_quota_us"))
    period = int(read("cpu", "cpu.cfs_period_us"))
    assert quota / period == LIMITS.cpus


def test_when_workspace_looks_for_sys_and_a_resolver_then_there_is_neither(world):
    assert sh(world.a.container, "ls", "-A", "/sys") == (0, "")
    assert sh(world.a.container, "cat", "/etc/resolv.conf") == (0, "")
    code, out = sh(world.a.container, "touch", "/sys/probe")
    assert code != 0 and "Read-only file system" in out


def test_when_workspace_traces_or_unshares_then_seccomp_refuses(world):
    code = (
        "import ctypes, os; libc = ctypes.CDLL(None, use_errno=True)\n"
        "for rc in (libc.ptrace(16, 1, 0, 0), libc.ptrace(16, os.getppid(), 0, 0),"
        " libc.unshare(0x10000000), libc.unshare(0x40000000)):\n"
        "    print(rc, ctypes.get_errno())"
    )
    code, out = sh(world.a.container, PYTHON, "-c", code)
    assert out.split() == ["-1", "1"] * 4, out


def test_when_workspace_orphans_processes_then_init_reaps_them(world):
    orphans = (
        "import os, time\n"
        "for _ in range(20):\n"
        "    if os.fork() == 0:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(0.5); os._exit(0)\n"
        "        os._exit(0)\n"
    )
    assert sh(world.a.container, PYTHON, "-c", orphans)[0] == 0
    time.sleep(1.5)
    code, out = sh(world.a.container, "ps", "-eo", "pid=,stat=,args=")
    assert out.split("\n")[0].split()[0] == "1" and "reaper.py" in out.split("\n")[0]
    assert not [line for line in out.splitlines() if line.split()[1].startswith("Z")], out


def test_when_workspace_code_reads_pid_1_then_the_servers_environment_is_closed(world):
    """The workspace's init holds the container's environment (the server's signing key, in
    production): a process of the same uid can read neither its environ nor its memory."""
    code = (
        "import os\n"
        "for what in ('environ', 'mem'):\n"
        "    try:\n"
        "        os.close(os.open(f'/proc/1/{what}', os.O_RDONLY)); print('LEAK', what)\n"
        "    except PermissionError:\n"
        "        print('BLOCKED', what)\n"
        "print(os.getuid(), open('/proc/1/status').read().split('Uid:')[1].split()[0])\n"
    )
    _, out = sh(world.a.container, PYTHON, "-c", code)
    lines = out.split("\n")
    assert lines[:2] == ["BLOCKED environ", "BLOCKED mem"], out
    uid, init_uid = lines[2].split()
    assert uid == init_uid == str(world.a.ws.uid)  # same uid: only dumpability protects it


def test_when_workspace_allocates_beyond_its_memory_then_the_kernel_kills_it(world):
    code, _ = sh(world.a.container, PYTHON, "-c", "b = b'x' * (512 << 20); print(len(b))")
    assert code == 137  # SIGKILL from the cgroup's OOM killer
    assert world.a.container.exec_run(["true"]).exit_code == 0  # the server itself lives on


FORK = """
import json, os, time
kids, errno = [], None
try:
    for _ in range(1000):
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        kids.append(pid)
except OSError as e:
    errno = e.errno
for pid in kids:
    os.kill(pid, 9)
for pid in kids:
    os.waitpid(pid, 0)
print(json.dumps({"forked": len(kids), "errno": errno}))
"""


def test_when_workspace_forks_without_end_then_the_pids_limit_stops_it_and_the_host_is_fine(world):
    code, out = sh(world.a.container, PYTHON, "-c", FORK)
    result = json.loads(out)
    assert result["errno"] == 11  # EAGAIN: the pids cgroup refused the fork
    assert result["forked"] < LIMITS.pids
    assert subprocess.run(["true"]).returncode == 0
    assert world.a.container.exec_run(["true"]).exit_code == 0


def test_when_workspace_reads_its_environment_then_no_hub_secret_is_there(world):
    # The environment the container was created with, as every process started in it gets it
    # (pid 1's own is closed to the workspace uid: see the reaper test below).
    code, out = sh(world.a.container, "cat", "/proc/self/environ")
    env = dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
    assert not set(SECRETS) & set(env)
    assert env["JUPYTERHUB_API_TOKEN"] == "token-of-alice"
    assert env["SHUYU_TENANT"] == world.a.ws.tenant


def test_when_workspace_connects_to_the_allowed_host_ports_then_they_answer(world):
    a = world.a
    assert probe(a.container, *[(x.ip, x.port) for x in a.allowed]) == ["hub", "gateway"]


def test_when_workspace_connects_to_another_host_port_then_it_is_dropped(world):
    a = world.a
    assert probe(a.container, (a.denied.ip, a.denied.port)) == ["timeout"]


def test_when_the_hub_connects_to_the_workspace_then_the_server_answers(world):
    with socket.create_connection((world.a.ip, world.a.ws.port), timeout=3) as c:
        assert c.recv(64).decode() == world.a.marker


def test_when_workspace_connects_to_the_outside_then_it_is_dropped(world):
    target = (world.outside_listener.ip, world.outside_listener.port)
    assert probe(world.a.container, target) == ["timeout"]


def test_without_the_firewall_the_outside_answers_so_the_drop_is_the_firewalls(world):
    a = world.a
    target = (world.outside_listener.ip, world.outside_listener.port)
    de.nft_delete_table(nft_table(a.bridge))
    try:
        assert probe(a.container, target, (a.denied.ip, a.denied.port)) == ["world", "database"]
    finally:
        de.nft_apply(nft_rules(a.bridge, a.gateway, allowed_ports(a.ws)))
    assert probe(a.container, target) == ["timeout"]


def test_when_another_tenant_connects_to_the_first_then_it_is_dropped(world):
    a, b = world.a, world.b
    targets = [(a.ip, a.ws.port), *[(x.ip, x.port) for x in a.allowed]]
    assert probe(b.container, *targets) == ["timeout"] * 3
    assert probe(a.container, (b.ip, b.ws.port)) == ["timeout"]


# --- TenantDockerSpawner against the engine ---------------------------------------------------------


async def test_when_tenant_spawner_runs_a_server_then_it_keeps_jupyterhubs_contract(
    world, tmp_path
):
    eng = world.engine
    os.chmod(tmp_path, 0o755)
    tenant = f"tenant-s{eng.tag[:5]}"
    # Tenant subnets cut from the lower half of the engine's pool (Docker's own is the upper
    # half); /28s, so tenant 403 lands clear of the world's /24s.
    pool = str(next(eng.pool.subnets(new_prefix=eng.pool.prefixlen + 1)))
    TenantDockerSpawner._client = None  # a client of this test's engine, not of an earlier one
    probe_spawner = _spawner(subnet_pool=pool, subnet_prefix=28)
    gateway = probe_spawner.gateway_of(403)
    hub_port, gw_port, denied_port = (_free_port() for _ in range(3))
    ws = build_workspace(
        tenant=tenant,
        tenant_id=403,
        username="alice",
        workspaces_root=str(tmp_path),
        system_paths=de.host_python_paths(),
        hub_env={},
        hub=Endpoint("hub", gateway, hub_port),
        gateway=Endpoint("gateway", gateway, gw_port),
        limits=LIMITS,
    )
    bridge = bridge_name(tenant)
    eng.bridges.append(bridge)
    marker = f"spawned-{tenant}"
    quotas = {"volumes_root": str(tmp_path / "volumes"), "home_quota": QUOTA, "shared_quota": QUOTA}
    spawner = _spawner(
        ws,
        cmd=[*INIT, PYTHON, "-c", SERVER, str(ws.port), marker],
        image=world.image,
        client_kwargs={"base_url": eng.url},
        pull_policy="never",
        environment=dict(SECRETS),
        subnet_pool=pool,
        subnet_prefix=28,
        mem_limit="8G",  # DockerSpawner's own limits: the policy's win
        cpu_limit=4.0,
        **quotas,
    )
    try:
        ip, port = await spawner.start()
        net = eng.client.api.inspect_network(network_name(tenant))
        assert net["Internal"] is True
        subnet = ipaddress.ip_network(net["IPAM"]["Config"][0]["Subnet"])
        assert str(subnet) == tenant_subnet(pool, 403, 28) and network_gateway(net) == gateway
        assert ipaddress.ip_address(ip) in subnet and subnet.subnet_of(eng.pool)
        assert port == ws.port
        await asyncio.get_running_loop().run_in_executor(None, _wait_for, ip, port, marker)
        assert nft_table(bridge) in " ".join(de._nft_tables())
        st = os.stat(ws.home)  # made by the spawner, not by Docker as root
        assert (st.st_uid, st.st_mode & 0o777) == (ws.uid, 0o700)
        # Home and shared folder on volumes of their own, mounted on the host and bound in.
        assert volumes.is_mounted(Path(ws.home)) and volumes.is_mounted(Path(ws.shared))

        container = eng.client.containers.get(spawner.container_id)
        code, routes = sh(container, "cat", "/proc/net/route")
        assert code == 0 and [r.split()[1] for r in routes.splitlines()[1:]] == [
            f"{int(subnet.network_address).to_bytes(4, 'big')[::-1].hex().upper()}"
        ], routes  # only the tenant subnet: the default route Docker added is gone
        with contextlib.ExitStack() as listeners:
            # The hub API and the gateway listen on loopback only; the bridge's table forwards
            # the allowed ports from the network's gateway address to them, and nothing else.
            hub = listeners.enter_context(de.host_listener("127.0.0.1", b"hub", hub_port))
            gw = listeners.enter_context(de.host_listener("127.0.0.1", b"gateway", gw_port))
            denied = listeners.enter_context(
                de.host_listener("127.0.0.1", b"database", denied_port)
            )
            targets = [(gateway, x.port) for x in (hub, gw, denied)]
            assert probe(container, *targets) == ["hub", "gateway", "timeout"]

        attrs = eng.client.api.inspect_container(spawner.container_id)
        hc = attrs["HostConfig"]
        assert (hc["ReadonlyRootfs"], hc["CapDrop"], hc["SecurityOpt"], hc["Init"]) == (
            True,
            ["ALL"],
            ["no-new-privileges:true", "seccomp=" + seccomp_profile()],
            False,  # Docker's init off: the command brings its own (kernels.reaper)
        )
        assert (hc["Memory"], hc["NanoCpus"], hc["PidsLimit"]) == (256 * MiB, 10**9, 64)
        assert not hc["CpuQuota"] and not hc["CpuPeriod"]
        assert (spawner.mem_limit, spawner.cpu_limit) == (8 * 1024**3, 4.0)
        assert hc["NetworkMode"] == network_name(tenant) and not hc["PortBindings"]
        assert attrs["Config"]["User"] == f"{ws.uid}:{ws.uid}"
        env = dict(e.split("=", 1) for e in attrs["Config"]["Env"])
        assert not set(SECRETS) & set(env)
        assert env["JUPYTERHUB_API_TOKEN"] == "token-of-this-spawn"

        assert await spawner.poll() is None
        state = spawner.get_state()
        revived = _spawner(ws, client_kwargs={"base_url": eng.url}, **quotas)
        revived.load_state(state)
        assert revived.object_id == spawner.object_id and await revived.poll() is None

        await revived.stop()
        assert await spawner.poll() is not None
        assert revived.get_state() == {}
        for _ in range(50):  # removal (auto_remove) finishes in the background
            if await spawner.poll() == 0:
                break
            await asyncio.sleep(0.1)
        assert await spawner.poll() == 0  # 0: the container is gone
        # Its last container gone, the volumes are unmounted (the restarted hub asked Docker).
        assert volumes.mounted_under(tmp_path) == []
    finally:
        with contextlib.suppress(docker.errors.APIError):
            eng.client.api.remove_container(spawner.object_name, force=True)
        for point in volumes.mounted_under(tmp_path):
            volumes.unmount(point)
        de.nft_delete_table(nft_table(bridge))
        with contextlib.suppress(docker.errors.APIError):
            eng.client.api.remove_network(network_name(tenant))
        # DockerSpawner keeps one client and one worker thread per class: ours go with the test.
        client = TenantDockerSpawner.__dict__.get("_client")
        executor = TenantDockerSpawner.__dict__.get("_executor")
        if client is not None:
            client.close()
        if executor is not None:
            executor.shutdown(wait=True)
        TenantDockerSpawner._client = TenantDockerSpawner._executor = None


# --- the production image -------------------------------------------------------------------------


def test_when_the_production_image_is_used_then_its_layout_matches_what_the_spawner_runs():
    from spawner.docker_factory import IMAGE_KERNELS, server_setup

    dockerfile = (Path(__file__).resolve().parents[1] / "kernels" / "Dockerfile").read_text()
    copy = re.search(r"^COPY kernels/ (\S+)$", dockerfile, re.M)
    assert copy and copy.group(1).rstrip("/") == IMAGE_KERNELS
    for package in ("jupyterhub", "jupyterlab", "ipykernel", "requests"):
        assert re.search(rf'"{package}[><=]', dockerfile), package
    # pandas, pyarrow and the rest of the science set: pyproject's `science` extra
    # (tests/test_science_env.py).
    assert "['optional-dependencies']['science']" in dockerfile
    assert '"jupyterlab-language-pack-zh-CN"' in dockerfile
    cmd, paths, env = server_setup(own_python=True)
    assert cmd == ["python", "-I", "-S", f"{IMAGE_KERNELS}/reaper.py", "jupyterhub-singleuser",
                   f"--config={IMAGE_KERNELS}/jupyter_server_config.py"]  # fmt: skip
    assert paths == ()
    assert all(v.startswith(IMAGE_KERNELS + "/") for v in env.values())


def test_when_the_production_image_is_used_then_nothing_of_the_host_is_mounted_but_home_and_shared():
    from spawner.policy import Endpoint, Limits, build_workspace

    ws = build_workspace(
        tenant="tenant-a",
        tenant_id=3,
        username="alice",
        workspaces_root="/srv/shuyu/workspaces",
        system_paths=(),
        hub_env={},
        hub=Endpoint("hub", "10.213.0.1", 8081),
        gateway=Endpoint("gateway", "10.213.0.1", 8090),
        limits=Limits(),
    )
    spec = container_spec(ws, "shuyu/workspace:0.1", "shuyu-tenant-a", [])
    sources = sorted(m.source for m in ws.mounts if m.kind != "tmpfs")
    assert sources == [ws.home, ws.shared]
    binds = spec["host_config"]["binds"]
    assert sorted(binds) == sorted([*sources, NO_RESOLVER])  # resolv.conf from an empty file
    assert binds[NO_RESOLVER] == {"bind": "/etc/resolv.conf", "mode": "ro"}


def test_when_the_config_selects_the_production_image_then_the_image_python_runs(monkeypatch):
    from traitlets.config.loader import PyFileConfigLoader

    from spawner.docker_factory import IMAGE_KERNELS

    monkeypatch.setenv("SHUYU_SPAWNER", "tenant-docker")
    root = Path(__file__).resolve().parents[1]
    for own, server in (
        ("1", "jupyterhub-singleuser"),
        ("0", f"{sys.prefix}/bin/jupyterhub-singleuser"),
    ):
        monkeypatch.setenv("SHUYU_DOCKER_OWN_PYTHON", own)
        config = PyFileConfigLoader("jupyterhub_config.py", path=str(root)).load_config()
        init, command = config.TenantDockerSpawner.cmd[:4], config.TenantDockerSpawner.cmd[4:]
        assert init[1:3] == ["-I", "-S"] and init[3].endswith("kernels/reaper.py")
        assert command[0] == server
        assert (IMAGE_KERNELS in command[1]) == (own == "1")
