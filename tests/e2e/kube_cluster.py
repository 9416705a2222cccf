"""A real Kubernetes control plane on loopback for the cluster suite, started and stopped whole.

etcd (Debian's etcd-server), kube-apiserver (secure port on 127.0.0.1 only, client certificates,
RBAC and Node authorization, service-account token signing), kube-controller-manager (the job,
service-account, token, volume-binding and node lifecycle controllers, each under its own service
account) and
kube-scheduler, built by scripts/kubernetes-build.sh, plus :mod:`tests.e2e.kube_node_agent` as
the one node's kubelet. Every process runs in a session of its own and is killed with it; the
folder holding certificates, kubeconfigs, logs and etcd's data is removed at the end.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.kube_pki import Authority, CertPair, service_account_keys
from tests.ports import free_port

BIN_ENV = "SHUYU_KUBERNETES_BIN"
DEFAULT_BIN = "/var/cache/shuyu/kubernetes-1.20/bin"
BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
ETCD = "etcd"
NODE = "shuyu-node-0"
SERVICE_RANGE = "10.0.0.0/24"
SERVICE_IP = "10.0.0.1"  # the API server's own Service; never dialled
ISSUER = "https://kubernetes.default.svc.cluster.local"
# Every request of a service account outside kube-system, at Metadata level: who did what to which
# object, and the answer's status (the suite checks the hub's account used exactly its role).
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "None", "userGroups": ["system:serviceaccounts:kube-system"]},
        {"level": "Metadata", "userGroups": ["system:serviceaccounts"]},
        {"level": "None"},
    ],
}
CONTROLLERS = "serviceaccount-token,serviceaccount,job,persistentvolume-binder,nodelifecycle"
REPO = Path(__file__).resolve().parents[2]


def bin_dir() -> Path:
    return Path(os.environ.get(BIN_ENV, DEFAULT_BIN))


def missing_binaries() -> list[str]:
    """What of the control plane this machine lacks (empty when the suite can run)."""
    missing = [b for b in BINARIES if not os.access(bin_dir() / b, os.X_OK)]
    if shutil.which(ETCD) is None:
        missing.append(ETCD)
    return missing


def write_kubeconfig(path: Path, server: str, ca: Path, user: dict[str, str]) -> Path:
    """A kubeconfig for one user (``client-certificate``/``client-key``, or ``token``)."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "e2e", "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": "u"}}],
        "current-context": "e2e",
    }
    path.write_text(json.dumps(doc))
    path.chmod(0o600)
    return path


def cert_user(pair: CertPair) -> dict[str, str]:
    return {"client-certificate": str(pair.cert), "client-key": str(pair.key)}


