"""The privacy nodes as real processes on loopback: control, approvals, refusals, the brpc tunnel.

Run under ``flock /tmp/shuyu-e2e.lock``. The nodes run in the SPU environment
(``SHUYU_SPU_PYTHON``, else ``.venv-spu``, else the probe env) from a copy of :mod:`privacy`
whose ``compute`` is :mod:`tests.privacy_link_engine` (a real SPU brpc link that exchanges the
two tables' raw values). Two recording TCP proxies sit on the wire between the nodes, so the
test sees every packet that would cross the network.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from privacy import pki
from privacy.bundle import Bundle
from privacy.environment import spu_python
from privacy.spec import Computation
from tests.ports import free_port

REPO = Path(__file__).resolve().parent.parent
SPU_PYTHON = spu_python()  # built by make deps; a missing one fails these tests


PARTY = "p-bank"
# raw values that must never appear on the wire: keys, labels, the public side's income
PARTY_ROWS = [("110101199001011234", 1), ("KEY-ONLY-AT-PARTY-77", 0), ("330102198512123456", 1)]
PUBLIC_ROWS = [("110101199001011234", 4321987), ("330102198512123456", 5555123)]


def _port() -> int:
    return free_port()


class Recorder:
    """A plain TCP proxy that keeps every byte it forwards (the wire between the nodes)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.chunks: list[bytes] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                with self.lock:
                    self.chunks.append(data)
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def wire(self) -> bytes:
        with self.lock:
            return b"".join(self.chunks)

    def close(self) -> None:
        self.sock.close()


