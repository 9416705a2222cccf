"""Attacks on the tenant workspace, run from inside a real workspace kernel through the proxy.

Each attack prints ``BLOCKED …`` when the platform stops it and ``LEAK …`` when it does not; a
test passes only on BLOCKED without LEAK. The positive tests show the workspace still does its
job: the hub API and the gateway answer, the home persists, every cell is audited.

Every test runs once per spawner rendering of the workspace policy (``attack_lab.SPAWNERS``): the
bubblewrap sandbox and a Docker container on a private engine. Where the engine cannot run, the
Docker half is skipped with the reason. The few values that name the rendering's own objects
(the host's address on the tenant's network, the workspace's interface, the firewall table) come
from the lab; the claims are the same.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pyotp
import pytest
import requests
from sqlalchemy import text

from hub.demo import world
from spawner import netns
from spawner.policy import UID_BASE, tenant_uid
from tests import docker_engine as de
from tests import science_set
from tests.e2e.attack_lab import OUTSIDE_HOST_IP, OUTSIDE_NS, SPAWNERS, build_lab, wait_for
from tests.e2e.hub_process import Browser
from tests.e2e.kernel_client import user_token

pytestmark = pytest.mark.e2e

HELPERS = r"""
import os, socket, subprocess, ctypes, json, sys, time, urllib.request, urllib.error, select, errno
libc = ctypes.CDLL(None, use_errno=True)
TOKEN = os.environ["JUPYTERHUB_API_TOKEN"]
API = os.environ["JUPYTERHUB_API_URL"]

def read(path):
    try:
        with open(path, "rb") as f:
            f.read(16)
        print("LEAK read", path)
    except OSError as e:
        print("BLOCKED", type(e).__name__)

def listdir(path):
    try:
        print("LEAK list", path, os.listdir(path)[:5])
    except OSError as e:
        print("BLOCKED", type(e).__name__)

