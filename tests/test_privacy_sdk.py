"""``ws.privacy`` against the real gateway application (its routes, admission, lifecycle, checks
and OpenAPI models) on the demo world; only the hub's token check is faked (the network
boundary), and the nodes are the fake ``python -m privacy`` of the hub-logic tests."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
from sqlalchemy import select

import sdk
from hub import home
from hub.access.samples import SampleService
from hub.db.engine import Database
from hub.db.models import Party, Staff
from hub.demo import world
from hub.ops import Ctx, parties
from hub.ops.setup import init_home
from hub.privacy import authority
from hub.production import executor
from hub.production.rules import ProductionRules
from hub.review import lifecycle
from hub.review.checks import Limits
from hub.web import gateway
from tests.privacy_fake import FakeNode
from tests.threaded_server import served

LOANS = {"loans": {"columns": {"uscc": "object", "overdue": "int64", "balance": "float64"}}}
PREFIX = "/services/gateway"


class TokensOfStaff:
    """The hub's token check, faked: ``tok-<username>`` is that user's token."""

    def __init__(self, db: Database):
        self.db = db

    async def user_for_token(self, token: str, sync: bool = True) -> dict | None:
        name = token.removeprefix("tok-")
        with self.db.session() as s:
            staff = s.scalars(select(Staff).where(Staff.username == name)).first()
            groups = [staff.tenant.group] if staff is not None and staff.tenant else []
        return {"name": name, "kind": "user", "groups": groups} if staff is not None else None


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """The demo world, a bank of alice's company, a fake node for it and the gateway serving."""
    h = tmp_path_factory.mktemp("privacy-sdk")
    db = Database(f"sqlite:///{h / 'platform.sqlite'}")
    init_home(h, db)
    world.build(h, db, rows=1000)
    with db.session() as s:
        ctx = Ctx(session=s, actor="test-admin")
        _, bundle = parties.add(ctx, h, "某银行", world.TENANTS[0]["name"], "10.0.0.2:9470",
                                "127.0.0.1:9470")  # fmt: skip
        other, _ = parties.add(ctx, h, "某保险", world.TENANTS[1]["name"], "10.0.0.3:9470",
                               "127.0.0.1:9470")  # fmt: skip
        parties.record_schema(s, s.get(Party, bundle.party_id), LOANS)
        other_id = other.id
    fake = FakeNode(h / "fake", authority.platform_credentials(h).ca.parent, bundle)
    fake.answer(tables=LOANS, decision="approved",
                result={"columns": ["industry", "count", "count_overdue"],
                        "rows": [["制造业", 120, 30], ["批发和零售业", 95, 25]],
                        "suppressed_groups": 2})  # fmt: skip
    store = home.domain_store(h)
    samples = SampleService(db, store, b"m" * 32)
    app = gateway.make_app(db, TokensOfStaff(db), PREFIX, samples, exec_master=b"k" * 32,
                           privacy=fake.node)  # fmt: skip
    with served(app) as url:
        yield {"url": url, "db": db, "home": h, "fake": fake, "bank": bundle.party_id,
               "other": other_id}  # fmt: skip
    db.dispose()


def workspace(platform, user: str = "alice") -> sdk.Workspace:
    return sdk.Workspace(
        platform["url"], f"tok-{user}", scenario="小微企业普惠信贷评估", timeout=30
    )


