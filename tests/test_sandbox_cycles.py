"""The sandbox spawner cleans up after itself: nothing leaks after 100 spawn/stop cycles."""

import os
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from spawner import cgroups, netns, volumes
from spawner.policy import Endpoint, Limits, build_workspace
from spawner.sandbox import TenantSandboxSpawner, cleanup_stale

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox spawner runs as root")
TENANTS = (9101, 9102, 9103)  # ids far from any real tenant's


NOTHING_LEFT = {
    "netns": [], "tables": [], "veths": [], "cgroups": [], "processes": [], "mounts": [], "loops": []
}  # fmt: skip
QUOTAS = {"home_quota": volumes.MIN_BYTES, "shared_quota": volumes.MIN_BYTES}


def leftovers(root: Path | None = None) -> dict:
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    return {
        "netns": [n for n in netns.list_netns() if any(n == f"{netns.PREFIX}{t}" for t in TENANTS)],
        "tables": [t for t in TENANTS if f"{netns.TABLE_PREFIX}{t}" in tables],
        "veths": [t for t in TENANTS if Path(f"/sys/class/net/syh{t}").exists()],
        "cgroups": [g for g in cgroups.stale_groups() + _busy_groups() if g.startswith("cycler")],
        "processes": _tenant_processes(),
        "mounts": [str(p) for p in volumes.mounted_under(root)] if root else [],
        "loops": _loops(root) if root else [],
    }


def _loops(root: Path) -> list[str]:
    """Loop devices backed by an image under ``root``."""
    listing = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    return [line for line in listing.splitlines() if str(root) in line]


def _busy_groups() -> list[str]:
    base = Path("/sys/fs/cgroup/pids/shuyu")
    return [d.name for d in base.iterdir() if d.is_dir()] if base.exists() else []


def _tenant_processes() -> list[int]:
    uids = {200_000 + t for t in TENANTS}
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if p.stat().st_uid in uids:
                    found.append(int(p.name))
            except FileNotFoundError:
                pass
    return found


def cycle_workspace(tmp_path: Path, tenant_id: int, username: str):
    """A workspace of a made-up tenant whose server is a plain ``sleep``."""
    link = netns.tenant_link(tenant_id)
    return build_workspace(
        tenant=f"tenant-cycle{tenant_id}",
        tenant_id=tenant_id,
        username=username,
        workspaces_root=str(tmp_path / "ws"),
        system_paths=("/usr",),
        hub_env={},
        hub=Endpoint("hub", link.host_ip, 8081),
        gateway=Endpoint("gateway", link.host_ip, 8090),
        limits=Limits(256 * 1024**2, 0.5, 32),
    )


@pytest.mark.parametrize("use_zygote", [True, False], ids=["forked", "executed"])
def test_when_100_sandboxes_start_and_stop_then_nothing_is_left_behind(tmp_path, use_zygote):
    spawner = TenantSandboxSpawner(
        user=SimpleNamespace(name="cycler"),
        runtime_root=str(tmp_path / "run"),
        workspaces_root=str(tmp_path / "ws"),
        volumes_root=str(tmp_path / "volumes"),
        use_zygote=use_zygote,
        **QUOTAS,
    )
    try:
        for i in range(100):
            ws = cycle_workspace(tmp_path, TENANTS[i % len(TENANTS)], "cycler")
            proc = spawner.launch(ws, ["/usr/bin/sleep", "60"], {"PATH": "/usr/bin"})
            deadline = time.monotonic() + 5
            while not _tenant_processes() and time.monotonic() < deadline:
                assert proc.poll() is None, (
                    tmp_path / "run" / "cycler-default" / "server.log"
                ).read_text()
                time.sleep(0.01)
            assert _tenant_processes(), "the sandboxed process never ran"
            spawner._stop(now=i % 2 == 0)
            spawner.clear_state()
        assert leftovers(tmp_path) == NOTHING_LEFT
    finally:
        spawner._stop(now=True)
        for t in TENANTS:
            netns.remove(netns.tenant_link(t))


def test_when_the_hub_restarts_then_stale_links_and_groups_are_removed(tmp_path):
    link = netns.tenant_link(TENANTS[0])
    netns.ensure(link, (8081,))
    cgroups.create("cycler-stale", Limits())
    removed = cleanup_stale()
    assert link.netns in removed["links"] and "cycler-stale" in removed["cgroups"]
    assert leftovers()["netns"] == [] and leftovers()["tables"] == []


@pytest.mark.parametrize("use_zygote", [True, False], ids=["forked", "executed"])
def test_when_colleagues_spawn_and_stop_at_once_then_the_shared_link_holds_and_is_removed_last(
    tmp_path, use_zygote
):
    import threading

    tenant_id = TENANTS[1]
    link = netns.tenant_link(tenant_id)
    spawners = [
        TenantSandboxSpawner(
            user=SimpleNamespace(name=f"cycler{i}"),
            runtime_root=str(tmp_path / "run"),
            workspaces_root=str(tmp_path / "ws"),
            volumes_root=str(tmp_path / "volumes"),
            use_zygote=use_zygote,
            **QUOTAS,
        )
        for i in range(8)
    ]
    errors = []

    def start(i, s):
        ws = cycle_workspace(tmp_path, tenant_id, f"cycler{i}")
        try:
            s.launch(ws, ["/usr/bin/sleep", "60"], {"PATH": "/usr/bin"})
        except Exception as e:  # collected and asserted below
            errors.append(e)

    try:
        threads = [threading.Thread(target=start, args=(i, s)) for i, s in enumerate(spawners)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        for s in spawners[:-1]:
            s._stop(now=True)
            assert netns.exists(link), "the link went away while a colleague's server still runs"
        spawners[-1]._stop(now=True)
        assert leftovers(tmp_path) == NOTHING_LEFT
    finally:
        for s in spawners:
            s._stop(now=True)
        netns.remove(link)