def write(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        print("LEAK wrote", path)
    except OSError as e:
        print("BLOCKED", type(e).__name__)

def connect(host, port, timeout=2):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        print("LEAK connected", host, port)
    except OSError as e:
        print("BLOCKED", type(e).__name__, e)
    finally:
        s.close()

def api(method, path, body=None, token=TOKEN):
    req = urllib.request.Request(API + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": "token " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()

def refused_by_hub(method, path, body=None):
    code, _ = api(method, path, body)
    print("BLOCKED", code) if code in (403, 404) else print("LEAK", method, path, code)

def run(cmd, **kw):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10, **kw)
    except OSError as e:
        print("BLOCKED", type(e).__name__)
        return
    print("BLOCKED rc", r.returncode, r.stderr.strip()[:100]) if r.returncode != 0 else print("LEAK", cmd, r.stdout[:100])

def syscall(name, rc):
    print("BLOCKED", name, errno.errorcode.get(ctypes.get_errno())) if rc == -1 else print("LEAK", name, rc)

def scan(host, ports, allowed, timeout=3.0):
    poller, socks, open_ports = select.poll(), {}, set()
    for p in ports:
        s = socket.socket(); s.setblocking(False)
        s.connect_ex((host, p)); socks[s.fileno()] = (s, p)
        poller.register(s, select.POLLOUT)
    deadline = time.monotonic() + timeout
    while socks and time.monotonic() < deadline:
        for fd, _ in poller.poll(200):
            s, p = socks.pop(fd)
            poller.unregister(fd)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                open_ports.add(p)
            s.close()
    for s, _ in socks.values(): s.close()
    extra = sorted(open_ports - set(allowed))
    print("BLOCKED only", sorted(open_ports)) if not extra else print("LEAK open ports", extra)
"""

ATTACKS = [
    # read
    ("read a raw dataset in the domain store", "read({raw!r})"),
    ("list the Shuyu home folder", "listdir({home!r})"),
    ("read the platform DB", "read({home!r} + '/platform.sqlite')"),
    ("read the hub DB", "read({home!r} + '/jupyterhub.sqlite')"),
    ("read the hub cookie secret", "read({home!r} + '/secrets/jupyterhub_cookie_secret')"),
    ("read the ID-number pepper", "read({home!r} + '/secrets/id_pepper')"),
    ("read jupyterhub_config.py", "read({config!r})"),
    ("read the demo logins", "read({home!r} + '/demo-logins.json')"),
    (
        "read /proc of the hub process",
        "read('/proc/{hub_pid}/environ'); listdir('/proc/{hub_pid}')",
    ),
    (
        "see host processes in /proc",
        "pids=[p for p in os.listdir('/proc') if p.isdigit()]; print('BLOCKED' if len(pids) < 30 else 'LEAK ' + str(len(pids)))",
    ),
    ("read a colleague's home", "read({colleague!r} + '/secret.txt'); listdir({colleague!r})"),
    (
        "list other homes",
        "homes=os.listdir('/home'); print('BLOCKED' if homes == ['workspace'] else 'LEAK ' + str(homes))",
    ),
    ("read another tenant's shared folder", "read({other_shared!r} + '/secret.txt')"),
    (
        "import the hub's code",
        "try:\n    import hub.home\n    print('LEAK imported hub')\nexcept ImportError as e:\n    print('BLOCKED', e)",
    ),
    ("read /etc/shadow", "read('/etc/shadow')"),
    ("read host PostgreSQL files", "listdir('/var/lib/postgresql')"),
    ("read /sys", "listdir('/sys/class/net')"),
    # connect
    ("connect to PostgreSQL on loopback", "connect('127.0.0.1', 5432)"),
    ("connect to PostgreSQL on the host link", "connect({host_ip!r}, 5432)"),
    ("connect to Redis on the host link", "connect({host_ip!r}, 6379)"),
    ("connect to the proxy API", "connect({host_ip!r}, {proxy_api_port})"),
    ("connect to the public proxy port", "connect({host_ip!r}, {proxy_port})"),
    ("connect to a decoy service open on every host address", "connect({host_ip!r}, {decoy_port})"),
    (
        "scan the host's ports",
        "scan({host_ip!r}, list(range(1, 1025)) + [3306, 5432, 5672, 1883, 4222, 6379, {proxy_api_port}, {proxy_port}, {decoy_port}], [{hub_port}, {gateway_port}])",
    ),
    (
        "connect to another tenant's server",
        "h, p = {bob_target!r}.split('//')[1].split(':'); connect(h, int(p))",
    ),
    ("connect to the simulated outside host", "connect({outside_ip!r}, {outside_port})"),
    ("connect over IPv6 loopback of the host", "connect('::1', {hub_port})"),
    (
        "open a raw socket",
        "try:\n    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)\n    print('LEAK raw socket')\nexcept OSError as e:\n    print('BLOCKED', e)",
    ),
    (
        "open a packet socket",
        "try:\n    socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n    print('LEAK packet socket')\nexcept OSError as e:\n    print('BLOCKED', e)",
    ),
    (
        "resolve a name over DNS",
        "try:\n    socket.getaddrinfo('shuyu-outside.test', 80)\n    print('LEAK resolved')\nexcept OSError as e:\n    print('BLOCKED', e)",
    ),
    (
        "route beyond the tenant link",
        "routes=open('/proc/net/route').read().splitlines()[1:]; default=[r for r in routes if r.split()[1] == '00000000']; print('LEAK default route' if default else 'BLOCKED no default route')",
    ),
    (
        "see the host's interfaces",
        "ifs=[l.split(':')[0].strip() for l in open('/proc/net/dev').read().splitlines()[2:]]; print('BLOCKED' if sorted(ifs) == sorted(['lo', {ns_if!r}]) else 'LEAK ' + str(ifs))",
    ),
    # escalate
    ("become root with su", "run(['su', '-c', 'id -u', 'root'], input='x\\n')"),
    (
        "gain privileges through setuid",
        "st=open('/proc/self/status').read(); ok='NoNewPrivs:\\t1' in st and 'CapEff:\\t0000000000000000' in st and 'CapBnd:\\t0000000000000000' in st; print('BLOCKED' if ok else 'LEAK ' + st)",
    ),
    ("ptrace the sandbox's pid 1", "syscall('ptrace', libc.ptrace(16, 1, 0, 0))"),
    ("ptrace a process of one's own", "syscall('ptrace', libc.ptrace(16, os.getppid(), 0, 0))"),
    ("mount a filesystem", "syscall('mount', libc.mount(b'tmpfs', b'/tmp', b'tmpfs', 0, None))"),
    ("unshare a user namespace", "syscall('unshare', libc.unshare(0x10000000))"),
    ("unshare with the unshare tool", "run(['unshare', '-Ur', 'id'])"),
    (
        "change the network with ip",
        "run(['ip', 'link', 'set', 'lo', 'down']); run(['ip', 'addr', 'add', '169.254.100.250/32', 'dev', 'lo'])",
    ),
    ("change the firewall with nft", "run(['nft', 'flush', 'ruleset'])"),
    ("write to /usr", "write('/usr/lib/shuyu-owned')"),
    ("write to /etc", "write('/etc/shuyu-owned')"),
    ("write to the root", "write('/shuyu-owned')"),
    (
        "write to the Python environment",
        "import jupyterhub; write(os.path.dirname(jupyterhub.__file__) + '/owned.py')",
    ),
    ("write a kernel setting of the host", "write('/proc/sys/kernel/hostname')"),
    # token abuse (the workspace's own API token)
    ("list all users", "refused_by_hub('GET', '/users')"),
    ("read another user's model", "refused_by_hub('GET', '/users/bob')"),
    ("start someone else's server", "refused_by_hub('POST', '/users/bob/server')"),
    ("stop someone else's server", "refused_by_hub('DELETE', '/users/bob/server')"),
    ("mint a token for someone else", "refused_by_hub('POST', '/users/bob/tokens', {{}})"),
    ("make oneself admin", "refused_by_hub('PATCH', '/users/alice', {{'admin': True}})"),
    (
        "join another tenant's group",
        "refused_by_hub('POST', '/groups/role-admin/users', {{'users': ['alice']}})",
    ),
    ("read the proxy's routes through the hub", "refused_by_hub('GET', '/proxy')"),
]


@pytest.fixture(scope="module", params=SPAWNERS)
def lab(request, tmp_path_factory):
    """The lab for one spawner; torn down completely, and loudly if anything resists."""
    stop: list = []
    lab_home = tmp_path_factory.mktemp(request.param)
    try:
        try:
            lab = build_lab(lab_home, stop, request.param)
        except de.Unavailable as e:
            reason = f"{request.param}: no Docker engine here: {e}"
            print(f"SKIP {reason}", file=sys.stderr)
            pytest.skip(reason)
        lab.kernel.execute(HELPERS)
        yield lab
    finally:
        if request.session.testsfailed:
            log = lab_home / "logs" / "hub.log"
            tail = log.read_text(errors="replace").splitlines()[-150:] if log.exists() else []
            print(f"--- hub log ({request.param}) ---", *tail, sep="\n")
        failures = []
        for fn in reversed(stop):
            try:  # keep stopping the rest
                fn()
            except Exception as e:
                failures.append(f"{getattr(fn, '__qualname__', fn)}: {e}")
        assert not failures, failures


def test_when_the_lab_runs_then_the_workspaces_are_the_spawners_rendering(lab):
    init = lab.kernel.execute("print(open('/proc/1/cmdline').read().split(chr(0))[3:4])").out
    for user in ("alice", "bob"):
        link, target = lab.links[user], lab.targets[user]
        host = ipaddress.ip_address(target.split("//")[1].split(":")[0])
        if lab.spawner == "tenant-docker":
            assert host in ipaddress.ip_network(link.subnet)  # the container on its tenant network
        else:
            assert str(host) == link.ns_ip  # the server in its tenant's namespace
    if lab.spawner == "tenant-docker":  # the workspace's own init, not Docker's
        assert init.strip().endswith("kernels/reaper.py']"), init
    else:
        init = lab.kernel.execute("print(open('/proc/1/comm').read().strip())").out.strip()
        assert init == "bwrap"
    # Kernels are forks of a kernel zygote the server started fresh (never a fork of the server,
    # whose memory holds its signing key): kernels.kernel_zygote, in both spawners.
    cmdline = lab.kernel.execute("print(open('/proc/self/cmdline').read())").out
    assert "kernels.kernel_zygote" in cmdline, cmdline


@pytest.mark.parametrize("case, code", ATTACKS, ids=[a[0] for a in ATTACKS])
def test_when_a_workspace_attacks_then_the_attempt_is_blocked(lab, case, code):
    result = lab.kernel.execute(textwrap.dedent(code.format(**lab.values)), timeout=90)
    output = result.out + result.stderr + result.evalue
    assert "BLOCKED" in output, (case, result)
    assert "LEAK" not in output, (case, output)


def test_when_the_workspace_knocks_then_the_host_firewall_counts_the_drops(lab):
    before = netns.dropped_packets(lab.links["alice"])
    lab.kernel.execute(f"connect({lab.values['host_ip']!r}, {lab.values['decoy_port']}, timeout=1)")
    assert netns.dropped_packets(lab.links["alice"]) > before


def test_when_a_process_exhausts_memory_then_only_it_dies(lab):
    result = lab.kernel.execute(
        "r = subprocess.run([sys.executable, '-c', 'b = bytearray(3 * 1024**3); b[::4096] = b\"x\" * len(b[::4096])']);"
        "print('BLOCKED killed', r.returncode) if r.returncode != 0 else print('LEAK allocated 3 GiB')",
        timeout=120,
    )
    assert "BLOCKED" in result.out, result
    assert lab.kernel.execute("print(6 * 7)").out.strip() == "42"
    assert requests.get(f"{lab.hub.url}/hub/api/", timeout=5).status_code == 200


def test_when_a_fork_bomb_goes_off_then_it_hits_the_process_limit_and_the_workspace_survives(lab):
    bomb = (
        "import os, time\n"
        "hit = False\n"
        "for _ in range(5000):\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(30); os._exit(0)\n"
        "    except OSError:\n"
        "        hit = True\n"
        "        break\n"
        "print('HIT' if hit else 'NOLIMIT', flush=True)\n"
        "os.killpg(0, 9)\n"
    )
    code = (
        f"bomb = subprocess.Popen([sys.executable, '-c', {bomb!r}], stdout=subprocess.PIPE, text=True,"
        " start_new_session=True)\n"
        "out = bomb.communicate(timeout=60)[0]\n"
        "print('BLOCKED pids limit' if 'HIT' in out else 'LEAK no limit: ' + out)\n"
    )
    result = lab.kernel.execute(code, timeout=90)
    assert "BLOCKED" in result.out, result
    assert lab.kernel.execute("print('alive')").out.strip() == "alive"
    assert lab.browsers["bob"].server_status("bob") == 200


def test_when_alices_token_is_used_on_bobs_server_then_it_is_refused(lab):
    headers = {"Authorization": f"token {lab.tokens['alice']}"}
    r = requests.get(
        f"{lab.hub.url}/user/bob/api/status", headers=headers, timeout=10, allow_redirects=False
    )
    assert r.status_code in (302, 403, 404)
    assert "started" not in r.text
    r = requests.post(f"{lab.hub.url}/hub/api/users/bob/server", headers=headers, timeout=10)
    assert r.status_code in (403, 404)


def test_when_a_file_is_downloaded_or_uploaded_then_the_workspace_refuses(lab):
    """Even in the staff member's own browser session (tokens get nothing at all)."""
    lab.kernel.execute("open('/home/workspace/result.csv', 'w').write('a,b\\n1,2\\n')")
    assert lab.kernel.api("GET", "files/result.csv?download=1").status_code == 403
    assert lab.kernel.api("GET", "nbconvert/html/result.csv?download=true").status_code == 403
    upload = {"type": "file", "format": "base64", "content": "aWQsbmFtZQo=", "name": "in.csv"}
    r = lab.kernel.api("PUT", "api/contents/in.csv", json=upload)
    assert r.status_code == 403 and "disabled" in r.text


NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": 1, "id": "a1", "metadata": {},
               "outputs": [{"name": "stdout", "output_type": "stream", "text": "P0123456789abcdef\n"}],
               "source": "print(df.patient_id[0])"}],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
}  # fmt: skip
CONTENT_READS = [
    "result.csv",
    "result.csv?content=1",
    "result.csv?content=1&format=text",
    "result.csv?content=1&format=base64",
    "result.csv?type=file&format=text",
    "result.csv?content=0&content=1",
    "./result.csv?content=1",
    "sub/../result.csv?content=1",
    "result%2Ecsv?content=1",
    "result.csv/?content=1",
    "note.ipynb?content=1",
    "note.ipynb?type=notebook&content=1",
    "note.ipynb?type=file&format=text",
    "data.parquet?content=1",
    "data.parquet?content=1&format=base64",
    "shared/for-export.csv?content=1&format=text",
]
MARKED_NOTEBOOK = {**NOTEBOOK, "metadata": {"marker": "UPLOADED-110101199003074518"}}
CONTENT_WRITES = [
    ("in.csv", {"type": "file", "format": "text", "content": "id\nUPLOADED-110101199003074518\n"}),
    ("in.py", {"type": "file", "format": "text", "content": "ID = 'UPLOADED-110101199003074518'"}),
    ("in.ipynb", {"type": "notebook", "format": "json", "content": MARKED_NOTEBOOK}),
    ("in.bin", {"type": "file", "format": "base64", "content": "VVBMT0FERUQtMTEwMTAx"}),
    (
        "in.txt",
        {"type": "file", "format": "text", "content": "UPLOADED-110101199003074518", "chunk": 1},
    ),
    ("note.ipynb", {"type": "notebook", "format": "json", "content": MARKED_NOTEBOOK}),
    ("result.csv", {"type": "file", "format": "text", "content": "UPLOADED-110101199003074518"}),
]