def _spec(request_id: int, **changes) -> Computation:
    fields = dict(
        request_id=request_id,
        kind="psi",
        party=PARTY,
        tenant="t-demo",
        public_dataset="enterprise",
        public_key="id",
        public_columns=("income",),
        party_table="loans",
        party_key="cust",
        party_columns=("label",),
        params={"reveal": "size"},
    )
    fields.update(changes)
    return Computation(**fields)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("nodes")
    # the node code: a copy of privacy with the link stand-in as its engine
    pkg = root / "pkg"
    shutil.copytree(REPO / "privacy", pkg / "privacy", ignore=shutil.ignore_patterns("compute"))
    (pkg / "privacy/compute").mkdir()
    shutil.copy(REPO / "tests/privacy_link_engine.py", pkg / "privacy/compute/__init__.py")
    env = {**os.environ, "PYTHONPATH": str(pkg), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("SHUYU_PRIVACY_TAP", None)

    ca = pki.new_authority()
    platform_creds = root / "platform"
    pki.Credentials.write(platform_creds, ca.cert_pem, pki.issue(ca, pki.PLATFORM, "platform"))
    party_port, platform_port = _port(), _port()
    to_party, to_platform = Recorder(party_port), Recorder(platform_port)
    own = pki.issue(ca, pki.party_identity(PARTY), "某银行")
    bundle = Bundle(
        PARTY,
        "某银行",
        "t-demo",
        f"127.0.0.1:{party_port}",
        f"127.0.0.1:{to_platform.port}",
        ca.cert_pem,
        own.cert_pem,
        own.key_pem,
    )
    bundle.write(root / "bundle.json")
    data = root / "data"
    data.mkdir()
    (data / "loans.csv").write_text(
        "cust,label,secret_note\n"
        + "".join(f"{k},{v},n{i}\n" for i, (k, v) in enumerate(PARTY_ROWS))
    )
    (root / "public.csv").write_text("id,income\n" + "".join(f"{k},{v}\n" for k, v in PUBLIC_ROWS))
    (root / "tap-party").mkdir()
    (root / "tap-platform").mkdir()
    log = (root / "party.log").open("w")
    party = subprocess.Popen(
        [
            str(SPU_PYTHON),
            "-m",
            "privacy",
            "serve",
            "--bundle",
            str(root / "bundle.json"),
            "--data",
            str(data),
            "--state",
            str(root / "state"),
        ],
        env={**env, "SHUYU_PRIVACY_TAP": str(root / "tap-party")},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
    )
    deadline = time.monotonic() + 20
    while "listening" not in (root / "party.log").read_text():
        assert party.poll() is None, (root / "party.log").read_text()
        assert time.monotonic() < deadline, "the party node did not start"
        time.sleep(0.1)

    class World:
        pass

    w = World()
    w.root, w.env, w.ca, w.bundle, w.data = root, env, ca, bundle, data
    w.platform_creds, w.party_port, w.platform_port = platform_creds, party_port, platform_port
    w.to_party, w.to_platform, w.party = to_party, to_platform, party
    w.log = lambda: (root / "party.log").read_text()

    def node(
        *argv,
        creds: Path = platform_creds,
        peer: int | None = None,
        tap: bool = False,
        timeout: float = 60,
    ):
        extra = (
            [
                "--creds",
                str(creds),
                "--peer",
                f"127.0.0.1:{peer or to_party.port}",
                "--party",
                PARTY,
            ]
            if argv[0] in ("hello", "propose", "run")
            else []
        )
        run_env = {**env, "SHUYU_PRIVACY_TAP": str(root / "tap-platform")} if tap else env
        return subprocess.run(
            [str(SPU_PYTHON), "-m", "privacy", *argv, *extra],
            env=run_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=root,
        )

    def operator(*argv):
        return node(
            *argv[:1],
            "--bundle",
            str(root / "bundle.json"),
            "--state",
            str(root / "state"),
            *argv[1:],
        )

    def spec_file(spec: Computation) -> Path:
        path = root / f"spec-{spec.request_id}.json"
        path.write_text(json.dumps(spec.as_dict()))
        return path

    def run(spec: Computation, out: str, **kw):
        return node(
            "run",
            "--spec",
            str(spec_file(spec)),
            "--public",
            str(root / "public.csv"),
            "--listen",
            f"127.0.0.1:{platform_port}",
            "--out",
            str(root / out),
            "--progress",
            str(root / f"{out}.progress"),
            **kw,
        )

    w.node, w.operator, w.spec_file, w.run = node, operator, spec_file, run
    try:
        yield w
    finally:
        party.terminate()
        try:
            party.wait(10)
        except subprocess.TimeoutExpired:
            party.kill()
            party.wait()
        log.close()
        to_party.close()
        to_platform.close()


def test_hello_answers_the_party_tables_schema_and_never_a_value(world):
    done = world.node("hello")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["party"] == PARTY
    assert set(answer["tables"]["loans"]["columns"]) == {"cust", "label", "secret_note"}
    assert "110101199001011234" not in done.stdout and "n0" not in done.stdout.replace("int64", "")


def test_when_proposed_then_pending_describes_it_and_approve_signs_the_digest(world):
    spec = _spec(11)
    done = world.node("propose", "--spec", str(world.spec_file(spec)))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"status": "pending", "signature": None}
    listing = world.operator("pending")
    assert listing.returncode == 0
    assert "请求 / request 11" in listing.stdout and "loans" in listing.stdout
    assert "交集大小 / " in listing.stdout or "intersection size" in listing.stdout
    assert world.operator("approve", "11").returncode == 0
    done = world.node("propose", "--spec", str(world.spec_file(spec)))
    answer = json.loads(done.stdout)
    assert answer["status"] == "approved"
    assert pki.verify(world.bundle.cert_pem, spec.digest().encode(), answer["signature"])
    assert "request 11" not in world.operator("pending").stdout


def test_a_spec_changed_after_approval_is_pending_again(world):
    world.node("propose", "--spec", str(world.spec_file(_spec(12))))
    assert world.operator("approve", "12").returncode == 0
    changed = _spec(12, params={"reveal": "ids-to-party"})
    done = world.node("propose", "--spec", str(world.spec_file(changed)))
    assert json.loads(done.stdout)["status"] == "pending"


