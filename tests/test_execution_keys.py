"""Execution records are signed by the workspace server with a key of its own: the gateway's check
refuses every record another process could make or alter (kernel code holds the user's API token,
never the server's key)."""

from __future__ import annotations

import json

import pytest

from hub import execution_keys as keys
from kernels import exec_audit, forked_kernels

MASTER = b"m" * 32
BODY = json.dumps({"kind": "cell", "code": "print(1)", "server": ""}).encode()
GOOD = keys.sign(keys.server_key(MASTER, "alice", ""), BODY)

CASES = [
    ("signed by alice's server", "alice", "", BODY, GOOD, True),
    ("no signature", "alice", "", BODY, "", False),
    ("a guessed signature", "alice", "", BODY, "0" * 64, False),
    ("the body edited after signing", "alice", "", BODY.replace(b"1", b"2"), GOOD, False),
    ("alice's record sent as bob", "bob", "", BODY, GOOD, False),
    ("the default server's record for a named one", "alice", "gpu", BODY, GOOD, False),
    ("signed with the master itself", "alice", "", BODY, keys.sign(MASTER.hex(), BODY), False),
]


@pytest.mark.parametrize(
    "case, user, server, body, signature, accepted", CASES, ids=[c[0] for c in CASES]
)
def test_when_a_record_is_checked_then_only_the_servers_own_signature_passes(
    case, user, server, body, signature, accepted
):
    assert keys.verify(MASTER, user, server, body, signature) is accepted, case


def test_when_the_server_takes_its_key_then_the_environment_no_longer_holds_it(monkeypatch):
    key = keys.server_key(MASTER, "alice", "")
    monkeypatch.setenv(exec_audit.KEY_ENV, key)
    monkeypatch.setenv("SHUYU_GATEWAY_URL", "http://gw")
    monkeypatch.setattr(exec_audit, "_key", b"")
    exec_audit.take_key()
    assert exec_audit.KEY_ENV not in __import__("os").environ
    url, raw, headers = exec_audit.signed_request("executions", {"server": "", "code": "x"})
    assert url == "http://gw/services/gateway/api/executions"
    assert keys.verify(MASTER, "alice", "", raw, headers[exec_audit.SIGNATURE_HEADER])


def test_when_a_kernel_is_forked_then_its_command_names_no_connection_file():
    args = ["-f", "/run/kernel-1.json", "--debug", "--f=/x.json", "--IPKernelApp.x=1"]
    assert forked_kernels._without_connection_file(args) == ["--debug", "--IPKernelApp.x=1"]
    info = {"transport": "ipc", "ip": "/run/k", "signature_scheme": "hmac-sha256", "key": "abc"}
    info |= {f"{c}_port": i for i, c in enumerate(("shell", "iopub", "stdin", "hb", "control"), 1)}
    config = forked_kernels.connection_config(info)
    assert config.Session.key == b"abc" and config.IPKernelApp.hb_port == 4