@pytest.fixture(scope="module")
def contents_files(lab):
    lab.kernel.execute(
        "import json, os\n"
        "os.makedirs('/home/workspace/sub', exist_ok=True)\n"
        "open('/home/workspace/result.csv', 'w').write('patient_id,cost\\nP0123456789abcdef,12\\n')\n"
        "open('/home/workspace/shared/for-export.csv', 'w').write('a,b\\n1,2\\n')\n"
        "open('/home/workspace/data.parquet', 'wb').write(b'PAR1\\x00\\xff\\xfe' * 64)\n"
        f"open('/home/workspace/note.ipynb', 'w').write(json.dumps({NOTEBOOK!r}))\n"
    )
    return f"{lab.hub.url}/user/alice/api/contents"


@pytest.mark.parametrize("path", CONTENT_READS)
def test_when_a_token_reads_a_files_content_through_the_contents_api_then_it_is_refused(
    lab, contents_files, path
):
    """The token is in every kernel's environment: from a laptop, through the public proxy, it
    must not read what the workspace holds, whatever the spelling of the request."""
    for scheme in ("token", "Bearer"):
        r = requests.get(f"{contents_files}/{path}", timeout=10,
                         headers={"Authorization": f"{scheme} {lab.tokens['alice']}"})  # fmt: skip
        assert r.status_code in (403, 404), (path, r.status_code, r.text[:200])
        assert "P0123456789abcdef" not in r.text and "PAR1" not in r.text and "a,b" not in r.text


@pytest.mark.parametrize(
    "name, model", CONTENT_WRITES, ids=[f"{n}-{m['format']}" for n, m in CONTENT_WRITES]
)
def test_when_a_token_writes_content_through_the_contents_api_then_nothing_is_written(
    lab, contents_files, name, model
):
    r = requests.put(f"{contents_files}/{name}", json=model, timeout=10,
                     headers={"Authorization": f"token {lab.tokens['alice']}"})  # fmt: skip
    assert r.status_code == 403, (name, r.status_code, r.text[:200])
    found = lab.kernel.execute(
        f"import os; p = '/home/workspace/{name}'\n"
        "print('UPLOADED' in open(p, errors='replace').read() if os.path.exists(p) else 'absent')"
    ).out.strip()
    assert found in ("absent", "False"), (name, found)


KERNEL_TOKEN_PATHS = [
    ("GET", "/api/contents/result.csv?content=1"),
    ("GET", "/api/contents/"),
    ("GET", "/api/kernels"),
    ("POST", "/api/kernels"),
    ("GET", "/api/sessions"),
    ("GET", "/lab"),
]


def test_when_the_kernels_own_token_is_used_from_outside_then_the_server_refuses_it(
    lab, contents_files
):
    """The token in the kernel's environment, copied to a laptop: it reaches neither the staff
    member's server (kernels, files) nor the gateway, while the SDK inside keeps working."""
    env_token = json.loads(
        lab.kernel.execute("print(json.dumps(os.environ['JUPYTERHUB_API_TOKEN']))").out
    )
    headers = {"Authorization": f"token {env_token}"}
    for method, path in KERNEL_TOKEN_PATHS:
        r = requests.request(method, f"{lab.hub.url}/user/alice{path}", headers=headers,
                             timeout=10, allow_redirects=False)  # fmt: skip
        assert r.status_code in (302, 403, 404), (method, path, r.status_code, r.text[:200])
        assert "P0123456789abcdef" not in r.text and '"id"' not in r.text, (method, path)
    gateway = requests.get(f"{lab.hub.url}/services/gateway/api/v1/datasets", headers=headers,
                           timeout=10, allow_redirects=False)  # fmt: skip
    assert gateway.status_code in (302, 403, 404) and "medical_visits" not in gateway.text
    inside = lab.kernel.execute(
        "from sdk import Workspace\nprint(json.dumps([d.name for d in Workspace().datasets.list()]))"
    )
    assert "medical_visits" in json.loads(inside.out), inside


# --- the workspace server: the browser's session, never a token -------------------------------
# Any token — the token page's, the kernel's own, another company's, an admin's — is refused
# through the public proxy, whichever way it is sent; the staff member's browser session (cookie
# from the hub's OAuth, XSRF on changes, same-origin websocket) keeps working.

TOKEN_KINDS = ["token page", "kernel's own", "another tenant's", "admin's"]
TOKEN_TRANSPORTS = ["Authorization: token", "Authorization: Bearer", "?token= in the URL"]
SERVER_CALLS = [
    ("GET", "api/kernels", None),
    ("POST", "api/kernels", {}),
    ("GET", "api/sessions", None),
    ("POST", "api/sessions", {"path": "t.ipynb", "type": "notebook", "kernel": {"name": "shuyu"}}),
    ("GET", "api/contents/", None),
    ("GET", "api/contents/result.csv?content=1", None),
    ("PUT", "api/contents/by-token.py", {"type": "file", "format": "text", "content": "x = 1\n"}),
    ("GET", "api/status", None),
    ("GET", "lab", None),
]


@pytest.fixture(scope="module")
def attacker_tokens(lab, contents_files) -> dict[str, str]:
    """One token of each kind an attacker may hold, made as each is made in real life."""
    logins = json.loads((lab.home / world.LOGINS_FILE).read_text())
    admin = Browser(lab.hub.url)
    assert admin.login("adam", world.PASSWORD, pyotp.TOTP(logins["adam"]["totp_secret"]).now()).status_code == 302  # fmt: skip
    own = lab.kernel.execute(
        "import json, os; print(json.dumps(os.environ['JUPYTERHUB_API_TOKEN']))"
    ).out
    return {
        "token page": user_token(lab.browsers["alice"], lab.hub.url, "alice"),
        "kernel's own": json.loads(own),
        "another tenant's": user_token(lab.browsers["bob"], lab.hub.url, "bob"),
        "admin's": user_token(admin, lab.hub.url, "adam"),
    }


def with_token(url: str, token: str, transport: str) -> tuple[str, dict[str, str]]:
    """The URL and headers of a request that carries ``token`` the way ``transport`` says."""
    if transport.startswith("?"):
        return f"{url}{'&' if '?' in url else '?'}token={token}", {}
    return url, {"Authorization": f"{transport.split()[-1]} {token}"}


def refused_as_token(r: requests.Response) -> bool:
    """The workspace's refusal of a token: 403 with its JSON body, in both languages."""
    try:
        body = r.json()
    except ValueError:
        return False
    message = body.get("message", "")
    return (
        r.status_code == 403
        and body.get("code") == "token_refused"
        and "令牌" in message
        and "tokens" in message
    )


def browser_kernels(lab) -> set[str]:
    r = lab.kernel.api("GET", "api/kernels")
    assert r.status_code == 200, r.text[:200]
    return {k["id"] for k in r.json()}


@pytest.mark.parametrize("transport", TOKEN_TRANSPORTS)
@pytest.mark.parametrize("kind", TOKEN_KINDS)
def test_when_a_token_calls_the_workspace_server_through_the_proxy_then_it_is_refused(
    lab, attacker_tokens, kind, transport
):
    """List or start kernels, sessions, read or write files, the lab page: every call with a
    token is refused with the workspace's JSON 403, and nothing it asked for happened."""
    kernels_before = browser_kernels(lab)
    wrong = []
    for method, path, body in SERVER_CALLS:
        url, headers = with_token(
            f"{lab.hub.url}/user/alice/{path}", attacker_tokens[kind], transport
        )
        r = requests.request(method, url, json=body, headers=headers, timeout=30, allow_redirects=False)  # fmt: skip
        if not refused_as_token(r) or "P0123456789abcdef" in r.text:
            wrong.append((method, path, r.status_code, r.text[:120]))
    assert wrong == [], (kind, transport, wrong)
    assert browser_kernels(lab) == kernels_before  # no kernel was started
    assert lab.kernel.api("GET", "api/contents/by-token.py?content=0").status_code == 404


