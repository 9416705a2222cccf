"""``TenantSandboxSpawner``: each server in a bubblewrap sandbox, in its tenant's network namespace.

The hub (root) prepares the tenant's folders, network link and cgroups, then starts
``launch → ip netns exec → bwrap → setpriv → jupyterhub-singleuser``: the server runs as the
tenant's uid with no capabilities and no new privileges, on a read-only system with only its home,
the tenant's shared folder and a private /tmp writable, and reaches only the hub API and the
gateway. What is mounted, reachable and allowed comes from :mod:`spawner.policy`.

By default (``use_zygote``) the sandbox runs only a placeholder, and the server is forked into it
from a warm, pre-imported Python (:mod:`spawner.zygote`), which takes the same identity, filter
and namespaces; its kernels are forked the same way (:mod:`kernels.forked_kernels`). That saves
each start the second or more of CPU that importing jupyter-server, JupyterLab and ipykernel costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path, PurePosixPath

from jupyterhub.spawner import Spawner
from traitlets import Bool, Callable, Integer, List, Unicode, default

from spawner import cgroups, forkserver, netns, seccomp, volumes
from spawner.folders import Quotas, prepare_folders
from spawner.policy import (
    SANDBOX_HOME,
    Endpoint,
    Limits,
    Mount,
    Workspace,
    allowed_ports,
    build_workspace,
)

CHECKOUT = Path(__file__).resolve().parent.parent
SETPRIV_DROP = ("--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs")
LAUNCHER = str(Path(__file__).with_name("launch.py"))
# bubblewrap's private namespaces and session, for workspaces and production jobs alike.
PRIVATE = (
    "--unshare-ipc",
    "--unshare-pid",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--die-with-parent",
    "--new-session",
)
# What a sandbox runs while the zygote forks the server into it (``use_zygote``).
PLACEHOLDER = ("sleep", "infinity")
# Where a workspace's Python finds the Shuyu configuration and import shims.
CODE_ENV = {
    "JUPYTER_CONFIG_PATH": str(CHECKOUT / "kernels" / "jupyter_config"),
    "PYTHONPATH": str(CHECKOUT / "kernels" / "shims"),
}


def zygote_env() -> dict[str, str]:
    """The zygote's environment: what decides which code servers import, and no secret."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # debugpy, pre-imported for kernels: no warnings
        **CODE_ENV,
    }


def prestart_zygote() -> None:
    """Start the warm zygote in the background, so the first spawn finds it ready."""
    threading.Thread(target=forkserver.prestart, args=(zygote_env(),), daemon=True).start()


def _ancestors(paths: list[str]) -> list[str]:
    found = set()
    for p in paths:
        for parent in PurePosixPath(p).parents:
            if str(parent) != "/":
                found.add(str(parent))
    return sorted(found, key=lambda s: (s.count("/"), s))


def bwrap_args(ws: Workspace, files: dict[str, str]) -> list[str]:
    """The bubblewrap command line for a workspace (pure; ``files`` maps sandbox path → host file)."""
    args = ["bwrap", *PRIVATE, "--hostname", "workspace", *mount_args(ws.mounts, files)]
    return [*args, "--chdir", SANDBOX_HOME, "--remount-ro", "/"]


def mount_args(mounts: tuple[Mount, ...], files: dict[str, str]) -> list[str]:
    """bubblewrap's view of the file system: ``mounts``, the ``files`` (sandbox path → host
    file) read-only, a fresh /proc and /dev; nothing else of the host (pure)."""
    args: list[str] = []
    # tmpfs first: a bind below /tmp (a checkout or venv there) must land on the private /tmp,
    # not be hidden by it.
    tmpfs = sorted((m for m in mounts if m.kind == "tmpfs"), key=lambda m: m.target.count("/"))
    for m in tmpfs:
        # bubblewrap (0.8 and later) bounds the next --tmpfs by --size: writing past it gives
        # ENOSPC instead of taking the sandbox's memory limit.
        size = ["--size", str(m.size)] if m.size else []
        args += ["--perms", "01777", *size, "--tmpfs", m.target]
    binds = [m for m in mounts if m.kind != "tmpfs"]
    existing = {m.target for m in tmpfs}
    for d in _ancestors([m.target for m in binds] + list(files)):
        if d not in existing:
            args += ["--perms", "0755", "--dir", d]
    for link, target in (
        ("/bin", "usr/bin"),
        ("/lib", "usr/lib"),
        ("/lib64", "usr/lib64"),
        ("/sbin", "usr/sbin"),
    ):
        args += ["--symlink", target, link]
    for m in binds:
        args += ["--ro-bind" if m.read_only else "--bind", m.source, m.target]
    for target, source in files.items():
        args += ["--ro-bind", source, target]
    # A private /dev/shm the sandbox's uid can write: POSIX semaphores and shared memory
    # (multiprocessing, joblib, pyarrow's plasma-free paths) live there; tmpfs pages are charged
    # to the sandbox's memory cgroup, and it is bounded like /tmp (ENOSPC past its size).
    shm = next((m.size for m in tmpfs if m.target == "/tmp" and m.size), 0)
    shm_size = ["--size", str(shm)] if shm else []
    return [*args, "--proc", "/proc", "--dev", "/dev", "--perms", "01777", *shm_size,
            "--tmpfs", "/dev/shm"]  # fmt: skip


