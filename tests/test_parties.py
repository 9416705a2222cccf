"""Parties through the ``shuyu`` CLI (SQLite and PostgreSQL): registration and its bundle, the
refusals, suspension, resumption and revocation, the audit trail, and the node commands handed
to ``python -m privacy`` in the privacy environment."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from sqlalchemy import select

from hub.db.engine import Database
from hub.db.models import AuditEvent, Party
from privacy import pki
from privacy.bundle import Bundle
from tests.cli_helpers import snapshot

BANK = "某银行"
TENANT = "甲科技"


def add(cli, *extra: str, name: str = BANK, address: str = "10.0.0.2:9470"):
    return cli("party", "add", "--name", name, "--tenant", TENANT, "--address", address, *extra)


def party_id(out: str) -> str:
    return out.split("（", 1)[1].split("）", 1)[0]


def events(db_url: str, prefix: str = "party.") -> list[AuditEvent]:
    db = Database(db_url)
    try:
        with db.session() as s:
            found = s.scalars(select(AuditEvent).where(AuditEvent.action.like(prefix + "%")))
            return [(e.action, e.object, e.reason, json.loads(e.details)) for e in found]
    finally:
        db.dispose()


def test_when_a_party_is_added_then_its_bundle_holds_all_its_node_needs_and_nothing_stays_behind(
    world, shuyu_home, db_url, tmp_path
):
    out_file = tmp_path / "bank.json"
    rc, out, err = add(world, "--out", str(out_file))
    assert rc == 0, err
    pid = party_id(out)
    assert pid.startswith("p-") and "bank.json" in out
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    bundle = Bundle.read(out_file)
    assert (bundle.party_id, bundle.party_name, bundle.tenant) == (pid, BANK, TENANT)
    assert bundle.node_address == "10.0.0.2:9470" and bundle.platform_address == "127.0.0.1:9470"
    assert pki.identity_of(bundle.cert_pem) == pki.party_identity(pid) == bundle.identity
    ca = (shuyu_home / "privacy" / "ca.pem").read_text()
    assert bundle.ca_pem == ca
    cert = x509.load_pem_x509_certificate(bundle.cert_pem.encode())
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca.encode()))
    # the key in the bundle is the certificate's: what it signs verifies with the certificate
    assert pki.verify(bundle.cert_pem, b"digest", pki.sign(bundle.key_pem, b"digest"))
    for key in ("ca.key", "platform/node.key"):
        assert stat.S_IMODE((shuyu_home / "privacy" / key).stat().st_mode) == 0o600
    platform = (shuyu_home / "privacy" / "platform" / "node.pem").read_text()
    assert pki.identity_of(platform) == pki.PLATFORM
    db = Database(db_url)
    with db.session() as s:
        party = s.get(Party, pid)
        assert party.fingerprint == pki.fingerprint(bundle.cert_pem) and party.status == "active"
        assert party.cert_pem == bundle.cert_pem
        assert bundle.key_pem.strip().splitlines()[1] not in json.dumps(
            [str(v) for v in vars(party).values()]
        )  # the private key left with the bundle
    db.dispose()
    [(action, obj, _, details)] = events(db_url)
    assert (action, obj) == ("party.add", f"party:{pid}")
    assert details["fingerprint"] == party.fingerprint and "key" not in json.dumps(
        details
    ).lower().replace("fingerprint", "")


def test_when_no_out_file_is_given_then_the_bundle_is_printed(world):
    rc, out, _ = add(world)
    assert rc == 0
    printed = json.loads(out[out.index("{") : out.rindex("}") + 1])
    assert printed["format"] == "shuyu-party-bundle/1" and printed["party_name"] == BANK
    assert "BEGIN PRIVATE KEY" in printed["key_pem"]


@pytest.mark.parametrize(
    "case, argv, zh, en",
    [
        ("unknown tenant", ["--name", BANK, "--tenant", "乙科技", "--address", "10.0.0.2:1"],
         "加工使用主体不存在", "unknown tenant"),
        ("no port", ["--name", BANK, "--tenant", TENANT, "--address", "10.0.0.2"],
         "节点地址须为", "HOST:PORT"),
        ("port out of range", ["--name", BANK, "--tenant", TENANT, "--address", "h:70000"],
         "节点地址须为", "HOST:PORT"),
        ("bad host", ["--name", BANK, "--tenant", TENANT, "--address", "bad host:80"],
         "节点地址须为", "HOST:PORT"),
        ("empty name", ["--name", " ", "--tenant", TENANT, "--address", "h:1"],
         "参与方名称不能为空", "party name must not be empty"),
    ],
)  # fmt: skip
def test_when_a_party_cannot_be_added_then_the_cli_says_why_and_writes_nothing(
    world, db_url, case, argv, zh, en
):
    db = Database(db_url)
    before = snapshot(db.engine)
    rc, _, err = world("party", "add", *argv)
    assert rc == 2 and zh in err and en in err, (case, err)
    assert snapshot(db.engine) == before
    db.dispose()


def test_when_a_name_is_taken_in_the_tenant_or_the_tenant_is_suspended_then_adding_is_refused(
    world,
):
    assert add(world)[0] == 0
    rc, _, err = add(world, address="10.0.0.3:9470")
    assert rc == 2 and "同名参与方" in err and "already has a party named" in err
    assert world("tenant", "suspend", TENANT, "--reason", "违规 / violation")[0] == 0
    rc, _, err = add(world, name="某保险")
    assert rc == 2 and "不能登记参与方" in err and "cannot register parties" in err


def test_when_a_party_is_suspended_resumed_and_revoked_then_each_step_is_audited_and_checked(
    world, db_url
):
    pid = party_id(add(world)[1])
    assert world("party", "suspend", pid, "--reason", "核查 / review")[0] == 0
    rc, _, err = world("party", "suspend", pid, "--reason", "again")
    assert rc == 2 and "只能暂停" in err and "only an active party" in err
    assert world("party", "resume", pid, "--reason", "核查完毕 / cleared")[0] == 0
    rc, out, _ = world("party", "revoke", pid, "--reason", "终止合作 / ended")
    assert rc == 0 and "revoked" in out
    rc, _, err = world("party", "resume", pid, "--reason", "x y")
    assert rc == 2 and "已撤销的须重新登记" in err and "revoked one must be registered again" in err
    rc, _, err = world("party", "suspend", "p-000000", "--reason", "x y")
    assert rc == 2 and "unknown party: p-000000" in err
    rc, out, _ = world("party", "list")
    assert rc == 0 and f"{pid}\t{BANK}\t{TENANT}\t10.0.0.2:9470\trevoked" in out
    steps = [(a, r, d["from"], d["to"]) for a, _, r, d in events(db_url) if a != "party.add"]
    assert steps == [
        ("party.suspend", "核查 / review", "active", "suspended"),
        ("party.resume", "核查完毕 / cleared", "suspended", "active"),
        ("party.revoke", "终止合作 / ended", "active", "revoked"),
    ]


def test_when_the_party_runs_a_node_command_then_it_is_python_m_privacy_in_the_privacy_env(
    tmp_path,
):
    log = tmp_path / "argv"
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\necho \"$@\" > '{log}'\n")
    python.chmod(0o755)
    settings = json.dumps({"privacy": {"privacy_python": str(python)}})
    env = {**os.environ, "SHUYU_SETTINGS": settings, "SHUYU_HOME": str(tmp_path / "h")}
    shuyu = Path(sys.executable).with_name("shuyu")
    for command in ("serve", "pending", "approve", "reject"):
        args = ["--bundle", "b.json", "--state", "st"]
        args += {
            "serve": ["--data", "d", "--listen", "10.0.0.2:9470"],
            "pending": ["--data", "d"],
        }.get(command, ["17"])
        done = subprocess.run([str(shuyu), "party", command, *args], env=env, capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        seen = log.read_text().split()
        assert seen[:3] == ["-m", "privacy", command] and sorted(seen[3:]) == sorted(args)
        if command in ("approve", "reject"):
            assert seen[-1] == "17"  # the request id, after the flags
