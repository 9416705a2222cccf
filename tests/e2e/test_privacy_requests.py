"""A privacy computation through the real hub, gateway and production service (SQLite and
PostgreSQL): alice asks for a PSI with her company's bank from the SDK, the gateway's checks
propose it to the party, two reviewers approve, the production service runs it and the SDK
follows it to its released result and lineage.

The nodes are the hub-logic tests' fake ``python -m privacy`` (``SHUYU_PRIVACY_PYTHON``), at the
same subprocess boundary the real nodes sit behind; the real nodes are wired in separately.
"""

from __future__ import annotations

import time

import pytest

from hub.ops import Ctx, parties
from hub.privacy import authority
from hub.review import lifecycle
from sdk import Workspace
from tests.e2e.conftest import api_tokens, gateway_url, running_hub
from tests.privacy_fake import FakeNode

pytestmark = pytest.mark.e2e
CREDIT = "小微企业普惠信贷评估"
LOANS = {"loans": {"columns": {"uscc": "object", "overdue": "int64"}}}


# The hub on SQLite only: the unit tests run this module's database work on PostgreSQL too.
@pytest.fixture(scope="module", params=["sqlite"])
def platform(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fake-node")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SHUYU_PRIVACY_PYTHON", str(folder / "python"))
        with running_hub(request, tmp_path_factory, request.param) as hub:
            proc, db, _ = hub
            with db.session() as s:
                _, bundle = parties.add(Ctx(s, "e2e"), proc.home, "某银行",
                                        "杭州数智信用科技有限公司", "10.0.0.2:9470",
                                        "127.0.0.1:9470")  # fmt: skip
            creds = authority.platform_credentials(proc.home).ca.parent
            fake = FakeNode(folder, creds, bundle)
            fake.answer(tables=LOANS, decision="approved", result={"intersection_size": 420})
            yield hub, fake, bundle.party_id


def test_when_alice_runs_a_psi_with_her_bank_then_it_is_reviewed_approved_run_and_released(
    platform,
):
    hub, fake, party = platform
    _, db, _ = hub
    token = api_tokens(hub, users=("alice",))["alice"]
    ws = Workspace(gateway_url(hub), token, scenario=CREDIT)
    assert [p["id"] for p in ws.privacy.parties()] == [party]
    deadline = time.monotonic() + 60  # the production service asks the party for its tables
    while not ws.privacy.parties()[0]["tables"]:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert ws.privacy.parties()[0]["tables"] == LOANS
    c = ws.privacy.psi(dataset="enterprise_registry", key="uscc", party="某银行",
                       purpose="客户重合规模测算 / overlap size")  # fmt: skip
    deadline = time.monotonic() + 60
    while not (c.reload().status == "in_review" and c.party_approval == "approved"):
        assert time.monotonic() < deadline, c.attrs
        time.sleep(0.3)
    assert [call[0] for call in fake.calls()][-2:] == ["hello", "propose"]
    for reviewer in ("rita", "ryan"):
        with db.session() as s:
            if lifecycle.get(s, c.id).status == "in_review":
                lifecycle.decide(s, c.id, reviewer, "approve", "核对无误 / checked")
    assert c.wait(timeout=120, interval=0.5, progress=False).status == "succeeded", c.attrs
    assert c.result() == {"intersection_size": 420}
    node = c.lineage()["chain"][-1]
    assert node["party_approval"]["verified"] is True and node["result"]["released"] is True
    assert [d["decision"] for d in node["decisions"]] == ["approve"] * len(node["decisions"])