@pytest.mark.parametrize("transport", TOKEN_TRANSPORTS)
@pytest.mark.parametrize("kind", TOKEN_KINDS)
def test_when_a_token_opens_a_kernels_websocket_through_the_proxy_then_no_code_runs(
    lab, attacker_tokens, kind, transport
):
    """The websocket of alice's running kernel, opened with a token (as a script would, with a
    browser's websocket headers and origin): the handshake is refused, so no cell runs."""
    import asyncio

    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    ws = f"{lab.hub.url}/user/alice/api/kernels/{lab.kernel.kernel_id}/channels".replace("http", "ws", 1)  # fmt: skip
    url, headers = with_token(ws, attacker_tokens[kind], transport)
    headers.update({"Origin": lab.hub.url, "Sec-Fetch-Mode": "websocket"})

    async def handshake() -> int:
        try:
            conn = await websocket_connect(HTTPRequest(url, headers=headers))
        except HTTPClientError as e:
            return e.code
        conn.close()
        return 101

    assert asyncio.run(handshake()) == 403, (kind, transport)


def test_when_the_browser_session_drives_the_workspace_then_kernels_sessions_and_files_work(
    lab, contents_files
):
    """The same staff member's browser tab, through the same proxy: cookie, XSRF header on
    changes, the page's origin on the websocket. And JupyterLab's page holds no token to leak."""
    kernels = lab.kernel.api("GET", "api/kernels")
    assert kernels.status_code == 200 and lab.kernel.kernel_id in {k["id"] for k in kernels.json()}
    assert lab.kernel.execute("print(6 * 7)").out.strip() == "42"
    session = lab.kernel.api("POST", "api/sessions", timeout=60,
                             json={"path": "s.ipynb", "type": "notebook", "kernel": {"name": "shuyu"}})  # fmt: skip
    assert session.status_code == 201, session.text[:200]
    try:
        assert session.json()["id"] in {
            s["id"] for s in lab.kernel.api("GET", "api/sessions").json()
        }
    finally:
        assert lab.kernel.api("DELETE", f"api/sessions/{session.json()['id']}").status_code == 204
    saved = lab.kernel.api("PUT", "api/contents/by-browser.py",
                           json={"type": "file", "format": "text", "content": "x = 1\n"})  # fmt: skip
    assert saved.status_code in (200, 201), saved.text[:200]
    read = lab.kernel.api("GET", "api/contents/by-browser.py?content=1&format=text")
    assert read.status_code == 200 and read.json()["content"] == "x = 1\n"
    page = lab.kernel.api("GET", "lab").text
    config = json.loads(re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', page, re.S).group(1))  # fmt: skip
    assert config["token"] == ""


def test_when_the_browser_session_changes_something_without_xsrf_then_it_is_refused(lab):
    """A cookie alone (what another site's page could make a browser send) changes nothing:
    jupyter-server's XSRF check on changes and its origin check on websockets hold."""
    import asyncio

    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    kernels_before = browser_kernels(lab)
    browser = lab.browsers["alice"].s
    started = browser.post(f"{lab.kernel.base}api/kernels", json={}, timeout=30)
    assert started.status_code == 403, started.text[:200]
    assert browser_kernels(lab) == kernels_before
    ws = lab.kernel.base.replace("http", "ws", 1) + f"api/kernels/{lab.kernel.kernel_id}/channels"
    headers = {**lab.kernel.ws_headers(), "Origin": "http://attacker.example"}

    async def handshake() -> int:
        try:
            conn = await websocket_connect(HTTPRequest(ws, headers=headers))
        except HTTPClientError as e:
            return e.code
        conn.close()
        return 101

    assert asyncio.run(handshake()) in (403, 404)


def test_when_jupyterlab_lists_folders_then_names_are_shown_without_content(lab, contents_files):
    listing = lab.kernel.api("GET", "api/contents/")
    assert listing.status_code == 200
    names = {item["name"]: item for item in listing.json()["content"]}
    assert {"result.csv", "note.ipynb"} <= set(names)
    assert all(item["content"] is None for item in names.values())
    meta = lab.kernel.api("GET", "api/contents/result.csv?content=0")
    assert meta.status_code == 200 and meta.json()["content"] is None


def test_when_jupyterlab_opens_and_saves_a_notebook_then_it_works_but_raw_files_stay_inside(
    lab, contents_files
):
    """JupyterLab in the browser (signed in through the hub: password and one-time code) opens
    and saves notebooks and text; no file's raw bytes leave, and no file is uploaded."""
    lab_headers = lab.browsers["alice"].lab_headers("alice")
    browser = lab.browsers["alice"].s
    opened = browser.get(f"{contents_files}/note.ipynb?type=notebook&content=1",
                         headers=lab_headers, timeout=10)  # fmt: skip
    assert opened.status_code == 200 and opened.json()["content"]["nbformat"] == 4
    notebook = opened.json()["content"]
    notebook["cells"][0]["source"] = "print('edited in JupyterLab')"
    saved = browser.put(f"{contents_files}/note.ipynb", headers=lab_headers, timeout=10,
                        json={"type": "notebook", "format": "json", "content": notebook})  # fmt: skip
    assert saved.status_code == 200, saved.text[:200]
    code = browser.put(f"{contents_files}/train.py", headers=lab_headers, timeout=10,
                       json={"type": "file", "format": "text", "content": "print(1)\n"})  # fmt: skip
    assert code.status_code in (200, 201), code.text[:200]
    reopened = browser.get(f"{contents_files}/train.py?content=1&format=text",
                           headers=lab_headers, timeout=10)  # fmt: skip
    assert reopened.status_code == 200 and reopened.json()["content"] == "print(1)\n"
    for path in ("data.parquet?content=1", "data.parquet?content=1&format=base64",
                 "result.csv?content=1&format=base64"):  # fmt: skip
        raw = browser.get(f"{contents_files}/{path}", headers=lab_headers, timeout=10)
        assert raw.status_code == 403 and "PAR1" not in raw.text, path
    upload = browser.put(f"{contents_files}/up.csv", headers=lab_headers, timeout=10,
                         json={"type": "file", "format": "base64", "content": "aWQsbmFtZQo="})  # fmt: skip
    assert upload.status_code == 403


def test_when_kernels_are_listed_then_only_the_desensitized_one_is_offered(lab):
    specs = lab.kernel.api("GET", "api/kernelspecs").json()
    assert list(specs["kernelspecs"]) == ["shuyu"]
    assert specs["kernelspecs"]["shuyu"]["spec"]["display_name"] == "Shuyu Python (desensitized)"


def test_when_jupyterlab_opens_then_it_speaks_chinese_and_never_asks_for_internet_news(lab):
    """Defaults only: a user's own choice (English, one click in the Language menu) wins."""

    def composite(plugin: str) -> dict:
        r = lab.kernel.api("GET", f"lab/api/settings/{plugin}")
        assert r.status_code == 200, (plugin, r.status_code)
        body = r.json()  # what JupyterLab applies: the schema's defaults, then the user's own
        defaults = {k: v.get("default") for k, v in body["schema"]["properties"].items()}
        return {**defaults, **body["settings"]}

    assert composite("@jupyterlab/translation-extension:plugin")["locale"] == "zh_CN"
    news = composite("@jupyterlab/apputils-extension:notification")
    assert news["fetchNews"] == "false" and news["checkForUpdates"] is False
    packs = lab.kernel.api("GET", "lab/api/translations").json()["data"]
    assert {"zh_CN", "en"} <= set(packs), sorted(packs)


def test_when_the_workspace_calls_the_hub_api_and_the_gateway_then_both_answer(lab):
    result = lab.kernel.execute(
        "code, body = api('GET', '/user'); print(code, json.loads(body)['name']);"
        "r = urllib.request.urlopen(os.environ['SHUYU_GATEWAY_URL'] + '/services/gateway/api/health', timeout=5); print(r.status)"
    )
    assert result.out.split() == ["200", "alice", "200"], result


def test_when_the_sdk_samples_in_a_kernel_then_the_dataframe_is_desensitized(lab):
    """The issue's own path, from a real tenant kernel through the tenant's link: the catalog,
    then a sample of exactly the approved columns in which no raw identifier appears."""
    result = lab.kernel.execute(
        "from sdk import Workspace\n"
        "ws = Workspace()\n"
        "names = [d.name for d in ws.datasets.list()]\n"
        "df = ws.datasets.get('medical_visits').sample()\n"
        "print(json.dumps({'names': names, 'columns': list(df.columns), 'rows': len(df),"
        " 'cells': [str(v) for v in df.to_numpy().ravel()]}, ensure_ascii=False))"
    )
    served = json.loads(result.out)
    assert "medical_visits" in served["names"]
    assert served["columns"] == world.DATA_LISTS[3][3].split()
    assert 0 < served["rows"] <= 15  # 5 % of the lab's 300 rows
    import pyarrow.parquet as pq

    raw = pq.read_table(lab.values["raw"]).to_pandas()
    cells = "\0".join(served["cells"])
    for column in ("patient_id", "mobile", "visit_id"):
        assert not [v for v in raw[column].astype(str) if v in cells], column


def test_when_the_science_set_is_used_in_a_kernel_then_models_fit_and_figures_show_inline(lab):
    """Issue 15: every package of pyproject's ``science`` extra imports in the sandboxed kernel,
    scikit-learn, LightGBM and XGBoost each fit a tiny model, and a matplotlib figure comes back
    inline as a PNG."""
    imported = lab.kernel.execute(science_set.IMPORT_ALL, timeout=180)
    assert not imported.ename, imported
    assert imported.stdout.split() == [
        "IMPORTED",
        ",".join(sorted(science_set.SCIENCE_MODULES.values())),
    ], imported
    fitted = lab.kernel.execute(science_set.FIT_TINY, timeout=180)
    assert not fitted.ename, fitted
    assert fitted.stdout.split()[0] == "FITTED", fitted
    assert science_set.QUIET not in fitted.stderr, fitted.stderr
    assert all(float(s) > 0.8 for s in fitted.stdout.split()[1:]), fitted
    figure = lab.kernel.execute(
        "import matplotlib, matplotlib.pyplot as plt\n"
        "print(matplotlib.get_backend())\n"
        "plt.plot([1, 3, 2]); plt.title('inline')",
        timeout=180,
    )
    assert not figure.ename, figure
    assert "matplotlib_inline" in figure.stdout, figure
    pngs = [b["image/png"] for b in figure.bundles if "image/png" in b]
    assert len(pngs) == 1, figure
    assert base64.b64decode(pngs[0]).startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(
    "case, code, expected",
    [
        (
            "a dataset the scenario was not approved for",
            "Workspace().datasets.get('transit_trips').sample()",
            "not_approved",
        ),
        (
            "bob's token (another company's) used from alice's workspace",
            "Workspace(token=BOB).datasets.get('transit_trips').sample()",
            "wrong_network",
        ),
        (
            "bob's token asking for the catalog from alice's workspace",
            "Workspace(token=BOB).datasets.list()",
            "wrong_network",
        ),
    ],
)
def test_when_the_sdk_reaches_for_data_it_may_not_have_then_it_is_refused(
    lab, case, code, expected
):
    # A token of bob's made for this attack: the one in lab.tokens must stay out of alice's
    # memory, where another test searches for it.
    stolen = user_token(lab.browsers["bob"], lab.hub.url, "bob")
    result = lab.kernel.execute(
        f"from sdk import Workspace, AccessDenied\nBOB = {stolen!r}\n"
        f"try:\n    {code}; print('LEAK')\n"
        "except AccessDenied as e:\n    print('BLOCKED', e.code)"
    )
    assert result.out.split() == ["BLOCKED", expected], (case, result)


def test_when_the_example_notebook_runs_in_a_kernel_then_every_cell_succeeds(lab):
    notebook = json.loads(
        (
            Path(__file__).resolve().parents[2] / "notebooks" / "desensitized_samples.ipynb"
        ).read_text()
    )
    outputs = []
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            result = lab.kernel.execute("".join(cell["source"]))
            assert not result.ename, (cell["source"], result)
            outputs.append(result.out)
    assert "not approved" in outputs[-1] and "未获准" in outputs[-1]


def test_when_a_result_is_exported_from_a_kernel_then_the_download_is_the_approved_file(lab):
    """The export path end to end from a real tenant kernel: submit, platform checks, two
    reviewers, download inside the workspace with the approved SHA-256."""
    from hub.review import lifecycle

    submitted = lab.kernel.execute(
        "import time\n"
        "from sdk import Workspace\n"
        "from sdk.disclosure import crosstab\n"
        "ws = Workspace(scenario='普惠健康险定价')\n"
        "visits = ws.datasets.get('medical_visits').sample()\n"
        "table = crosstab(visits.assign(n=1), 'gender', values='cost')\n"
        "req = ws.exports.create(table, purpose='性别费用 / cost by gender', name='by-gender')\n"
        "while req.reload().status != 'in_review': time.sleep(0.2)\n"
        "print(req.id, req.sha256)"
    )
    request_id, sha = submitted.stdout.split()  # the quote shown before sending is display data
    for reviewer in ("rita", "ryan"):  # the lab's 15-row sample makes small cells: overridden
        with lab.db.session() as s:
            lifecycle.decide(s, int(request_id), reviewer, "approve",
                             "测试样本的小格，已核实 / test sample, verified", override=True)  # fmt: skip
    downloaded = lab.kernel.execute(
        "import hashlib\n"
        "path = req.download('/home/workspace/by-gender.parquet')\n"
        "print(req.reload().status, hashlib.sha256(path.read_bytes()).hexdigest())"
    )
    assert downloaded.out.split() == ["released", sha], downloaded
    with lab.db.session() as s:
        assert lifecycle.get(s, int(request_id)).content_sha256 == sha


def test_when_a_cell_runs_then_the_audit_trail_holds_it_before_the_result(lab):
    marker = "audit-marker-7f3a"
    assert lab.kernel.execute(f"print({marker!r})").out.strip() == marker
    with lab.db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT actor, tenant, details FROM audit_events WHERE action = 'kernel.execute' AND details LIKE :m"
            ),
            {"m": f"%{marker}%"},
        ).all()
    assert len(rows) == 1
    actor, tenant, details = rows[0]
    assert actor == "alice" and tenant.startswith("tenant-")


