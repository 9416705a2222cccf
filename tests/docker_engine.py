"""A private Docker engine for tests, and the host plumbing the network tests need.

Nothing here may outlive a test run: the engine gets its own data-root, exec-root, socket,
pidfile, config file, containerd namespace and cgroup parent under one temp dir, and ``stop``
removes every container, network, process, mount, cgroup, interface and ``/run`` folder it made.
Docker's own iptables management is switched off (``--iptables=false``): the tests must leave no
rule behind, and tenant isolation is the job of the nftables table ``spawner.docker.nft_rules``
renders, which is exactly what the tests then exercise.

No registry is reachable, so the workspace image is imported from a directory skeleton, and the
host's ``/usr``, Python and this checkout are bind-mounted read-only at run time. That image
stands in for the production one built from ``kernels/Dockerfile``: same non-root layout, same
1777 ``/tmp`` and ``/var/tmp``, same Python packages, only borrowed from the host.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker

from spawner.docker import nft_table

REPO_ROOT = Path(__file__).resolve().parent.parent
# Folders dockerd, containerd and iproute2 create outside their roots; removed again when empty
# and not there before.
RUN_DIRS = (
    "/run/containerd/s",
    "/run/containerd",
    "/run/docker/plugins",
    "/run/docker",
    "/run/mount",
)
# Link-local only: test traffic to these containers stays on this machine by construction, and
# the range is clear of the sandbox's tenant links (169.254.100.0 and up).
POOL_CANDIDATES = ("169.254.0.0/18",)
MERGED_USR = ("bin", "lib", "lib64", "sbin")


class Unavailable(Exception):
    """Why a Docker engine cannot run on this machine; callers skip their tests with it."""


def _run(cmd: list[str], *, input: str | None = None, check: bool = True, timeout: float = 60):
    return subprocess.run(
        cmd, input=input, capture_output=True, text=True, check=check, timeout=timeout
    )


def ensure_dockerd() -> str:
    """Path of ``dockerd``; installs Debian's ``docker.io`` when missing and we may.

    Raises:
        Unavailable: not root, no apt-get, or the install failed.
    """
    found = shutil.which("dockerd") or shutil.which("dockerd", path="/usr/sbin:/usr/bin")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable("dockerd is missing and cannot be installed (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "docker.io"],
    ):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise Unavailable(f"{' '.join(cmd)} failed: {done.stderr.strip()[-500:]}")
    found = shutil.which("dockerd", path="/usr/sbin:/usr/bin")
    if not found:
        raise Unavailable("docker.io installed but dockerd not found")
    return found


def _route_networks() -> list[ipaddress.IPv4Network]:
    out = _run(["ip", "-4", "-j", "route", "show", "table", "all"], check=False).stdout or "[]"
    nets = []
    for r in json.loads(out):
        dst = r.get("dst", "")
        if dst and dst != "default":
            with contextlib.suppress(ValueError):
                nets.append(ipaddress.IPv4Network(dst if "/" in dst else dst + "/32", strict=False))
    return nets


def free_pool() -> ipaddress.IPv4Network:
    """A pool no route of this host touches, for the test's Docker networks."""
    used = _route_networks()
    for cand in map(ipaddress.IPv4Network, POOL_CANDIDATES):
        if not any(cand.overlaps(u) for u in used):
            return cand
    raise Unavailable(f"all of {POOL_CANDIDATES} overlap routes of this host")


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root).rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            target = line.split()[4].encode().decode("unicode_escape")
            if target == str(root) or target.startswith(prefix):
                found.append(target)
    return sorted(found, key=len, reverse=True)


def _umount(path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.umount2(path.encode(), 2) != 0:  # MNT_DETACH
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)