def test_when_rejected_then_propose_says_so_and_run_exits_4(world):
    spec = _spec(13)
    world.node("propose", "--spec", str(world.spec_file(spec)))
    assert world.operator("reject", "13").returncode == 0
    done = world.node("propose", "--spec", str(world.spec_file(spec)))
    assert json.loads(done.stdout) == {"status": "rejected", "signature": None}
    done = world.run(spec, "out-13")
    assert done.returncode == 4, done.stderr
    assert "拒绝" in done.stderr and "rejected" in done.stderr
    assert not (world.root / "out-13").exists()


def test_when_not_approved_then_run_exits_3_and_nothing_is_computed(world):
    spec = _spec(14)
    done = world.run(spec, "out-14", timeout=30)
    assert done.returncode == 3, done.stderr
    assert "批准" in done.stderr and "approved" in done.stderr
    assert not (world.root / "out-14").exists()
    assert not (world.root / "state/results/14.json").exists()
    assert not list((world.root / "state/work").glob("run-14-*"))
    assert "request 14" in world.operator("pending").stdout  # it now awaits the operator


def test_approving_an_unknown_request_is_bad_input(world):
    done = world.operator("approve", "999")
    assert done.returncode == 2 and "999" in done.stderr


def test_brpc_bytes_cross_the_tunnel_both_ways_in_tls_only(world):
    spec = _spec(15)
    world.node("propose", "--spec", str(world.spec_file(spec)))
    assert world.operator("approve", "15").returncode == 0
    done = world.run(spec, "out-15", tap=True)
    assert done.returncode == 0, done.stderr + world.log()
    record = json.loads((world.root / "out-15/result.json").read_text())
    assert record["digest"] == spec.digest()
    assert pki.verify(world.bundle.cert_pem, spec.digest().encode(), record["signature"])
    # the platform received the party's raw rows over brpc, the party the platform's
    received = record["result"]["received"]
    assert received.startswith("rank1:") and "KEY-ONLY-AT-PARTY-77" in received
    party_side = json.loads((world.root / "state/results/15.json").read_text())["result"]
    assert party_side["received"].startswith("rank0:") and "4321987" in party_side["received"]
    assert [p.name for p in (world.root / "out-15").iterdir()] == ["result.json"]  # no work left
    assert not list((world.root / "state/work").iterdir())
    progress = [json.loads(x) for x in (world.root / "out-15.progress").read_text().splitlines()]
    assert progress[-1]["phase"] == "done" and progress[-1]["fraction"] == 1.0
    # the taps hold the link plaintext, on both nodes, both directions
    for tap in ("tap-party", "tap-platform"):
        plain = b"".join(p.read_bytes() for p in (world.root / tap).glob("*.bin"))
        assert b"KEY-ONLY-AT-PARTY-77" in plain and b"4321987" in plain, tap
    # the wire does not: every byte between the nodes was TLS
    wire = world.to_party.wire() + world.to_platform.wire()
    assert len(world.to_party.wire()) > 1000 and len(world.to_platform.wire()) > 1000
    for raw in [k for k, _ in PARTY_ROWS] + [str(v) for _, v in PUBLIC_ROWS] + ["rank0", "rank1"]:
        assert raw.encode() not in wire, raw
    assert b"\x16\x03" in wire  # TLS records


def test_a_node_with_a_certificate_from_another_authority_gets_exit_5_and_is_logged(world):
    other = pki.new_authority("Not Shuyu")
    creds = world.root / "forged"
    pki.Credentials.write(creds, world.ca.cert_pem, pki.issue(other, pki.PLATFORM, "forged"))
    before = world.log().count("TLS handshake failed")
    done = world.node("hello", creds=creds)
    assert done.returncode == 5, done.stderr
    assert "/" in done.stderr and "tables" not in done.stdout
    deadline = time.monotonic() + 5
    while world.log().count("TLS handshake failed") == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert world.log().count("TLS handshake failed") > before, (done.stderr, world.log()[-3000:])