def test_when_the_workspace_environment_is_read_then_it_holds_no_hub_secret(lab):
    result = lab.kernel.execute("print(sorted(os.environ))")
    names = result.out
    for secret in (
        "SHUYU_DB_URL",
        "SHUYU_HOME",
        "JUPYTERHUB_CRYPT_KEY",
        "CONFIGPROXY_AUTH_TOKEN",
        "JUPYTERHUB_COOKIE_SECRET",
    ):
        assert secret not in names
    assert "JUPYTERHUB_API_TOKEN" in names and "SHUYU_GATEWAY_URL" in names


def test_when_the_server_restarts_then_the_home_is_kept(lab):
    lab.kernel.execute("open('/home/workspace/persist.txt', 'w').write('still here')")
    headers = {"Authorization": f"token {lab.tokens['alice']}"}
    assert requests.delete(
        f"{lab.hub.url}/hub/api/users/alice/server", headers=headers, timeout=60
    ).status_code in (202, 204)
    assert wait_for(
        lambda: (
            requests.get(f"{lab.hub.url}/hub/api/users/alice", headers=headers, timeout=5).json()[
                "servers"
            ]
            == {}
        ),
        30,
    )
    assert requests.post(
        f"{lab.hub.url}/hub/api/users/alice/server", headers=headers, timeout=60
    ).status_code in (201, 202)
    assert wait_for(lambda: lab.browsers["alice"].server_status("alice") == 200, 60)
    from tests.e2e.kernel_client import Kernel

    lab.kernel = Kernel(lab.browsers["alice"], "alice")
    lab.kernel.execute(HELPERS)
    assert (
        lab.kernel.execute("print(open('/home/workspace/persist.txt').read())").out.strip()
        == "still here"
    )


def workspace_uid(lab, user: str) -> int:
    from hub.admission import load_staff

    with lab.db.session() as s:
        return tenant_uid(load_staff(s, user).tenant.id)


def workspace_processes(uid: int) -> list[int]:
    """Host pids of every process running as ``uid`` (one tenant's workspace processes)."""
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if p.stat().st_uid == uid:
                    found.append(int(p.name))
            except OSError:
                continue
    return found


def read_memory(pid: int):
    """Each readable memory region of process ``pid``, as bytes (none once it has ended)."""
    try:
        with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
            regions = maps.read().splitlines()
            for line in regions:
                fields = line.split()
                if "r" not in fields[1] or fields[-1] in ("[vvar]", "[vsyscall]"):
                    continue
                start, end = (int(x, 16) for x in fields[0].split("-"))
                try:
                    mem.seek(start)
                    chunk = mem.read(end - start)
                except OSError:
                    continue
                yield chunk
    except (FileNotFoundError, ProcessLookupError):
        return


def memory_holds(pid: int, needles: dict[str, bytes]) -> list[str]:
    """Names of the ``needles`` found anywhere in the readable memory of process ``pid``."""
    found = set()
    for chunk in read_memory(pid):
        found.update(name for name, needle in needles.items() if needle in chunk)
    return sorted(found)


def server_tokens(pids: list[int]) -> set[bytes]:
    """The hub API tokens the processes hold in their environment (read from their memory)."""
    tokens = set()
    for pid in pids:
        for chunk in read_memory(pid):
            tokens.update(re.findall(rb"JUPYTERHUB_API_TOKEN=([0-9a-f]{32,64})", chunk))
    return tokens


