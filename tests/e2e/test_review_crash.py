"""Decisions survive crashes: kill -9 of the hub with everything it started, or of the gateway
alone, mid-review loses no decision; checks a crash interrupted are finished by the restarted
gateway; the audit chain still verifies. On SQLite and PostgreSQL."""

from __future__ import annotations

import io
import os
import signal
import time
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from hub import audit, home
from hub.db.models import Scenario, Staff
from hub.review import lifecycle
from sdk import Workspace
from sdk.disclosure import crosstab
from tests.e2e.conftest import api_tokens, gateway_url
from tests.e2e.hub_process import crash, descendants

pytestmark = pytest.mark.e2e


def until(request, status: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while request.reload().status != status:
        assert time.monotonic() < deadline, request.attrs
        time.sleep(0.3)


@pytest.fixture(scope="module")
def alice(hub) -> Workspace:
    """alice's workspace; her API token outlives a crash (the hub's DB keeps it)."""
    return Workspace(gateway_url(hub), api_tokens(hub, ["alice"])["alice"])


def left_mid_check(hub, frame: pd.DataFrame, purpose: str) -> int:
    """An export of alice's submitted and mid-check, as a crash leaves it; its id."""
    proc, db, _ = hub
    with db.session() as s:
        alice_row = s.scalars(select(Staff).where(Staff.username == "alice")).one()
        scenario = s.scalars(
            select(Scenario).where(
                Scenario.name == "普惠健康险定价", Scenario.tenant_id == alice_row.tenant_id
            )
        ).one()
        stuck = lifecycle.create(s, kind="export", requester="alice", tenant_id=alice_row.tenant_id,
                                 scenario_id=scenario.id, purpose=purpose, name="stuck")  # fmt: skip
        content = io.BytesIO()
        frame.to_parquet(content)
        lifecycle.submit(s, stuck, content.getvalue(), home.domain_store(proc.home), "alice")
        lifecycle.start_checks(s, stuck)
        return stuck.id


def test_when_the_hub_is_killed_mid_review_then_no_decision_is_lost(hub, alice):
    proc, db, _ = hub
    frame = crosstab(pd.DataFrame({"d": ["a"] * 30 + ["b"] * 20}), "d")  # counts: all pass
    request = alice.exports.create(
        frame, purpose="崩溃测试 / crash test", scenario="普惠健康险定价"
    )
    until(request, "in_review")
    with db.session() as s:
        lifecycle.decide(s, request.id, "rita", "approve", "第一位审核员 / first reviewer")
    # A second request whose checks were running when the power went (left "checking").
    stuck_id = left_mid_check(hub, frame, "中断 / interrupted")

    crash(proc)
    proc.start()

    with db.session() as s:
        survived = lifecycle.get(s, request.id)
        assert survived.status == "in_review"
        assert [(d.reviewer, d.decision) for d in survived.decisions] == [("rita", "approve")]
        lifecycle.decide(s, request.id, "ryan", "approve", "第二位审核员 / second reviewer")
    assert alice.requests.get(request.id).status == "approved"
    body = alice.requests.get(request.id).download()  # the SDK checks the approved SHA-256
    assert body["n"].tolist() == [30, 20]
    until(alice.requests.get(stuck_id), "in_review")  # resumed by the restarted gateway
    report = audit.verify(db.engine)
    assert report.ok, report


def test_when_the_gateway_is_killed_mid_check_then_its_restart_finishes_the_checks(hub, alice):
    proc, db, _ = hub
    gateway = next(
        pid for pid in descendants(proc.proc.pid)
        if b"hub.web.gateway" in Path(f"/proc/{pid}/cmdline").read_bytes()
    )  # fmt: skip
    stuck_id = left_mid_check(
        hub, pd.DataFrame({"d": ["a", "b"], "n": [30, 20]}), "网关中断 / gateway died"
    )
    os.kill(gateway, signal.SIGKILL)  # the hub restarts its managed service
    deadline = time.monotonic() + 90
    while True:
        with db.session() as s:
            if lifecycle.get(s, stuck_id).status == "in_review":
                break
        assert time.monotonic() < deadline, "the restarted gateway did not finish the checks"
        time.sleep(0.5)
    assert alice.requests.get(stuck_id).status == "in_review"  # and it answers again
    assert audit.verify(db.engine).ok