def until(predicate, seconds: float = 30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not reached")


def test_when_alice_lists_her_parties_then_she_sees_hers_with_their_tables_and_no_one_elses(
    platform,
):
    listed = workspace(platform).privacy.parties()
    assert [(p["id"], p["name"], p["status"]) for p in listed] == [
        (platform["bank"], "某银行", "active")
    ]
    assert listed[0]["tables"] == LOANS and len(listed[0]["fingerprint"]) == 64
    assert "address" not in listed[0] and "cert_pem" not in listed[0]
    assert "某银行" in listed._repr_html_()


def test_when_alice_develops_against_a_stand_in_then_its_keys_join_her_sample(platform):
    ws = workspace(platform)
    stand_in = ws.privacy.stand_in("某银行", dataset="enterprise_registry", key="uscc", rows=200)
    assert list(stand_in.columns) == ["uscc", "overdue", "balance"] and len(stand_in) == 200
    assert pd.api.types.is_integer_dtype(stand_in["overdue"])
    sample = ws.datasets.get("enterprise_registry").sample()
    joined = stand_in.merge(sample, on="uscc")
    assert 100 < len(joined) < 200  # most rows join, some do not, as real data would
    assert ws.privacy.stand_in("某银行").shape == (200, 3)


def test_when_alice_requests_joint_statistics_then_she_follows_it_to_its_released_table(platform):
    ws, db, fake = workspace(platform), platform["db"], platform["fake"]
    computation = ws.privacy.stats(
        dataset="enterprise_registry", key="uscc", party="某银行", party_columns=["overdue"],
        group_by=["industry"], measures=[("overdue", "count")], purpose="小微企业逾期联合统计",
    )  # fmt: skip
    assert computation.status in ("submitted", "checking", "in_review")
    until(
        lambda: (
            computation.reload().status == "in_review" and computation.party_approval == "approved"
        )
    )
    assert {c["name"]: c["verdict"] for c in computation.checks}["params"] == "pass"
    with pytest.raises(sdk.Conflict) as caught:
        computation.result()
    assert caught.value.code == "no_result"
    for reviewer in ("rita", "ryan"):
        with db.session() as s:
            if lifecycle.get(s, computation.id).status == "in_review":
                lifecycle.decide(s, computation.id, reviewer, "approve", "核对无误 / checked")
    (fake.folder / "pause").write_text("1.0")
    h = platform["home"]
    worker = threading.Thread(target=executor.act, args=(db, computation.id, home.domain_store(h),
                              ProductionRules(), Limits(), h / "none.bpf", fake.node))  # fmt: skip
    worker.start()
    try:
        seen = until(lambda: computation.reload().progress)
        assert seen["phase"] in ("psi", "compute", "done") and 0 < seen["fraction"] <= 1
        assert computation.status == "running"
    finally:
        worker.join(30)
        (fake.folder / "pause").unlink()
    assert computation.wait(timeout=30, interval=0.2, progress=False).status == "succeeded"
    table = computation.result()
    assert isinstance(table, pd.DataFrame) and list(table.columns) == [
        "industry",
        "count",
        "count_overdue",
    ]
    assert table["count"].tolist() == [120, 95]
    chain = computation.lineage()["chain"][-1]
    assert chain["party_approval"]["status"] == "approved" and chain["result"]["released"] is True
    assert computation.id in [c.id for c in ws.privacy.list()]


def test_when_alice_names_another_companys_party_or_a_bad_computation_then_she_is_refused(platform):
    ws = workspace(platform)
    with pytest.raises(sdk.NotFound) as caught:
        ws.privacy.psi(dataset="enterprise_registry", key="uscc", party=platform["other"],
                       purpose="不存在的参与方 / no such party")  # fmt: skip
    assert "no party" in caught.value.message_en
    with pytest.raises(sdk.InvalidRequest) as caught:
        ws.privacy.psi(dataset="enterprise_registry", key="uscc", party="某银行", reveal="all",
                       purpose="错误的公开方式 / bad reveal")  # fmt: skip
    assert "reveal" in str(caught.value) and " / " in str(caught.value)
    for params in ({"epochs": "many"}, {"depth": True}, {"bogus": 1}):
        with pytest.raises(sdk.InvalidRequest) as caught:
            ws.privacy.train(dataset="enterprise_registry", key="uscc", party="某银行",
                             features=["registered_capital"], party_label="overdue", params=params,
                             purpose="参数有误 / bad params")  # fmt: skip
        assert caught.value.status == 400 and "parameter" in caught.value.message_en
    with pytest.raises(sdk.InvalidRequest):
        ws.privacy.stats(dataset="enterprise_registry", key="uscc", party="某银行",
                         party_columns=["overdue"], measures=[], purpose="没有统计量 / none")  # fmt: skip