@dataclass
class Cluster:
    """A running control plane: its API server URL, CA, and an admin kubeconfig."""

    root: Path
    server: str
    ca: Path
    admin: Path
    node: str = NODE
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def log(self, name: str) -> Path:
        return self.root / f"{name}.log"

    def tail(self, lines: int = 30) -> str:
        """The last lines of every component's log, to print when a test fails."""
        out = []
        for name in self.processes:
            text = self.log(name).read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {name} ---\n" + "\n".join(text))
        if self.processes.get("kube-apiserver") and self.processes["kube-apiserver"].poll() is None:
            events = self.kubectl("get", "events", "-A", "--sort-by=.lastTimestamp")
            out.append("--- events ---\n" + events.stdout[-6000:])
            volumes = self.kubectl("get", "pv,pvc", "-A", "-o", "wide")
            out.append("--- volumes ---\n" + volumes.stdout)
        return "\n".join(out)

    def kubectl(
        self, *args: str, kubeconfig: Path | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(bin_dir() / "kubectl"), f"--kubeconfig={kubeconfig or self.admin}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def audit(self, username: str) -> list[dict]:
        """The API server's audit events of ``username`` so far (see ``AUDIT_POLICY``)."""
        lines = (self.root / "audit.log").read_text().splitlines()
        events = [json.loads(line) for line in lines if line.strip()]
        return [e for e in events if e["user"]["username"] == username]

    def token_kubeconfig(self, name: str, token: str) -> Path:
        return write_kubeconfig(
            self.root / f"{name}.kubeconfig", self.server, self.ca, {"token": token}
        )


def _die_with_parent() -> None:
    """In the child: SIGKILL when the test process dies, even killed (PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def _start(cluster: Cluster, name: str, argv: list[str], cwd: Path | None = None) -> None:
    log = cluster.log(name).open("ab")
    cluster.processes[name] = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: stopped with everything it forked
        preexec_fn=_die_with_parent,
        cwd=cwd or cluster.root,
    )
    log.close()


def _check_alive(cluster: Cluster) -> None:
    for name, proc in cluster.processes.items():
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}\n{cluster.tail()}")


def _wait(cluster: Cluster, what: str, ready, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _check_alive(cluster)
        if ready():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready in {timeout:.0f} s\n{cluster.tail()}")


def _api_ok(url: str, context: ssl.SSLContext) -> bool:
    try:
        with urllib.request.urlopen(url, context=context, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(cluster: Cluster) -> None:
    """SIGTERM every process group, newest first; SIGKILL what is still there after 10 s."""
    procs = list(reversed(cluster.processes.values()))
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@contextlib.contextmanager
def running_cluster() -> Iterator[Cluster]:
    """Start etcd, the control plane and the node agent; stop them and remove their folder."""
    root = Path(tempfile.mkdtemp(prefix="shuyu-kube-"))
    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    server = f"https://127.0.0.1:{api_port}"
    ca = Authority(root)
    cluster = Cluster(root=root, server=server, ca=ca.cert, admin=root / "admin.kubeconfig")
    try:
        serving = ca.server("apiserver", SERVICE_IP)
        admin = ca.client("admin", "shuyu-e2e-admin", ("system:masters",))
        write_kubeconfig(cluster.admin, server, ca.cert, cert_user(admin))
        kcm = write_kubeconfig(
            root / "kcm.kubeconfig",
            server,
            ca.cert,
            cert_user(ca.client("kcm", "system:kube-controller-manager")),
        )
        scheduler = write_kubeconfig(
            root / "scheduler.kubeconfig",
            server,
            ca.cert,
            cert_user(ca.client("scheduler", "system:kube-scheduler")),
        )
        node = write_kubeconfig(
            root / "node.kubeconfig",
            server,
            ca.cert,
            cert_user(ca.client("node", f"system:node:{NODE}", ("system:nodes",))),
        )
        sa = service_account_keys(root)
        audit_policy = root / "audit-policy.json"
        audit_policy.write_text(json.dumps(AUDIT_POLICY))
        bins = bin_dir()

        etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        _start(
            cluster,
            "etcd",
            [
                shutil.which(ETCD) or ETCD,
                "--name=e2e",
                f"--data-dir={root / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=e2e={peer_url}",
                "--log-level=warn",
            ],
        )
        _wait(cluster, "etcd", lambda: _api_ok(f"{etcd_url}/health", ssl.create_default_context()))

        _start(
            cluster,
            "kube-apiserver",
            [
                str(bins / "kube-apiserver"),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                "--insecure-port=0",
                f"--tls-cert-file={serving.cert}",
                f"--tls-private-key-file={serving.key}",
                f"--client-ca-file={ca.cert}",
                "--anonymous-auth=false",
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                f"--service-account-key-file={sa.cert}",
                f"--service-account-signing-key-file={sa.key}",
                f"--service-account-issuer={ISSUER}",
                f"--service-cluster-ip-range={SERVICE_RANGE}",
                "--endpoint-reconciler-type=none",  # a loopback endpoint is not valid
                "--profiling=false",
                f"--audit-policy-file={audit_policy}",
                f"--audit-log-path={root / 'audit.log'}",
            ],
        )
        context = ssl.create_default_context(cafile=str(ca.cert))
        context.load_cert_chain(str(admin.cert), str(admin.key))
        _wait(cluster, "kube-apiserver", lambda: _api_ok(f"{server}/readyz", context))

        _start(
            cluster,
            "kube-controller-manager",
            [
                str(bins / "kube-controller-manager"),
                f"--kubeconfig={kcm}",
                f"--controllers={CONTROLLERS}",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={sa.key}",
                f"--root-ca-file={ca.cert}",
                "--leader-elect=false",
                "--pvclaimbinder-sync-period=2s",  # a claim made with its volume binds at once
                "--port=0",
                "--secure-port=0",
            ],
        )
        _start(
            cluster,
            "kube-scheduler",
            [
                str(bins / "kube-scheduler"),
                f"--kubeconfig={scheduler}",
                "--leader-elect=false",
                "--port=0",
                "--secure-port=0",
            ],
        )
        _start(
            cluster,
            "node-agent",
            [sys.executable, "-m", "tests.e2e.kube_node_agent", str(node), NODE],
            cwd=REPO,
        )

        def token_controller_ran() -> bool:
            got = cluster.kubectl(
                "get", "secrets", "-n", "default", "-o", "jsonpath={.items[*].type}"
            )
            return "kubernetes.io/service-account-token" in got.stdout

        def node_schedulable() -> bool:
            """Ready, and the node lifecycle controller has lifted the not-ready taint."""
            got = cluster.kubectl("get", "node", NODE, "-o", "json")
            if got.returncode != 0:
                return False
            node = json.loads(got.stdout)
            ready = [c for c in node["status"].get("conditions", []) if c["type"] == "Ready"]
            return [c["status"] for c in ready] == ["True"] and not node["spec"].get("taints")

        _wait(cluster, "the token controller", token_controller_ran)
        _wait(cluster, "the node", node_schedulable)
        yield cluster
    finally:
        _stop(cluster)
        shutil.rmtree(root, ignore_errors=True)
