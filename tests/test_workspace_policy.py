"""The workspace policy and its sandbox rendering, as plain data."""

import os
import shutil
import subprocess

import pytest

from spawner import cgroups, netns
from spawner.policy import (
    SANDBOX_HOME,
    SANDBOX_SHARED,
    Endpoint,
    Limits,
    allowed_ports,
    build_workspace,
    tenant_paths,
    tenant_uid,
)
from spawner.sandbox import bwrap_args, mount_args

HUB_ENV = {
    "JUPYTERHUB_API_TOKEN": "user-token",
    "JUPYTERHUB_API_URL": "http://127.0.0.1:8081/hub/api",
    "JUPYTERHUB_ACTIVITY_URL": "http://127.0.0.1:8081/hub/api/users/alice/activity",
    "JUPYTERHUB_USER": "alice",
    "JUPYTERHUB_CRYPT_KEY": "hub-secret",
    "JUPYTERHUB_COOKIE_SECRET": "hub-secret",
    "CONFIGPROXY_AUTH_TOKEN": "hub-secret",
    "SHUYU_DB_URL": "postgresql://hub-secret@db/shuyu",
    "SHUYU_HOME": "/var/lib/shuyu",
    "PATH": "/root/.venv/bin:/usr/bin",
    "AWS_SECRET_ACCESS_KEY": "hub-secret",
}


LIMITS = Limits(1024**3, 0.5, 128)


def make(tenant="tenant-a", tenant_id=3, username="alice", limits=LIMITS, **kw):
    return build_workspace(
        tenant=tenant,
        tenant_id=tenant_id,
        username=username,
        workspaces_root="/srv/shuyu/workspaces",
        system_paths=("/usr", "/opt/python"),
        hub_env=HUB_ENV,
        hub=Endpoint("hub", "169.254.100.13", 8081),
        gateway=Endpoint("gateway", "169.254.100.13", 8090),
        limits=limits,
        **kw,
    )


def test_when_the_environment_is_built_then_no_hub_secret_enters_the_workspace():
    env = make().env
    assert not {k for k, v in env.items() if "hub-secret" in v}
    assert "SHUYU_DB_URL" not in env and "SHUYU_HOME" not in env
    assert env["JUPYTERHUB_API_TOKEN"] == "user-token"


def test_when_the_environment_is_built_then_hub_urls_point_at_the_tenant_link():
    env = make().env
    assert env["JUPYTERHUB_API_URL"] == "http://169.254.100.13:8081/hub/api"
    assert (
        env["JUPYTERHUB_ACTIVITY_URL"] == "http://169.254.100.13:8081/hub/api/users/alice/activity"
    )
    assert env["SHUYU_GATEWAY_URL"] == "http://169.254.100.13:8090"
    assert env["HOME"] == SANDBOX_HOME


def test_when_two_tenants_are_built_then_they_share_no_uid_and_no_folder():
    a, b = make(), make(tenant="tenant-b", tenant_id=4, username="bob")
    assert a.uid != b.uid and a.uid == tenant_uid(3)
    assert not {a.home, a.shared} & {b.home, b.shared}


def test_when_colleagues_are_built_then_they_share_the_tenant_folder_but_not_homes():
    a, c = make(), make(username="carol")
    assert a.shared == c.shared and a.home != c.home and a.uid == c.uid


@pytest.mark.parametrize(
    "tenant, user", [("../x", "alice"), ("tenant-a", "../../etc"), ("Tenant", "a"), ("t", "a/b")]
)
def test_when_a_name_could_escape_the_workspaces_folder_then_it_is_refused(tenant, user):
    with pytest.raises(ValueError):
        tenant_paths("/srv", tenant, user)


def test_when_mounts_are_decided_then_only_home_shared_and_tmp_are_writable():
    writable = {m.target for m in make().mounts if not m.read_only}
    assert writable == {SANDBOX_HOME, SANDBOX_SHARED, "/tmp"}


def test_when_ports_are_decided_then_only_hub_and_gateway_are_allowed():
    assert allowed_ports(make()) == (8081, 8090)