def test_a_certificate_of_the_same_authority_for_another_party_is_refused(world):
    creds = world.root / "other-party"
    pki.Credentials.write(
        creds, world.ca.cert_pem, pki.issue(world.ca, pki.party_identity("p-other"), "other")
    )
    done = world.node("hello", creds=creds)
    assert done.returncode == 5, done.stderr
    assert "shuyu:party:p-other" in world.log() and "identity" in world.log()


def test_the_platform_refuses_a_party_node_with_another_identity(world):
    # the platform asks the party node to be p-bank; the node answering here is p-bank, so
    # asking for p-other must fail on the platform's own identity check
    done = subprocess.run(
        [
            str(SPU_PYTHON),
            "-m",
            "privacy",
            "hello",
            "--creds",
            str(world.platform_creds),
            "--peer",
            f"127.0.0.1:{world.party_port}",
            "--party",
            "p-other",
        ],
        env=world.env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=world.root,
    )
    assert done.returncode == 5
    assert "shuyu:party:p-bank" in done.stderr and "p-other" in done.stderr


def test_a_link_for_no_running_computation_is_closed_and_logged(world):
    import asyncio

    from privacy.relay import Relay

    async def knock() -> bytes:
        creds = pki.Credentials(
            world.platform_creds / "ca.pem",
            world.platform_creds / "node.pem",
            world.platform_creds / "node.key",
        )
        relay = Relay(creds, pki.party_identity(PARTY), f"127.0.0.1:{world.party_port}")
        reader, writer = await relay.connect({"channel": "link", "link_id": "shuyu-404-none"})
        writer.write(b"GET / HTTP/1.1\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        return data

    assert asyncio.run(knock()) == b""
    assert "shuyu-404-none" in world.log() and "no running computation" in world.log()


def test_run_waits_for_the_approval_given_while_it_waits(world):
    spec = _spec(16)
    path = world.spec_file(spec)
    waiting = subprocess.Popen(
        [
            str(SPU_PYTHON),
            "-m",
            "privacy",
            "run",
            "--spec",
            str(path),
            "--public",
            str(world.root / "public.csv"),
            "--listen",
            f"127.0.0.1:{world.platform_port}",
            "--out",
            str(world.root / "out-16"),
            "--wait-approval",
            "30",
            "--creds",
            str(world.platform_creds),
            "--peer",
            f"127.0.0.1:{world.to_party.port}",
            "--party",
            PARTY,
        ],
        env=world.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=world.root,
    )
    try:
        deadline = time.monotonic() + 15
        while "request 16" not in world.operator("pending").stdout:
            assert time.monotonic() < deadline and waiting.poll() is None
            time.sleep(0.2)
        assert world.operator("approve", "16").returncode == 0
        _, err = waiting.communicate(timeout=40)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
    assert waiting.returncode == 0, err
    assert json.loads((world.root / "out-16/result.json").read_text())["digest"] == spec.digest()


def test_an_approved_run_for_a_table_the_party_lacks_is_bad_input(world):
    spec = _spec(17, party_table="no_such_table")
    world.node("propose", "--spec", str(world.spec_file(spec)))
    assert world.operator("approve", "17").returncode == 0
    done = world.run(spec, "out-17")
    assert done.returncode == 2, done.stderr
    assert "no_such_table" in done.stderr and not (world.root / "out-17").exists()


def test_a_spec_that_is_not_json_is_bad_input(world):
    (world.root / "broken.json").write_text("{not json")
    done = world.node("propose", "--spec", str(world.root / "broken.json"))
    assert done.returncode == 2 and "JSON" in done.stderr


def test_an_unreachable_party_node_is_exit_5(world):
    done = world.node("hello", peer=_port())
    assert done.returncode == 5 and "cannot reach" in done.stderr


def test_the_platform_relay_carries_links_only_and_no_control(world):
    import asyncio

    from privacy.relay import Relay, Tap

    def creds(folder: Path) -> pki.Credentials:
        return pki.Credentials(folder / "ca.pem", folder / "node.pem", folder / "node.key")

    party_creds = world.bundle.credentials(world.root / "party-creds")

    async def scenario() -> bytes:
        platform = Relay(
            creds(world.platform_creds),
            pki.party_identity(PARTY),
            "127.0.0.1:1",
            tap=Tap(None, "platform"),
        )
        host, port = await platform.listen("127.0.0.1:0")
        party = Relay(party_creds, pki.PLATFORM, f"{host}:{port}")
        try:
            reader, writer = await party.connect({"channel": "control"})
            writer.write(b'{"op": "hello"}\n')
            data = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            return data
        finally:
            await platform.close()

    assert asyncio.run(scenario()) == b""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_when_the_platform_run_is_stopped_then_both_workers_end(world):
    import re
    import signal

    spec = _spec(18, params={"reveal": "size", "stub_sleep": 60})
    world.node("propose", "--spec", str(world.spec_file(spec)))
    assert world.operator("approve", "18").returncode == 0
    err = (world.root / "run-18.err").open("w")
    running = subprocess.Popen(
        [
            str(SPU_PYTHON),
            "-m",
            "privacy",
            "run",
            "--spec",
            str(world.spec_file(spec)),
            "--public",
            str(world.root / "public.csv"),
            "--listen",
            f"127.0.0.1:{world.platform_port}",
            "--out",
            str(world.root / "out-18"),
            "--creds",
            str(world.platform_creds),
            "--peer",
            f"127.0.0.1:{world.to_party.port}",
            "--party",
            PARTY,
        ],
        env=world.env,
        stdout=subprocess.DEVNULL,
        stderr=err,
        cwd=world.root,
    )
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 20
        while len(workers) < 2:
            assert time.monotonic() < deadline, world.log()
            time.sleep(0.2)
            text = world.log() + (world.root / "run-18.err").read_text()
            workers = [int(x) for x in re.findall(r"shuyu-18-\w+: rank \d worker (\d+)", text)]
        time.sleep(1.0)  # the link is up and the party waits for the platform's bytes
        running.send_signal(signal.SIGTERM)
        assert running.wait(15) == 1
    finally:
        if running.poll() is None:
            running.kill()
            running.wait()
        err.close()
    assert "中止 / interrupted" in (world.root / "run-18.err").read_text()
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers)
    assert "stopping worker" in world.log()
    assert not (world.root / "state/results/18.json").exists()
    assert not (world.root / "out-18/result.json").exists()