class TenantSandboxSpawner(Spawner):
    """Start each server in a bubblewrap sandbox of its tenant (see module docstring)."""

    tenant_lookup = Callable(
        allow_none=True,
        config=True,
        help="username → (tenant id, tenant group); the platform's lookup "
        "(:func:`hub.tenancy.lookup`), set in ``jupyterhub_config.py``.",
    )
    workspaces_root = Unicode(
        config=True, help="Host folder holding tenant homes and shared folders."
    )
    runtime_root = Unicode(config=True, help="Host folder for per-server runtime files and logs.")
    volumes_root = Unicode(
        config=True, help="Host folder holding the images of homes and shared folders."
    )

    home_quota = Integer(
        1024**3,
        config=True,
        help="Size in bytes of each staff member's home, a file system of its own (allocated in "
        "full on the first start); 0 keeps homes as plain folders on the host's disk.",
    )
    shared_quota = Integer(
        2 * 1024**3,
        config=True,
        help="Size in bytes of each tenant's shared folder, a file system of its own; 0 keeps it "
        "a plain folder on the host's disk.",
    )

    gateway_port = Integer(8090, config=True, help="Port of the data gateway on the host.")
    hub_port = Integer(
        0, config=True, help="Port of the hub API on the host (0: from the hub's URL)."
    )
    pids_limit = Integer(256, config=True, help="Most processes (and threads) one server may run.")
    tmp_quota = Integer(
        Limits.tmp_bytes,
        config=True,
        help="Size in bytes of each server's private /tmp (memory, charged to its memory limit);"
        " writing past it fails with ENOSPC.",
    )
    system_paths = List(
        Unicode(), config=True, help="Host paths mounted read-only into every sandbox."
    )

    @default("system_paths")
    def _default_system_paths(self):
        paths = [
            "/usr",
            sys.base_prefix,
            sys.prefix,
            str(CHECKOUT / "sdk"),
            str(CHECKOUT / "kernels"),
        ]
        return list(dict.fromkeys(p for p in paths if p))

    @default("mem_limit")
    def _default_mem_limit(self):
        return 2 * 1024**3

    @default("cpu_limit")
    def _default_cpu_limit(self):
        return 1.0

    @default("cmd")
    def _default_cmd(self):
        return [str(Path(sys.prefix) / "bin" / "jupyterhub-singleuser")]

    use_zygote = Bool(
        True,
        config=True,
        help="Fork servers from a warm, pre-imported zygote instead of starting a fresh Python "
        "in each sandbox (same sandbox, about a second less CPU per start).",
    )

    pid = Integer(0)
    tenant_id = Integer(0)
    _seccomp: Path | None = None
    _volumes: tuple[Path, ...] = ()

    # --- state ---------------------------------------------------------------------------------
    def get_state(self):
        state = super().get_state()
        if self.pid:
            state.update(pid=self.pid, tenant_id=self.tenant_id, port=self.port)
        return state

    def load_state(self, state):
        super().load_state(state)
        self.pid = state.get("pid", 0)
        self.tenant_id = state.get("tenant_id", 0)
        self.port = state.get("port", 0)

    def clear_state(self):
        super().clear_state()
        self.pid = 0
        self.tenant_id = 0

    # --- policy --------------------------------------------------------------------------------
    @property
    def group_name(self) -> str:
        return f"{self.user.name}-{self.name or 'default'}"

    def _tenant(self) -> tuple[int, str]:
        if self.tenant_lookup is None:
            raise RuntimeError(
                "工作空间启动器未配置租户查询 / the spawner has no tenant_lookup configured"
            )
        return self.tenant_lookup(self.user.name)

    def workspace(self, tenant_id: int, tenant: str) -> Workspace:
        link = netns.tenant_link(tenant_id)
        hub_port = self.hub_port or int(self.hub.api_url.split(":")[2].split("/")[0])
        return build_workspace(
            tenant=tenant,
            tenant_id=tenant_id,
            username=self.user.name,
            workspaces_root=self.workspaces_root,
            system_paths=tuple(self.system_paths),
            hub_env=self.get_env(),
            hub=Endpoint("hub", link.host_ip, hub_port),
            gateway=Endpoint("gateway", link.host_ip, self.gateway_port),
            limits=Limits(
                memory_bytes=int(self.mem_limit),
                cpus=float(self.cpu_limit),
                pids=self.pids_limit,
                tmp_bytes=self.tmp_quota,
            ),
            port=self.port,
        )

    def quotas(self) -> Quotas | None:
        """Where and how large homes and shared folders are; None when quotas are off."""
        if not (self.home_quota and self.shared_quota):
            return None
        return Quotas(Path(self.volumes_root), int(self.home_quota), int(self.shared_quota))

    def seccomp_filter(self) -> Path:
        """The compiled seccomp filter, written once per hub process."""
        path = Path(self.runtime_root) / "seccomp.bpf"
        if TenantSandboxSpawner._seccomp != path:
            seccomp.write_filter(path)
            TenantSandboxSpawner._seccomp = path
        return path

    # --- lifecycle -----------------------------------------------------------------------------
    def _prepare(self, ws: Workspace, server: list[str]) -> tuple[list[str], list[str], list[str]]:
        """Folders, link, cgroups and identity files. Returns the launch command, the sandbox
        options (given to bwrap on a pipe, so host paths are not in the sandbox's view of its
        pid 1) and the command run inside."""
        link = netns.tenant_link(ws.tenant_id)
        with _links_lock:
            mounted = prepare_folders(ws, self.quotas())
            for point in mounted:
                _volume_users[point] = _volume_users.get(point, 0) + 1
        self._volumes = tuple(mounted)
        groups = cgroups.create(self.group_name, ws.limits)
        run = Path(self.runtime_root) / self.group_name
        run.mkdir(parents=True, exist_ok=True, mode=0o700)
        (run / "passwd").write_text(
            f"workspace:x:{ws.uid}:{ws.uid}:Shuyu workspace:{SANDBOX_HOME}:/usr/sbin/nologin\n"
        )
        (run / "group").write_text(f"workspace:x:{ws.uid}:\n")
        files = {"/etc/passwd": str(run / "passwd"), "/etc/group": str(run / "group")}
        launch = [sys.executable, "-I", "-S", LAUNCHER, *map(str, groups), "--"]
        launch += ["ip", "netns", "exec", link.netns]
        options = bwrap_args(ws, files)[1:]
        inside = ["--", "setpriv", f"--reuid={ws.uid}", f"--regid={ws.uid}", *SETPRIV_DROP, *server]
        return launch, options, inside

    def launch(self, ws: Workspace, server: list[str], env: dict) -> subprocess.Popen:
        """Prepare the tenant's link, cgroups and folders and start ``server`` in the sandbox:
        forked from the warm zygote into a sandbox holding a placeholder (``use_zygote``), or
        executed by the sandbox itself."""
        with _links_lock:  # concurrent spawns and stops of one tenant share its link
            netns.ensure(netns.tenant_link(ws.tenant_id), allowed_ports(ws))
            _link_users[ws.tenant_id] = _link_users.get(ws.tenant_id, 0) + 1
        self.tenant_id = ws.tenant_id
        proc = None
        try:
            inner = list(PLACEHOLDER) if self.use_zygote else server
            launch, options, inside = self._prepare(ws, inner)
            log_path = Path(self.runtime_root) / self.group_name / "server.log"
            # With the zygote the server's environment (its token) travels in the fork request
            # only; bwrap and its placeholder get none of it.
            outer_env = zygote_env() if self.use_zygote else env
            proc = _popen(
                [*launch, "bwrap"], options, inside, outer_env, log_path, self.seccomp_filter()
            )
            if self.use_zygote:
                placeholder = forkserver.wait_for_descendant(proc.pid, PLACEHOLDER[0])
                request = {
                    "target": placeholder,
                    "sandbox": proc.pid,
                    "uid": ws.uid,
                    "cgroups": [str(g) for g in cgroups.group_dirs(self.group_name)],
                    "cwd": SANDBOX_HOME,
                    "env": env,
                    "argv": server,
                    "log": str(log_path),
                }
                server_pid = forkserver.fork(request, zygote_env())
                self.log.info(
                    "Forked %s's server into its sandbox: pid %d", self.user.name, server_pid
                )
        except BaseException:
            if proc is not None:
                _kill_sandbox(proc)
            self._release_link()
            self._release_volumes()
            raise
        self.pid, self._proc = proc.pid, proc
        return proc

    def _release_link(self) -> None:
        """Drop this server's use of its tenant link; remove the link when nobody uses it."""
        if not self.tenant_id:
            return
        with _links_lock:
            users = max(0, _link_users.get(self.tenant_id, 0) - 1)
            _link_users[self.tenant_id] = users
            link = netns.tenant_link(self.tenant_id)
            if users == 0 and not netns.pids(link):
                netns.remove(link)
        self.tenant_id = 0

    def _release_volumes(self) -> None:
        """Drop this server's use of its home and shared volumes; unmount those nobody uses.
        The images stay: the next start mounts the same home again."""
        with _links_lock:
            for point in self._volumes:
                users = max(0, _volume_users.get(point, 0) - 1)
                _volume_users[point] = users
                if users == 0:
                    volumes.unmount(point)
        self._volumes = ()

    async def start(self):
        tenant_id, tenant = await asyncio.to_thread(self._tenant)
        self.port = random.randint(20000, 59999)
        self.ip = "0.0.0.0"
        ws = self.workspace(tenant_id, tenant)
        env = {**ws.env, **CODE_ENV}
        server = [
            *self.cmd,
            f"--config={CHECKOUT / 'kernels' / 'jupyter_server_config.py'}",
            *self.get_args(),
        ]
        try:
            await asyncio.to_thread(self.launch, ws, server, env)
        except (OSError, subprocess.SubprocessError, forkserver.ForkError) as e:
            # The details (commands, paths) go to the hub's log; the user gets the reason only.
            self.log.error("Sandbox for %s could not start: %s", self.user.name, e)
            raise RuntimeError(
                "工作空间启动失败，请稍后再试 / the workspace could not start; try again later"
            ) from None
        await self._wait_listening(netns.tenant_link(tenant_id).ns_ip, self.port)
        return (netns.tenant_link(tenant_id).ns_ip, self.port)

    async def _wait_listening(self, ip: str, port: int) -> None:
        """Return once the server accepts connections, so the hub's first readiness check
        succeeds instead of backing off; raise with the reason if the server dies first."""
        deadline = asyncio.get_running_loop().time() + self.start_timeout
        while asyncio.get_running_loop().time() < deadline:
            if await self.poll() is not None:
                raise RuntimeError("工作空间启动失败 / the workspace failed to start")
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), 1)
            except (TimeoutError, OSError):
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return

    async def poll(self):
        if not self.pid:
            return 0
        proc = getattr(self, "_proc", None)
        if proc is not None:
            return proc.poll()
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return 0
        return None

    async def stop(self, now=False):
        await asyncio.to_thread(self._stop, now)

    def _stop(self, now: bool) -> None:
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL if now else signal.SIGTERM)
            proc = getattr(self, "_proc", None)
            if proc is not None:
                try:
                    proc.wait(timeout=0 if now else 5)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
        cgroups.remove(self.group_name)
        self._release_link()
        self._release_volumes()
        self._proc = None