def _pids_mentioning(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            pids.append(int(entry.name))
    return pids


def _nft_tables() -> set[str]:
    if not shutil.which("nft"):
        return set()
    return set(_run(["nft", "list", "tables"], check=False).stdout.split("\n")) - {""}


@dataclass
class Engine:
    """A running private dockerd and what is needed to remove every trace of it."""

    root: Path
    process: subprocess.Popen
    tag: str
    pool: ipaddress.IPv4Network
    run_dirs_before: frozenset[str]
    client: docker.DockerClient | None = None
    bridges: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"unix://{self.root / 'docker.sock'}"

    @property
    def cgroup_parent(self) -> str:
        return f"shuyu-test-{self.tag}"

    @property
    def log(self) -> str:
        path = self.root / "dockerd.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def subnet(self, index: int) -> str:
        """The ``index``-th /24 of the lower half of the pool (the upper half is Docker's)."""
        return str(list(self.pool.subnets(new_prefix=24))[index])

    def create_network(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Create a network from a ``tenant_network_spec`` and remember its bridge."""
        assert self.client is not None
        bridge = spec.get("options", {}).get("com.docker.network.bridge.name")
        if bridge:
            self.bridges.append(bridge)
        self.client.api.create_network(**spec)
        return self.client.api.inspect_network(spec["name"])

    def stop(self) -> list[str]:
        """Stop the engine and remove all it made; returns what could not be removed."""
        problems: list[str] = []
        if self.client is not None:
            problems += self._remove_objects()
            self.client.close()
            self.client = None
        problems += self._stop_daemon()
        for bridge in self.bridges:
            if Path("/sys/class/net", bridge).exists():
                _run(["ip", "link", "del", bridge], check=False)
                problems.append(f"bridge {bridge} was left by dockerd; deleted")
        problems += self._remove_cgroups()
        problems += _remove_new_run_dirs(self.run_dirs_before)
        for mnt in _mounts_under(self.root):
            try:
                _umount(mnt)
            except OSError as e:
                problems.append(f"cannot unmount {mnt}: {e}")
        left = _mounts_under(self.root)
        if left:  # never delete through a mount: a container's /usr bind would go with it
            problems.append(f"mounts left under {self.root}, not deleting it: {left}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)
        # Only the tables of our own bridges: other processes on the host may add theirs meanwhile.
        for bridge in self.bridges:
            table = nft_table(bridge)
            if f"table inet {table}" in _nft_tables():
                nft_delete_table(table)
                problems.append(f"nftables table {table} was left; deleted")
        return problems

    def _remove_objects(self) -> list[str]:
        problems = []
        api = self.client.api
        try:
            for c in api.containers(all=True):
                api.remove_container(c["Id"], force=True, v=True)
            for n in api.networks():
                if n["Name"] not in {"none", "host", "bridge"}:
                    api.remove_network(n["Id"])
        except Exception as e:  # the daemon may have died; the process sweep below still runs
            problems.append(f"removing containers/networks: {e}")
        return problems

    def _stop_daemon(self) -> list[str]:
        problems = []
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                problems.append("dockerd ignored SIGTERM; killed")
                self.process.kill()
                self.process.wait(timeout=10)
        # containerd and its shims carry our root or namespace on their command line.
        for marker in (str(self.root), f"shuyu-test-{self.tag}"):
            for pid in _pids_mentioning(marker):
                problems.append(f"process {pid} outlived dockerd; killed")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        return problems

    def _remove_cgroups(self) -> list[str]:
        problems = []
        for hierarchy in Path("/sys/fs/cgroup").iterdir():
            top = hierarchy / self.cgroup_parent
            if not top.is_dir():
                continue
            for dirpath, _, _ in sorted(os.walk(top), key=lambda w: len(w[0]), reverse=True):
                try:
                    os.rmdir(dirpath)
                except OSError as e:
                    problems.append(f"cgroup {dirpath}: {e}")
        return problems


def _run_dirs_present() -> frozenset[str]:
    return frozenset(d for d in RUN_DIRS if os.path.isdir(d))


def _remove_new_run_dirs(before: frozenset[str]) -> list[str]:
    problems = []
    for d in RUN_DIRS:  # children are listed before their parents
        if d in before or not os.path.isdir(d):
            continue
        try:
            os.rmdir(d)
        except OSError as e:
            problems.append(f"{d} not empty, kept: {e}")
    return problems


def start_engine(timeout: float = 60.0) -> Engine:
    """Start a private dockerd and wait until it answers.

    Raises:
        Unavailable: with dockerd's own words when it cannot run here.
    """
    if os.geteuid() != 0:
        raise Unavailable("a Docker engine needs root")
    dockerd = ensure_dockerd()
    pool = free_pool()
    before = _run_dirs_present()
    root = Path(tempfile.mkdtemp(prefix="shuyu-dockerd-"))
    tag = uuid.uuid4().hex[:8]
    # An empty config file keeps the host's /etc/docker/daemon.json out; the key path keeps
    # dockerd 20.10 from writing /etc/docker/key.json.
    (root / "daemon.json").write_text(json.dumps({"deprecated-key-path": str(root / "key.json")}))
    upper = list(pool.subnets(new_prefix=pool.prefixlen + 1))[1]
    cmd = [
        dockerd,
        f"--data-root={root / 'data'}",
        f"--exec-root={root / 'exec'}",
        f"--host=unix://{root / 'docker.sock'}",
        f"--pidfile={root / 'docker.pid'}",
        f"--config-file={root / 'daemon.json'}",
        "--default-ulimit=nofile=20000:20000",  # the hard limit of this machine
        "--iptables=false",
        "--ip-masq=false",
        "--ip-forward=false",
        "--bridge=none",
        "--userland-proxy=false",
        f"--default-address-pool=base={upper},size=24",
        f"--cgroup-parent=shuyu-test-{tag}",
        f"--containerd-namespace=shuyu-test-{tag}",
        f"--containerd-plugins-namespace=shuyu-test-{tag}-plugins",
        "--log-level=warn",
    ]
    with open(root / "dockerd.log", "wb") as log:
        process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    engine = Engine(root, process, tag, pool, before)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                raise Unavailable(f"dockerd exited with {process.returncode}: {engine.log}")
            if (root / "docker.sock").exists():
                try:
                    client = docker.DockerClient(base_url=engine.url, version="auto", timeout=60)
                    client.ping()
                    engine.client = client
                    return engine
                except Exception:
                    pass
            if time.monotonic() > deadline:
                raise Unavailable(f"dockerd did not answer in {timeout}s: {engine.log}")
            time.sleep(0.2)
    except BaseException:
        engine.stop()
        raise


@contextlib.contextmanager
def private_engine() -> Iterator[Engine]:
    """``start_engine`` … ``Engine.stop``, raising if anything was left behind."""
    engine = start_engine()
    try:
        yield engine
    finally:
        problems = engine.stop()
        if problems:
            raise RuntimeError("private dockerd left traces: " + "; ".join(problems))


# --- the offline workspace image ------------------------------------------------------------------


def host_python_paths() -> tuple[str, ...]:
    """Host paths the test image borrows read-only: ``/usr``, the Python, the venv, this checkout.

    Nested paths are dropped (the venv usually lives inside the checkout).
    """
    paths = {os.path.realpath(p) for p in ("/usr", sys.base_prefix, sys.prefix, REPO_ROOT)}
    kept = [
        p for p in paths if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in paths)
    ]
    return tuple(sorted(kept))


def _tar_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def build_workspace_image(
    client: docker.DockerClient, users: dict[str, int], mountpoints: Iterable[str]
) -> str:
    """Import a skeleton image: no files, only the layout a read-only workspace needs.

    ``/tmp`` and ``/var/tmp`` are 1777 (Jupyter refuses others), ``/bin``, ``/lib`` and ``/lib64``
    point into ``/usr`` as on a merged-usr Debian, every bind target exists with 0755 parents (the
    host's ``/root`` is 0700, the image's is not), and ``/etc/passwd`` names each tenant uid.
    ``/sbin`` is an empty folder rather than a link: Docker mounts its init (``init=True``) on
    ``/sbin/docker-init``, and could not create that mount point inside the read-only ``/usr`` bind
    the host's ``/usr`` arrives on.

    Returns:
        The image reference.
    """
    for name in MERGED_USR:
        if os.path.exists(f"/{name}") and not os.path.islink(f"/{name}"):
            raise Unavailable(f"/{name} is not a symlink into /usr: host is not merged-usr")
    with tempfile.TemporaryDirectory(prefix="shuyu-rootfs-") as tmp:
        root = Path(tmp)
        for d in ("etc", "home", "srv", "proc", "sys", "dev", "run", "usr", "var"):
            (root / d).mkdir(mode=0o755)
        for d in ("tmp", "var/tmp"):
            (root / d).mkdir()
            os.chmod(root / d, 0o1777)
        for name in MERGED_USR:
            if name == "sbin":  # Docker's init is bound on /sbin/docker-init, never inside /usr
                (root / name).mkdir(mode=0o755)
            else:
                (root / name).symlink_to(f"usr/{name}")
        for target in mountpoints:
            path = root / target.lstrip("/")
            path.mkdir(mode=0o755, parents=True, exist_ok=True)
            for parent in [path, *path.parents]:
                if parent == root:
                    break
                os.chmod(parent, 0o1777 if parent.name == "tmp" else 0o755)
        passwd = ["root:x:0:0:root:/root:/bin/sh"]
        group = ["root:x:0:"]
        for name, uid in users.items():
            passwd.append(f"{name}:x:{uid}:{uid}::/home/workspace:/bin/sh")
            group.append(f"{name}:x:{uid}:")
        (root / "etc/passwd").write_text("\n".join(passwd) + "\n")
        (root / "etc/group").write_text("\n".join(group) + "\n")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.add(root, arcname=".", filter=_tar_root)
    repository, tag = "shuyu-workspace-test", uuid.uuid4().hex[:8]
    client.api.import_image_from_data(buf.getvalue(), repository=repository, tag=tag)
    return f"{repository}:{tag}"


# --- host-side network plumbing -------------------------------------------------------------------


def nft_apply(ruleset: str) -> None:
    """Load an nftables ruleset text (``nft -f -``)."""
    _run(["nft", "-f", "-"], input=ruleset)


def nft_delete_table(name: str, family: str = "inet") -> None:
    """Delete a table if it exists."""
    if name in {line.split()[-1] for line in _nft_tables() if line.startswith(f"table {family}")}:
        _run(["nft", "delete", "table", family, name])


@contextlib.contextmanager
def forwarding(ifaces: Iterable[str]) -> Iterator[None]:
    """Enable IPv4 forwarding on just these interfaces, restoring the old values after.

    Forwarding is decided per *incoming* interface, so the host's global ``ip_forward`` (0 here)
    stays untouched while the tests still show that the nftables table, not a disabled router,
    is what keeps a workspace in.
    """
    old: dict[str, str] = {}
    try:
        for iface in ifaces:
            path = Path(f"/proc/sys/net/ipv4/conf/{iface}/forwarding")
            old[iface] = path.read_text().strip()
            path.write_text("1")
        yield
    finally:
        for iface, value in old.items():
            path = Path(f"/proc/sys/net/ipv4/conf/{iface}/forwarding")
            if path.exists():
                path.write_text(value)


@dataclass(frozen=True)
class Outside:
    """A network namespace on a link-local veth: the simulated world outside the host."""

    netns: str
    host_iface: str
    host_ip: str
    ns_ip: str


@contextlib.contextmanager
def outside_namespace(routes_back: Iterable[str], third_octet: int = 77) -> Iterator[Outside]:
    """Create the namespace (``ip netns add``) and a veth with 169.254.<n>.1/.2 (/30).

    ``routes_back`` are subnets the namespace routes via the host, so a packet the host forwards
    would get an answer: a test that sees no answer then proves a drop, not a missing route.
    """
    tag = uuid.uuid4().hex[:6]
    netns, host_iface, ns_iface = f"shuyu-out-{tag}", f"shyo{tag}h", f"shyo{tag}n"
    host_ip, ns_ip = f"169.254.{third_octet}.1", f"169.254.{third_octet}.2"
    netns_dir_was = os.path.isdir("/run/netns")
    netns_mount_was = "/run/netns" in _mount_targets()
    try:
        _run(["ip", "netns", "add", netns])
        _run(["ip", "link", "add", host_iface, "type", "veth", "peer", "name", ns_iface])
        _run(["ip", "link", "set", ns_iface, "netns", netns])
        _run(["ip", "addr", "add", f"{host_ip}/30", "dev", host_iface])
        _run(["ip", "link", "set", host_iface, "up"])
        ip_ns = ["ip", "-n", netns]
        _run([*ip_ns, "addr", "add", f"{ns_ip}/30", "dev", ns_iface])
        _run([*ip_ns, "link", "set", ns_iface, "up"])
        _run([*ip_ns, "link", "set", "lo", "up"])
        for subnet in routes_back:
            _run([*ip_ns, "route", "add", subnet, "via", host_ip])
        yield Outside(netns, host_iface, host_ip, ns_ip)
    finally:
        _run(["ip", "netns", "del", netns], check=False)  # takes the veth pair with it
        if Path("/sys/class/net", host_iface).exists():
            _run(["ip", "link", "del", host_iface], check=False)
        # iproute2 turns /run/netns into a shared bind mount the first time; undo what we made.
        if (
            not netns_mount_was
            and "/run/netns" in _mount_targets()
            and not os.listdir("/run/netns")
        ):
            _umount("/run/netns")
        if not netns_dir_was and os.path.isdir("/run/netns") and not os.listdir("/run/netns"):
            os.rmdir("/run/netns")


def _mount_targets() -> set[str]:
    with open("/proc/self/mountinfo") as f:
        return {line.split()[4] for line in f}


@dataclass
class Listener:
    """A TCP listener answering each connection with a marker, then closing it."""

    ip: str
    port: int
    marker: bytes


@contextlib.contextmanager
def host_listener(ip: str, marker: bytes, port: int = 0) -> Iterator[Listener]:
    """Listen on ``ip`` in this process (a thread), until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((ip, port))
    sock.listen(16)
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except (TimeoutError, OSError):
                continue
            with conn, contextlib.suppress(OSError):
                conn.sendall(marker)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield Listener(ip, sock.getsockname()[1], marker)
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close()


LISTEN_SCRIPT = """
import socket, sys
s = socket.socket(); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept(); c.sendall(sys.argv[3].encode()); c.close()
"""


@contextlib.contextmanager
def netns_listener(netns: str, ip: str, marker: bytes, port: int = 0) -> Iterator[Listener]:
    """Listen on ``ip`` inside ``netns`` (a child process, killed by pid at the end)."""
    proc = subprocess.Popen(
        ["ip", "netns", "exec", netns, sys.executable, "-c", LISTEN_SCRIPT, ip, str(port)]
        + [marker.decode()],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError(f"listener in {netns} did not start")
        yield Listener(ip, int(line), marker)
    finally:
        proc.kill()
        proc.wait(timeout=10)