def test_when_a_workspace_is_inspected_from_the_host_then_it_holds_no_other_secret(lab):
    """Servers and kernels start as forks of one warm zygote (in the sandbox spawner): whatever
    the workspace can read of its own memory must hold no other user's token and no hub secret.
    Runs after the restart above, so alice's server was forked after bob's spawn."""
    alice = workspace_processes(workspace_uid(lab, "alice"))
    bob = workspace_processes(workspace_uid(lab, "bob"))
    assert alice and bob
    bob_tokens, alice_tokens = server_tokens(bob), server_tokens(alice)
    assert bob_tokens and alice_tokens and not bob_tokens & alice_tokens
    needles = {
        "the cookie secret": (lab.home / "secrets" / "jupyterhub_cookie_secret").read_bytes(),
        "the proxy token": (lab.home / "secrets" / "proxy_auth_token").read_bytes(),
        "the ID-number pepper": (lab.home / "secrets" / "id_pepper").read_bytes(),
        "bob's API token": lab.tokens["bob"].encode(),
    }
    needles = {name: value.strip() for name, value in needles.items()}
    needles.update({f"bob's server token {i}": t for i, t in enumerate(bob_tokens)})
    assert all(len(n) >= 16 for n in needles.values())
    for pid in alice:
        assert memory_holds(pid, needles) == [], pid


def test_when_the_sandbox_is_forked_into_then_no_process_environment_holds_the_token(lab):
    """With the zygote the server's token travels only in the fork request: not in the
    environment any process was started with — bwrap, the placeholder and the forks included."""
    if lab.spawner != "tenant-sandbox":
        pytest.skip("the zygote is the sandbox spawner's")
    tokens = server_tokens(workspace_processes(workspace_uid(lab, "alice")))
    assert tokens  # the server does hold it, in its memory
    holders = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                environ = (p / "environ").read_bytes()
            except OSError:
                continue
            if any(t in environ for t in tokens):
                holders.append((p.name, (p / "cmdline").read_bytes()[:60]))
    assert holders == []


def test_when_a_workspace_process_is_inspected_then_it_runs_unprivileged_and_filtered(lab):
    """Every process of the workspace, server included: the tenant's uid, no capability in any
    set, no new privileges, a seccomp filter."""
    uid = workspace_uid(lab, "alice")
    pids = workspace_processes(uid)
    assert len(pids) >= 2  # at least the server and the kernel
    for pid in pids:
        status = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        )
        assert set(status["Uid"].split()) == {str(uid)}, (pid, status["Uid"])
        assert set(status["Gid"].split()) == {str(uid)}, (pid, status["Gid"])
        for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            assert int(status[cap], 16) == 0, (pid, cap, status[cap])
        assert status["NoNewPrivs"].strip() == "1", pid
        assert status["Seccomp"].strip() == "2", pid
        assert status["Groups"].strip() in ("", str(uid)), pid


def test_when_the_workspace_starts_then_the_sdk_imports_and_lab_offers_chinese_without_downloads(
    lab,
):
    assert lab.kernel.execute("import sdk; print(sdk.__name__)").out.strip() == "sdk"
    languages = lab.kernel.api("GET", "lab/api/translations").json()["data"]
    assert "zh_CN" in languages
    page = lab.kernel.api("GET", "lab").text
    config = json.loads(
        re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', page, re.S).group(1)
    )
    assert {
        "@jupyterlab/docmanager-extension:download",
        "@jupyterlab/filebrowser-extension:download",
    } <= set(config["disabledExtensions"])
    assert config["extensionManager"]["can_install"] is False
    assert config["token"] == ""  # JupyterLab calls with the cookie: no token in the page


def test_when_a_colleague_shares_a_file_then_it_shows_in_the_shared_folder_of_jupyterlab(lab):
    lab.kernel.execute("open('/home/workspace/shared/for-the-team.txt', 'w').write('hello')")
    listing = lab.kernel.api("GET", "api/contents/shared").json()
    assert "for-the-team.txt" in [item["name"] for item in listing["content"]]
    group = f"tenant-{world.TENANTS[0]['uscc'].lower()}"
    shared = Path(lab.values["home"]) / "workspaces" / group / "shared"
    assert (
        shared / "for-the-team.txt"
    ).stat().st_uid >= UID_BASE  # written by the tenant, not root