def _kill_sandbox(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


_links_lock = threading.Lock()
_link_users: dict[int, int] = {}  # servers of this hub process using each tenant link
_volume_users: dict[Path, int] = {}  # servers of this hub process using each mounted volume


def _popen(
    prefix: list[str],
    options: list[str],
    inside: list[str],
    env: dict,
    log_path: Path,
    seccomp: Path,
) -> subprocess.Popen:
    """Start ``prefix --args FD inside``: bwrap's options on a pipe, the seccomp filter on an fd."""
    filter_fd = os.open(seccomp, os.O_RDONLY)
    args_r, args_w = os.pipe()
    try:
        options = [*options, "--seccomp", str(filter_fd)]
        os.write(args_w, b"".join(a.encode() + b"\0" for a in options))
        os.close(args_w)
        with open(log_path, "ab") as log:
            return subprocess.Popen(
                [*prefix, "--args", str(args_r), *inside],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd="/",
                pass_fds=(args_r, filter_fd),
            )
    finally:
        os.close(args_r)
        os.close(filter_fd)


def cleanup_stale() -> dict[str, list[str]]:
    """At hub start: remove links, firewall tables and cgroups that no live server uses."""
    groups = cgroups.stale_groups()
    for name in groups:
        cgroups.remove(name)
    return {"links": netns.cleanup_stale(), "cgroups": groups}