def test_when_bwrap_args_are_built_then_the_system_is_read_only_and_namespaces_are_private():
    args = bwrap_args(make(), {"/etc/passwd": "/run/x/passwd"})
    joined = " ".join(args)
    for flag in (
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--die-with-parent",
        "--new-session",
    ):
        assert flag in args
    assert "--ro-bind /usr /usr" in joined and "--ro-bind /opt/python /opt/python" in joined
    assert f"--bind /srv/shuyu/workspaces/tenant-a/home/alice {SANDBOX_HOME}" in joined
    assert args[-2:] == ["--remount-ro", "/"]
    assert "--unshare-user" not in args and "--share-net" not in args


def test_when_the_tenant_link_is_derived_then_addresses_are_distinct_link_local_30s():
    links = [netns.tenant_link(i) for i in (1, 2, 63, 64, 65, 500)]
    assert len({link.host_ip for link in links}) == len(links)
    for link in links:
        assert link.host_ip.startswith("169.254.") and link.ns_ip.startswith("169.254.")
        assert len(link.host_if) <= 15 and len(link.ns_if) <= 15
    with pytest.raises(ValueError):
        netns.tenant_link(0)


def test_when_the_firewall_is_rendered_then_only_allowed_ports_pass_and_the_rest_is_counted_and_dropped():
    rules = netns.nft_ruleset(netns.tenant_link(7), (8090, 8081))
    assert (
        'iifname "syh7" ip daddr 127.0.0.1 tcp dport { 8081, 8090 } ct status dnat'
        " ct original ip daddr 169.254.100.29 ct state new accept" in rules
    )
    assert rules.count("counter drop") == 3
    assert "hook forward" in rules and "hook input" in rules


def test_when_the_firewall_is_rendered_then_only_the_links_host_address_is_forwarded_to_loopback():
    rules = netns.nft_ruleset(netns.tenant_link(7), (8090, 8081))
    nat = [
        line.strip() for line in rules.splitlines() if "dnat" in line and "ct status" not in line
    ]
    assert nat == [
        'iifname "syh7" ip daddr 169.254.100.29 tcp dport { 8081, 8090 } dnat ip to 127.0.0.1'
    ]
    assert "type nat hook prerouting priority dstnat" in rules


@pytest.mark.parametrize(
    ("host_ip", "forward_to"),
    [("169.254.100.5", "10.0.0.1"), ("fd00::1", "127.0.0.1"), ("169.254.100.5", "::1")],
)
def test_when_the_forward_target_is_not_ipv4_loopback_then_rendering_refuses(host_ip, forward_to):
    from spawner import firewall

    with pytest.raises(ValueError):
        firewall.allowlist("shuyu_t1", "syh1", host_ip, (8081,), "-10", forward_to=forward_to)


def test_when_no_port_is_allowed_then_nothing_is_forwarded_to_loopback():
    rules = netns.nft_ruleset(netns.tenant_link(7), ())
    assert "dnat" not in rules and "127.0.0.1" not in rules


@pytest.mark.parametrize("v2", [False, True])
def test_when_limits_are_rendered_then_memory_cpu_and_pids_are_all_set(v2):
    s = cgroups.settings(Limits(512 * 1024**2, 0.5, 64), v2)
    values = " ".join(s.values())
    assert str(512 * 1024**2) in values and "64" in values and "50000" in values


def test_when_the_environment_lives_under_tmp_then_its_bind_comes_after_the_private_tmp():
    ws = build_workspace(
        tenant="tenant-a",
        tenant_id=3,
        username="alice",
        workspaces_root="/srv/ws",
        system_paths=("/usr", "/tmp/checkout/.venv"),
        hub_env={},
        hub=Endpoint("hub", "169.254.100.13", 1),
        gateway=Endpoint("gateway", "169.254.100.13", 2),
        limits=Limits(),
    )
    args = bwrap_args(ws, {})
    tmpfs_at = args.index("--tmpfs")
    bind_at = args.index("/tmp/checkout/.venv")
    assert args[tmpfs_at + 1] == "/tmp" and tmpfs_at < bind_at
    assert args[tmpfs_at - 3 : tmpfs_at + 1] != ["--perms", "0755", "--dir", "/tmp"]
    assert "--dir" not in [
        a for i, a in enumerate(args) if i + 1 < len(args) and args[i + 1] == "/tmp"
    ]