def outside_connect(host: str, port: int) -> bool:
    """Whether the simulated outside host (a namespace of this test) can open ``host:port``."""
    code = f"import socket; s = socket.socket(); s.settimeout(2); print(s.connect_ex(({host!r}, {port})))"
    out = subprocess.run(
        ["ip", "netns", "exec", OUTSIDE_NS, sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=20,
    ).stdout.strip()
    return out == "0"


def test_when_the_outside_world_knocks_then_the_hub_api_and_gateway_ports_stay_closed(lab):
    # The outside host reaches the host (a decoy listening on every address answers it) ...
    assert outside_connect(OUTSIDE_HOST_IP, lab.values["decoy_port"])
    # ... but not the hub API or the gateway, which listen on loopback only.
    assert not outside_connect(OUTSIDE_HOST_IP, lab.values["hub_port"])
    assert not outside_connect(OUTSIDE_HOST_IP, lab.values["gateway_port"])


GATEWAY_PATHS = [
    "/services/gateway/api/v1/datasets",
    "/services/gateway/api/v1/datasets/medical_visits/sample?scenario=%E6%99%AE%E6%83%A0%E5%81%A5%E5%BA%B7%E9%99%A9%E5%AE%9A%E4%BB%B7",
    "/services/gateway/api/v1/me",
    "/services/gateway/api/health",
    "/services/gateway//api/v1/datasets",
    "/services/gateway%2Fapi/v1/datasets",
    "/services/Gateway/api/v1/datasets",
    "/hub/../services/gateway/api/v1/datasets",
    "/services/./gateway/api/v1/datasets",
]


@pytest.mark.parametrize("path", GATEWAY_PATHS)
def test_when_a_workspace_token_calls_the_gateway_through_the_public_proxy_then_nothing_is_served(
    lab, path
):
    """The token is in every kernel's environment; copied to a laptop, it must reach no data."""
    for scheme in ("token", "Bearer"):
        r = requests.get(
            f"{lab.hub.url}{path}",
            headers={"Authorization": f"{scheme} {lab.tokens['alice']}"},
            timeout=10,
            allow_redirects=False,
        )
        assert r.status_code in (302, 403, 404), (path, r.status_code, r.text[:200])
        assert "medical_visits" not in r.text and "tenant-" not in r.text and '"ok"' not in r.text


def _listening(port: int) -> set[str]:
    out = subprocess.run(["ss", "-Htln", f"sport = :{port}"], capture_output=True, text=True)
    return {line.split()[3].rsplit(":", 1)[0] for line in out.stdout.splitlines() if line.strip()}


def test_when_the_hub_api_and_the_gateway_listen_then_only_on_loopback(lab):
    for port in (lab.values["hub_port"], lab.values["gateway_port"]):
        assert _listening(port) == {"127.0.0.1"}, (port, _listening(port))


def test_when_the_host_calls_another_of_its_own_addresses_then_the_hub_api_and_gateway_refuse(lab):
    """A host address no workspace uses (the test's outside link, on this host) leads nowhere,
    and neither does a tenant link's host address called from the host itself (no translation)."""
    import socket

    for host in (OUTSIDE_HOST_IP, lab.values["host_ip"]):
        for port in (lab.values["hub_port"], lab.values["gateway_port"]):
            with socket.socket() as s:
                s.settimeout(2)
                assert s.connect_ex((host, port)) != 0, (host, port)


@pytest.mark.parametrize(
    "header", ["X-Forwarded-For: 169.254.100.6", "X-Real-IP: 169.254.100.6", "Forwarded: for=x"]
)
def test_when_a_gateway_call_carries_proxy_headers_then_it_is_refused(lab, header):
    name, value = header.split(": ", 1)
    code = (
        "req = urllib.request.Request(os.environ['SHUYU_GATEWAY_URL'] + '/services/gateway/api/v1/me',"
        f" headers={{'Authorization': 'token ' + TOKEN, {name!r}: {value!r}}})\n"
        "try:\n"
        "    urllib.request.urlopen(req, timeout=10); print('LEAK accepted')\n"
        "except urllib.error.HTTPError as e:\n"
        "    print('BLOCKED', e.code)\n"
    )
    result = lab.kernel.execute(code)
    assert result.out.split() == ["BLOCKED", "403"], (header, result)


@pytest.mark.parametrize(
    "case, headers, expected",
    [
        ("no token", {}, 401),
        ("a forged token", {"Authorization": "token 0123456789abcdef0123456789abcdef"}, 403),
    ],
)
def test_when_the_gateway_is_called_without_a_valid_token_then_it_refuses(
    lab, case, headers, expected
):
    code = (
        "req = urllib.request.Request(os.environ['SHUYU_GATEWAY_URL'] + '/services/gateway/api/executions',"
        f" method='POST', data=b'{{}}', headers={headers!r})\n"
        "try:\n"
        "    urllib.request.urlopen(req, timeout=10); print('LEAK accepted')\n"
        "except urllib.error.HTTPError as e:\n"
        "    print('BLOCKED', e.code)\n"
    )
    result = lab.kernel.execute(code)
    assert result.out.split() == ["BLOCKED", str(expected)], (case, result)


def test_when_the_tenant_is_suspended_then_its_cells_no_longer_run_and_its_server_stops(lab):
    from hub.ops import Ctx, tenants

    name = world.TENANTS[0]["name"]
    headers = {"Authorization": f"token {lab.tokens['alice']}"}

    def serving() -> bool:
        return lab.browsers["alice"].server_status("alice") == 200

    with lab.db.session() as s:
        tenants.change_status(
            Ctx(session=s, actor="attack-suite"), name, "suspend", "抽查 / spot check"
        )
    try:
        result = lab.kernel.execute("print('ran while suspended')", timeout=30)
        assert "ran while suspended" not in result.out, result
        assert wait_for(lambda: not serving(), 30)  # the enforcer stopped the server
    finally:
        with lab.db.session() as s:
            tenants.change_status(
                Ctx(session=s, actor="attack-suite"), name, "reinstate", "恢复 / restored"
            )
    user = f"{lab.hub.url}/hub/api/users/alice"
    # A container takes a while to stop: the hub refuses a new start until it has.
    assert wait_for(
        lambda: requests.get(user, headers=headers, timeout=5).json()["servers"] == {}, 60
    )
    assert requests.post(f"{user}/server", headers=headers, timeout=60).status_code in (201, 202)
    assert wait_for(serving, 90)
    from tests.e2e.kernel_client import Kernel

    lab.kernel = Kernel(lab.browsers["alice"], "alice")
    lab.kernel.execute(HELPERS)
    assert lab.kernel.execute("print('back')").out.strip() == "back"


def test_when_a_kernel_is_interrupted_restarted_or_shut_down_then_it_behaves_as_usual(lab):
    """Kernels forked from the server's kernel zygote keep the kernel lifecycle: interrupt,
    restart and shutdown through the server's API."""
    import threading

    from tests.e2e.kernel_client import Kernel

    kernel = Kernel(lab.browsers["alice"], "alice")
    api = f"api/kernels/{kernel.kernel_id}"
    first_pid = kernel.execute("import os; print(os.getpid())").out.strip()
    timer = threading.Timer(2, lambda: kernel.api("POST", f"{api}/interrupt"))
    timer.start()
    interrupted = kernel.execute("import time; time.sleep(60)", timeout=30)
    timer.join()
    assert interrupted.ename == "KeyboardInterrupt", interrupted
    assert kernel.execute("print(6 * 7)").out.strip() == "42"

    r = kernel.api("POST", f"{api}/restart", timeout=60)
    assert r.status_code == 200, r.text
    assert wait_for(lambda: kernel.execute("print(os.getpid())").ename == "NameError", 30)
    assert kernel.execute("import os; print(os.getpid())").out.strip() != first_pid

    assert kernel.api("DELETE", api).status_code == 204
    assert kernel.api("GET", api).status_code == 404


def test_when_a_kernel_runs_then_its_channels_are_private_unix_sockets_not_tcp_ports(lab):
    """Colleagues share their tenant's network: kernel channels on loopback TCP ports could
    collide between their servers and be reached from a colleague's workspace, so kernels talk to
    their server over Unix sockets in the staff member's own runtime folder."""
    result = lab.kernel.execute(
        "import stat\n"
        "from ipykernel.kernelapp import IPKernelApp\n"
        "app = IPKernelApp.instance()\n"
        "info = {'transport': app.transport, 'ip': app.ip, **{k: getattr(app, k) for k in"
        " ('shell_port', 'iopub_port', 'stdin_port', 'hb_port', 'control_port')}}\n"
        "ports = [info[k] for k in info if k.endswith('_port')]\n"
        "sockets = [n for n in range(1, 6) if stat.S_ISSOCK(os.stat(f\"{info['ip']}-{n}\").st_mode)]\n"
        "print(json.dumps({'transport': info['transport'], 'ip': info['ip'], 'ports': ports, 'sockets': sockets}))"
    )
    seen = json.loads(result.out)
    assert seen["transport"] == "ipc", seen
    assert seen["ip"].startswith("/home/workspace/"), seen
    assert len(seen["sockets"]) == 5 and sorted(seen["ports"]) == seen["sockets"], seen


FORGERIES = [
    ("an invented cell, with the user's token", {"code": "print('forged-7c1e')"}, {}),
    (
        "an invented cell, signed with a guessed key",
        {"code": "print('forged-7c1e')", "server": ""},
        {"X-Shuyu-Exec-Signature": "0" * 64},
    ),
    (
        "an invented file save",
        {"kind": "file_save", "path": "forged-7c1e.py", "content": "print(1)"},
        {},
    ),
]


@pytest.mark.parametrize("case, body, extra", FORGERIES, ids=[f[0] for f in FORGERIES])
def test_when_kernel_code_posts_an_execution_record_then_the_gateway_refuses_it(
    lab, case, body, extra
):
    """The kernel holds the user's API token; only the server holds the key that signs records."""
    code = (
        "req = urllib.request.Request(os.environ['SHUYU_GATEWAY_URL'] + '/services/gateway/api/executions',"
        f" method='POST', data=json.dumps({body!r}).encode(),"
        f" headers={{'Authorization': 'token ' + TOKEN, **{extra!r}}})\n"
        "try:\n"
        "    urllib.request.urlopen(req, timeout=10); print('LEAK accepted')\n"
        "except urllib.error.HTTPError as e:\n"
        "    print('BLOCKED', e.code)\n"
    )
    assert lab.kernel.execute(code).out.split() == ["BLOCKED", "403"], case
    with lab.db.engine.connect() as conn:
        forged = conn.execute(
            text("SELECT count(*) FROM audit_events WHERE details LIKE '%forged-7c1e%'"
                 " AND action IN ('kernel.execute', 'workspace.file_save') AND details NOT LIKE '%urllib%'")
        ).scalar()  # fmt: skip
    assert forged == 0


def test_when_kernel_code_looks_for_the_servers_signing_key_then_it_finds_none(lab):
    """Every process that held the key (the server; in Docker also pid 1, the workspace's init,
    started with the container's environment) is non-dumpable."""
    code = (
        "found = [k for k in os.environ if 'EXEC_KEY' in k]\n"
        "others = [p for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()]\n"
        "# the sandbox's placeholder (an exec'd sleep) holds nothing; servers and kernels do\n"
        "def comm(p):\n"
        "    try:\n"
        "        return open(f'/proc/{p}/comm').read().strip()\n"
        "    except OSError:\n"
        "        return ''\n"
        "for pid in [p for p in others if comm(p) != 'sleep']:\n"
        "    try:\n"
        "        os.close(os.open(f'/proc/{pid}/mem', os.O_RDONLY)); found.append((pid, 'mem'))\n"
        "    except OSError:\n"
        "        pass\n"
        "    try:\n"
        "        if b'EXEC_KEY' in open(f'/proc/{pid}/environ', 'rb').read(): found.append((pid, 'environ'))\n"
        "    except OSError:\n"
        "        pass\n"
        "print('LEAK', found) if found else print('BLOCKED')\n"
    )
    assert lab.kernel.execute(code).out.strip() == "BLOCKED"


DRIVE_ANOTHER_KERNEL = r"""
import glob, re, stat, zmq
from jupyter_client.session import Session
from jupyter_core.paths import jupyter_runtime_dir
from ipykernel.kernelapp import IPKernelApp
me = IPKernelApp.instance()
own = me.session.key
keys, files = set(), []
# 1. Connection files anywhere kernel code can read: they hold every kernel's key.
for root in {jupyter_runtime_dir(), '/home/workspace', '/tmp', '/var/tmp', '/run', '/dev/shm'}:
    for path in glob.glob(root + '/**/*.json', recursive=True):
        try:
            info = json.load(open(path))
        except Exception:
            continue
        if isinstance(info, dict) and info.get('key'):
            files.append(path)
            keys.add(info['key'].encode())
# 2. This kernel's own memory: a fork holds whatever its zygote held (another kernel's request).
UUID = re.compile(rb'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')
try:  # a non-dumpable kernel cannot open even its own /proc/self/mem
    maps, mem = open('/proc/self/maps'), open('/proc/self/mem', 'rb', 0)
except OSError:
    maps = mem = None
if mem is not None:
    for line in maps.read().splitlines():
        fields = line.split()
        if 'r' not in fields[1] or fields[-1] in ('[vvar]', '[vsyscall]'):
            continue
        start, end = (int(x, 16) for x in fields[0].split('-'))
        try:
            mem.seek(start)
            keys.update(UUID.findall(mem.read(end - start)))
        except (OSError, ValueError, OverflowError):
            continue
keys.discard(own)
# 3. Every other kernel's channels: Unix sockets in the runtime folders, or loopback TCP ports.
sockets = []
for root in {os.path.dirname(me.ip) if me.transport == 'ipc' else '', jupyter_runtime_dir(), '/tmp'}:
    for path in glob.glob(root + '/**', recursive=True) if root else []:
        try:
            if stat.S_ISSOCK(os.stat(path).st_mode) and not path.startswith(me.ip + '-'):
                sockets.append('ipc://' + path)
        except OSError:
            pass
ctx = zmq.Context.instance()
marker = '/home/workspace/.driven-over-zmq'
live = []
for url in sockets:
    d = ctx.socket(zmq.DEALER)
    d.linger, d.sndhwm, d.sndtimeo = 0, 0, 1000
    d.connect(url)
    live.append(d)
for key in sorted(keys):
    session = Session(key=key, username='attacker')
    for d in live:
        try:
            session.send(d, 'execute_request', {'code': f'open({marker!r}, "w").write("driven")',
                'silent': False, 'store_history': False, 'user_expressions': {}, 'allow_stdin': False})
        except zmq.ZMQError:
            pass
time.sleep(5)
if os.path.exists(marker):
    os.unlink(marker)
    print('LEAK drove another kernel over ZMQ', files, len(keys), sockets)
else:
    print('BLOCKED', len(files), 'connection files;', len(keys), 'candidate keys;', len(sockets), 'sockets')
for d in live:
    d.close()
"""


def test_when_kernel_code_tries_to_drive_another_kernel_over_zmq_then_it_cannot(lab):
    """A connection file (or a copy of another kernel's request in a forked kernel's memory)
    holds the key that signs a kernel's messages: with it, kernel code could run code in the
    user's other kernels over ZeroMQ, around the audited websocket. The attacker is started after
    the victim, so it is forked after the victim's request reached the kernel zygote."""
    from tests.e2e.kernel_client import Kernel

    victim = Kernel(lab.browsers["alice"], "alice")
    attacker = Kernel(lab.browsers["alice"], "alice")
    try:
        assert victim.execute("print('victim up')").out.strip() == "victim up"
        result = attacker.execute(HELPERS + DRIVE_ANOTHER_KERNEL, timeout=120)
        assert result.out.strip().startswith("BLOCKED 0 connection files"), result
        assert (
            victim.execute(
                "import os; print(os.path.exists('/home/workspace/.driven-over-zmq'))"
            ).out.strip()
            == "False"
        )
    finally:
        for kernel in (victim, attacker):
            kernel.api("DELETE", f"api/kernels/{kernel.kernel_id}", timeout=30)


def test_when_a_kernel_is_inspected_from_the_host_then_it_holds_no_signing_key_or_other_kernels_key(
    lab,
):
    """Kernels are forks: whatever their zygote held is in their memory, where kernel code can
    read it. Neither the server's signing key nor another kernel's connection key may be there."""
    from hub import execution_keys, home
    from tests.e2e.kernel_client import Kernel

    key = execution_keys.server_key(home.secret(execution_keys.MASTER, lab.home), "alice", "")
    first = Kernel(lab.browsers["alice"], "alice")
    second = Kernel(lab.browsers["alice"], "alice")
    try:
        own = "from ipykernel.kernelapp import IPKernelApp; import os; a = IPKernelApp.instance()"
        own += "; print(os.getpid(), a.session.key.decode())"
        (pid1, key1), (pid2, key2) = (k.execute(own).out.split() for k in (first, second))
        hosts = {ns_pid: host for host, ns_pid in namespace_pids(workspace_uid(lab, "alice"))}
        needles = {"the signing key": key.encode(), "the signing key, raw": bytes.fromhex(key)}
        assert (
            memory_holds(hosts[int(pid1)], {**needles, "the second kernel's key": key2.encode()})
            == []
        )
        assert (
            memory_holds(hosts[int(pid2)], {**needles, "the first kernel's key": key1.encode()})
            == []
        )
    finally:
        for kernel in (first, second):
            kernel.api("DELETE", f"api/kernels/{kernel.kernel_id}", timeout=30)


def namespace_pids(uid: int) -> list[tuple[int, int]]:
    """(host pid, pid inside its sandbox or container) of every process running as ``uid``."""
    found = []
    for pid in workspace_processes(uid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        nspid = [line.split()[1:] for line in status.splitlines() if line.startswith("NSpid:")]
        if nspid:
            found.append((pid, int(nspid[0][-1])))
    return found


@pytest.mark.parametrize("folder", ["/tmp", "/dev/shm"])
def test_when_kernel_code_fills_tmp_then_it_ends_in_enospc_at_the_quota(lab, folder):
    """The private /tmp and /dev/shm are memory: each bounded on its own (at most 256 MiB by
    default), so filling one gives ENOSPC instead of eating the workspace's memory limit."""
    code = (
        "import errno\n"
        "written, outcome = 0, 'no limit'\n"
        "try:\n"
        f"    with open('{folder}/fill.bin', 'wb') as f:\n"
        "        for _ in range(1024):\n"
        "            f.write(b'x' * (1 << 20)); f.flush(); written += 1 << 20\n"
        "except OSError as e:\n"
        "    outcome = errno.errorcode[e.errno]\n"
        "finally:\n"
        f"    os.unlink('{folder}/fill.bin')\n"
        f"st = os.statvfs('{folder}')\n"
        "print(outcome, written >> 20, (st.f_blocks * st.f_frsize) >> 20)\n"
    )
    outcome, written_mib, size_mib = lab.kernel.execute(code, timeout=120).out.split()
    assert outcome == "ENOSPC", (outcome, written_mib)
    assert int(size_mib) <= 256 and int(written_mib) <= int(size_mib)
    if folder == "/tmp":
        assert int(size_mib) == 256


def test_when_kernel_code_fills_its_home_then_it_ends_in_enospc_on_a_volume_of_its_own(lab):
    """Homes and shared folders are file systems of their own (1 GiB and 2 GiB here): asking for
    more fails with ENOSPC, and the disk holding the platform's DB gives nothing."""
    code = (
        "import errno\n"
        "out = {}\n"
        "for folder in ('/home/workspace', '/home/workspace/shared'):\n"
        "    fd = os.open(folder + '/fill.bin', os.O_WRONLY | os.O_CREAT, 0o600)\n"
        "    try:\n"
        "        os.posix_fallocate(fd, 0, 4 << 30); out[folder] = 'no limit'\n"
        "    except OSError as e:\n"
        "        out[folder] = errno.errorcode[e.errno]\n"
        "    finally:\n"
        "        os.close(fd); os.unlink(folder + '/fill.bin')\n"
        "    st = os.statvfs(folder); out[folder + ' MiB'] = (st.f_blocks * st.f_frsize) >> 20\n"
        "print(json.dumps(out))\n"
    )
    db = lab.home / "platform.sqlite"
    before = os.statvfs(db).f_bavail * os.statvfs(db).f_frsize
    # The last line: while the home is full, IPython's history thread may print its own warning
    # ('database or disk is full') to the same stream, which is the full disk working as meant.
    out = json.loads(lab.kernel.execute(code, timeout=120).out.strip().splitlines()[-1])
    after = os.statvfs(db).f_bavail * os.statvfs(db).f_frsize
    assert out["/home/workspace"] == out["/home/workspace/shared"] == "ENOSPC", out
    assert out["/home/workspace MiB"] <= 1024 and out["/home/workspace/shared MiB"] <= 2048, out
    assert before - after < 1 << 30  # the 4 GiB asked for never reached the host's disk
    alice_home = next((lab.home / "workspaces").glob("*/home/alice"))
    assert os.stat(alice_home).st_dev != os.stat(db).st_dev  # mounted on the host, bound inside


def test_when_a_file_is_saved_through_the_contents_api_then_the_audit_holds_its_content(lab):
    """``exec(open('a.py').read())`` runs what was saved: the save is recorded first. Saved as
    JupyterLab in the browser saves (the API token may not write file content)."""
    headers = lab.browsers["alice"].lab_headers("alice")
    marker = "saved-script-5d2b"
    saved = lab.browsers["alice"].s.put(
        f"{lab.hub.url}/user/alice/api/contents/a.py",
        json={"type": "file", "format": "text", "content": f"print({marker!r})\n"},
        headers=headers,
        timeout=10,
    )
    assert saved.status_code in (200, 201), saved.text
    assert lab.kernel.execute("exec(open('a.py').read())").out.strip() == marker
    with lab.db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT actor, details FROM audit_events WHERE action = 'workspace.file_save'"
                 " AND details LIKE :m"), {"m": f"%{marker}%"},
        ).all()  # fmt: skip
    assert len(rows) == 1 and rows[0][0] == "alice"