@pytest.mark.parametrize(
    "kind, params, expect",
    [
        ("psi", {"reveal": "ids-to-party"}, "intersecting keys"),
        (
            "stats",
            {
                "group_by": [["public", "income"]],
                "measures": [["party", "label", "sum"]],
                "min_group": 5,
            },
            "groups under 5 rows withheld",
        ),
        (
            "train",
            {"features": ["income"], "label": "label", "model": "logistic"},
            "your label column: label",
        ),
    ],
    ids=["psi-ids", "stats", "train"],
)
def test_pending_describes_each_kind_in_both_languages(kind, params, expect):
    from privacy.approvals import describe

    text = "\n".join(describe(_spec(20, kind=kind, params=params)))
    assert expect in text
    assert "披露 / revealed" in text and "使用的列 / columns used: label" in text


def test_the_node_modules_import_only_stdlib_and_cryptography_at_module_level():
    """The hub imports :mod:`privacy` from the platform venv; pandas/SPU only inside functions."""
    import ast

    allowed = set(sys.stdlib_module_names) | {"cryptography", "privacy", "__future__"}
    for path in sorted((REPO / "privacy").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level only; TYPE_CHECKING blocks are not run
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_a_second_run_on_a_busy_listen_port_says_so_and_computes_nothing(world):
    spec = _spec(19)
    world.node("propose", "--spec", str(world.spec_file(spec)))
    assert world.operator("approve", "19").returncode == 0
    with socket.create_server(("127.0.0.1", world.platform_port)):
        done = world.run(spec, "out-19")
    assert done.returncode == 1 and "in use" in done.stderr and "端口被占用" in done.stderr
    assert not (world.root / "out-19").exists()
    assert not (world.root / "state/results/19.json").exists()