@pytest.mark.parametrize(
    ("table", "priority"),
    [("shuyu_t1; flush ruleset", "-10"), ("1table", "-10"), ("shuyu_t1", "0; flush ruleset")],
)
def test_when_the_allowlist_table_or_priority_is_malformed_then_rendering_refuses(table, priority):
    from spawner import firewall

    with pytest.raises(ValueError):
        firewall.allowlist(table, "syh1", "169.254.100.5", (8081,), priority)


def test_when_both_spawners_render_their_allowlist_then_only_names_and_priority_differ():
    from spawner import docker, firewall

    link = netns.tenant_link(7)
    veth = netns.nft_ruleset(link, (8081, 8090))
    bridge = docker.nft_rules(link.host_if, link.host_ip, (8081, 8090), forward_to="127.0.0.1")
    assert veth == firewall.allowlist(
        link.table, link.host_if, link.host_ip, (8090, 8081), "-10", forward_to="127.0.0.1"
    )
    assert (
        bridge.replace(docker.nft_table(link.host_if), link.table).replace(
            "priority filter", "priority -10"
        )
        == veth
    )


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="needs root and nft")
def test_when_the_forwarding_allowlist_is_rendered_then_nft_accepts_it():
    rules = netns.nft_ruleset(netns.tenant_link(7), (8090, 8081))
    check = subprocess.run(["nft", "-c", "-f", "-"], input=rules, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_when_a_workspace_or_job_is_given_cpus_then_its_science_libraries_are_told_how_many():
    """loky (scikit-learn's process pool) counts physical cores with lscpu, which finds none in
    a sandbox and prints a warning into the cell; given the count, it does not look."""
    from spawner.job_policy import JobLimits, job_env

    assert make(limits=Limits(1024**3, 0.5, 128)).env["LOKY_MAX_CPU_COUNT"] == "1"
    assert make(limits=Limits(1024**3, 3.0, 128)).env["LOKY_MAX_CPU_COUNT"] == "3"
    assert job_env(7, JobLimits(cpus=2))["LOKY_MAX_CPU_COUNT"] == "2"


def test_when_bwrap_args_are_built_then_tmp_is_bounded_by_the_policys_size():
    ws = make(limits=Limits(1024**3, 0.5, 128, tmp_bytes=64 * 1024**2))
    args = bwrap_args(ws, {})
    tmpfs_at = args.index("/tmp") - 1
    assert args[tmpfs_at - 4 : tmpfs_at + 2] == [
        "--perms", "01777", "--size", str(64 * 1024**2), "--tmpfs", "/tmp",
    ]  # fmt: skip
    assert [m.size for m in make().mounts if m.kind == "tmpfs"] == [256 * 1024**2]  # the default


@pytest.mark.skipif(not shutil.which("bwrap"), reason="bubblewrap is not installed")
@pytest.mark.parametrize("folder", ["/tmp", "/dev/shm"])
def test_when_a_sandbox_fills_its_tmp_then_bubblewrap_ends_it_in_enospc_at_the_size(folder):
    """The installed bubblewrap honours ``--size`` (0.8 and later): the sandbox's /tmp and
    /dev/shm rendering, run for real."""
    ws = make(limits=Limits(1024**3, 0.5, 128, tmp_bytes=8 * 1024**2))
    tmp = mount_args(tuple(m for m in ws.mounts if m.kind == "tmpfs"), {})
    fill = (
        "import errno, os\n"
        "n = 0\n"
        "try:\n"
        f"    with open('{folder}/fill', 'wb') as f:\n"
        "        for n in range(64):\n"
        "            f.write(b'x' * (1 << 20)); f.flush()\n"
        "    print('no limit')\n"
        "except OSError as e:\n"
        "    print(errno.errorcode[e.errno], n)\n"
    )
    out = subprocess.run(
        ["bwrap", "--ro-bind", "/usr", "/usr", *tmp, "/usr/bin/python3", "-c", fill],
        capture_output=True,
        text=True,
        timeout=60,
    )
    outcome, written_mib = out.stdout.split()
    assert outcome == "ENOSPC" and int(written_mib) <= 8, out
