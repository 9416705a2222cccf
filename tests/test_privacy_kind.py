"""The ``privacy`` request kind through the real lifecycle, checks, production zone and console
(SQLite, the demo world). The party's and the platform's nodes are played by a fake
``python -m privacy`` (:mod:`tests.fake_privacy_node`) at exactly the subprocess boundary the
hub uses; its signatures are real ECDSA signatures with the party's bundle key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from hub import home
from hub.db.engine import Database
from hub.db.models import AuditEvent, MeterEvent, Party, Scenario, Staff
from hub.demo import world
from hub.kinds.privacy import ENDED
from hub.ops import Ctx, parties, tenants
from hub.ops.setup import init_home
from hub.privacy import authority, results
from hub.privacy.node import Node, progress_of
from hub.production import executor
from hub.production.rules import ProductionRules
from hub.refusals import Conflict
from hub.review import lifecycle, lineage, runner
from hub.review.checks import Limits
from hub.web import console_views
from hub.web.privacy_api import computation_view
from privacy.spec import Computation
from tests.privacy_fake import FakeNode

CREDIT = "小微企业普惠信贷评估"  # alice's: enterprise_registry (uscc … industry district …)
RULES = ProductionRules()
LOANS = {"loans": {"columns": {"uscc": "object", "overdue": "int64", "balance": "float64"}}}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    h = tmp_path_factory.mktemp("privacy")
    db = Database(f"sqlite:///{h / 'platform.sqlite'}")
    init_home(h, db)
    world.build(h, db, rows=1000)
    yield h, db
    db.dispose()


def new_party(demo, tenant: int = 0, name: str | None = None):
    h, db = demo
    with db.session() as s:
        ctx = Ctx(session=s, actor="test-admin")
        count = len(s.scalars(select(Party)).all())
        party, bundle = parties.add(ctx, h, name or f"某银行{count}", world.TENANTS[tenant]["name"],
                                    f"10.0.0.{count + 2}:9470", "127.0.0.1:9470")  # fmt: skip
        return party.id, bundle


@pytest.fixture
def bank(demo, tmp_path):
    """A party of alice's company and the fake node answering for it (tables declared)."""
    h, _ = demo
    pid, bundle = new_party(demo)
    _, other = new_party(demo)
    fake = FakeNode(tmp_path / "node", authority.platform_credentials(h).ca.parent, bundle, other)
    fake.answer(tables=LOANS, decision="approved", result={"intersection_size": 420})
    return pid, fake


def submit(demo, node: Node | None, party: str, kind: str = "psi", user: str = "alice",
           scenario: str = CREDIT, **fields) -> int:  # fmt: skip
    h, db = demo
    spec = {"public_dataset": "enterprise_registry", "public_key": "uscc", "public_columns": (),
            "party_table": "loans", "party_key": "uscc", "party_columns": (),
            "params": {"reveal": "size"}, **fields}  # fmt: skip
    with db.session() as s:
        staff = s.scalars(select(Staff).where(Staff.username == user)).one()
        found = s.scalars(select(Scenario).where(Scenario.tenant_id == staff.tenant_id,
                                                 Scenario.name == scenario)).one()  # fmt: skip
        request = lifecycle.create(s, kind="privacy", requester=user, tenant_id=staff.tenant_id,
                                   scenario_id=found.id, purpose="联合统计测试 / joint test",
                                   name=kind, meta={"party": party, "computation": kind})  # fmt: skip
        fields_tenant = spec.pop("tenant", staff.tenant.name)
        computation = Computation(request_id=request.id, kind=kind, party=party,
                                  tenant=fields_tenant, **spec)  # fmt: skip
        lifecycle.submit(s, request, computation.canonical(), home.domain_store(h), user, ".json")
        request_id = request.id
    runner.check(db, request_id, home.domain_store(h), Limits(), RULES, node)
    return request_id


def checks(db, request_id: int) -> dict[str, str]:
    with db.session() as s:
        return {c.name: c.verdict for c in lifecycle.get(s, request_id).checks}


def reasons(db, request_id: int) -> str:
    with db.session() as s:
        return " | ".join(c.reason for c in lifecycle.get(s, request_id).checks)


def request_of(db, request_id: int) -> tuple[str, str, dict]:
    with db.session() as s:
        r = lifecycle.get(s, request_id)
        return r.status, r.status_reason or "", dict(r.meta)


def approve(db, request_id: int, override: bool = False) -> None:
    for reviewer in ("rita", "ryan"):
        with db.session() as s:
            if lifecycle.get(s, request_id).status != lifecycle.IN_REVIEW:
                return
            lifecycle.decide(s, request_id, reviewer, "approve", "核对无误 / checked",
                             override=override)  # fmt: skip


def act(demo, request_id: int, node: Node | None) -> str | None:
    h, db = demo
    return executor.act(db, request_id, home.domain_store(h), RULES, Limits(), h / "none.bpf", node)


def audit_actions(db, request_id: int) -> list[str]:
    with db.session() as s:
        found = s.scalars(
            select(AuditEvent.action).where(AuditEvent.object == f"request:{request_id}")
        )
        return list(found)


# --- the happy path ------------------------------------------------------------------------------
def test_when_a_psi_passes_its_checks_then_it_is_proposed_approved_run_and_its_size_released(
    demo, bank
):
    h, db = demo
    pid, fake = bank
    request_id = submit(demo, fake.node, pid)
    assert checks(db, request_id) == {"spec": "pass", "party": "pass", "scenario": "pass",
                                      "public_columns": "pass", "party_columns": "pass",
                                      "params": "pass"}  # fmt: skip
    status, _, meta = request_of(db, request_id)
    assert status == "in_review" and meta["party_approval"]["status"] == "approved"
    assert meta["party_approval"]["verified"] is True
    with db.session() as s:
        assert s.get(Party, pid).declared_schema == LOANS  # learnt from hello: names, dtypes only
    approve(db, request_id)
    assert act(demo, request_id, fake.node) == "succeeded"
    status, _, meta = request_of(db, request_id)
    assert status == "succeeded" and meta["run"]["released"] == {"intersection_size": 420}
    # the subprocess boundary, exactly as the contract has it
    calls = fake.calls()
    assert [c[0] for c in calls] == ["hello", "propose", "run", "public-columns"]
    creds = str(authority.platform_credentials(h).ca.parent)
    folder = home.domain_store(h) / "privacy" / str(request_id)
    assert calls[2] == ["run", "--spec", str(folder / "spec.json"), "--public",
                        str(folder / "public.parquet"), "--creds", creds, "--listen",
                        "127.0.0.1:9470", "--peer", fake_address(db, pid), "--party", pid,
                        "--out", str(folder / "out"), "--progress", str(folder / "progress.jsonl"),
                        "--wait-approval", "5"]  # fmt: skip
    assert calls[3] == ["public-columns", "uscc"]  # only the key was projected for a PSI
    assert (folder / "public.parquet").is_file()  # one file, as the node takes it
    assert not (folder / "public-parts").exists()
    assert progress_of(folder / "progress.jsonl") == {"phase": "done", "fraction": 1.0, "at": "now"}
    actions = audit_actions(db, request_id)
    assert actions.count("privacy.party_approved") == 2  # at the proposal and at the run
    with db.session() as s:
        r = lifecycle.get(s, request_id)
        node = lineage.trace(s, r)["chain"][-1]
        view = computation_view(r, home.domain_store(h))
    assert [d["decision"] for d in node["decisions"]] and node["party_approval"]["verified"]
    assert node["result"]["released"] is True and node["result"]["released_by"] == "checks"
    assert view["result"] == {"intersection_size": 420} and view["withheld"] == []
    assert view["party_approval"]["status"] == "approved"
    with db.session() as s:  # the domain node's time is metered to the company, like a job's
        events = s.scalars(select(MeterEvent).where(MeterEvent.kind == "job_seconds")).all()
        assert [(e.details["request"], e.details["privacy"]) for e in events] == [
            (request_id, "psi")
        ]
        assert events[0].quantity >= 1 and events[0].tenant_id == r.tenant_id


def fake_address(db, pid: str) -> str:
    with db.session() as s:
        return s.get(Party, pid).address


# --- refusals at the checks -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "case, fields, failing, said",
    [
        ("another tenant's party", {"party": "bob"}, "party",
         "the party is not the requester's company's"),
        ("revoked party", {"party": "revoked"}, "party", "is revoked"),
        ("unapproved column", {"public_columns": ("legal_rep_id",), "kind": "stats",
                               "params": {"group_by": [["public", "legal_rep_id"]],
                                          "measures": [["party", "overdue", "sum"]],
                                          "min_group": 10},
                               "party_columns": ("overdue",)},
         "public_columns", "columns not approved: legal_rep_id"),
        ("identifying column", {"public_columns": ("legal_rep_name",), "kind": "stats",
                                "params": {"group_by": [["public", "legal_rep_name"]],
                                           "measures": [["party", "overdue", "sum"]],
                                           "min_group": 10},
                                "party_columns": ("overdue",)},
         "public_columns", "identifying columns cannot be used: legal_rep_name"),
        ("min_group too small", {"public_columns": ("industry",), "kind": "stats",
                                 "params": {"group_by": [["public", "industry"]],
                                            "measures": [["party", "overdue", "sum"]],
                                            "min_group": 3},
                                 "party_columns": ("overdue",)},
         "params", "min_group 3 is below the platform's minimum cell count 10"),
        ("undeclared party column", {"kind": "stats", "public_columns": ("industry",),
                                     "params": {"group_by": [["public", "industry"]],
                                                "measures": [["party", "income", "mean"]],
                                                "min_group": 10},
                                     "party_columns": ("income",)},
         "party_columns", "the party's table loans has no column income"),
        ("boosting past the engine's size", {"kind": "train",
                                              "public_columns": ("registered_capital",),
                                              "party_columns": ("overdue",),
                                              "params": {"features": ["registered_capital"],
                                                         "label": "overdue", "model": "xgboost",
                                                         "trees": 50}},
         "params", "1..20 trees of depth 1..3"),
        ("unapproved dataset", {"public_dataset": "medical_visits", "public_key": "patient_id"},
         "public_columns", "not approved for dataset medical_visits"),
    ],
)  # fmt: skip
def test_when_a_computation_breaks_a_rule_then_its_check_fails_bilingually_and_no_party_sees_it(
    demo, bank, case, fields, failing, said
):
    _, db = demo
    pid, fake = bank
    if fields.get("party") == "bob":
        fields["party"], _ = new_party(demo, tenant=1)
    elif fields.get("party") == "revoked":
        with db.session() as s:
            parties.change_status(Ctx(s, "test-admin"), pid, "revoke", "终止 / ended")
        fields.pop("party")
    party = fields.pop("party", pid)
    with db.session() as s:  # the party has declared its tables already
        parties.record_schema(s, s.get(Party, pid), LOANS)
    request_id = submit(demo, fake.node, party, **fields)
    found = checks(db, request_id)
    assert found[failing] == "fail", (case, found)
    text = reasons(db, request_id)
    assert said in text and " / " in text, text
    assert "propose" not in [c[0] for c in fake.calls()], case  # never shown to the party
    with db.session() as s, pytest.raises(Conflict):
        lifecycle.decide(s, request_id, "rita", "approve", "核对 / checked")


def test_when_the_party_declares_its_tables_at_hello_then_a_missing_column_fails_before_proposal(
    demo, bank
):
    _, db = demo
    pid, fake = bank
    request_id = submit(demo, fake.node, pid, kind="train", public_columns=("registered_capital",),
                        party_columns=("default_flag",),
                        params={"features": ["registered_capital"], "label": "default_flag",
                                "model": "logistic"})  # fmt: skip
    assert checks(db, request_id)["party_columns"] == "fail"
    assert [c[0] for c in fake.calls()] == ["hello"]
    assert "request.check_updated" in audit_actions(db, request_id)


# --- the party's signature ------------------------------------------------------------------------
def test_when_the_approval_is_signed_by_another_party_then_it_is_refused_and_the_run_fails(
    demo, bank
):
    _, db = demo
    pid, fake = bank
    fake.answer(decision="forged")
    request_id = submit(demo, fake.node, pid)
    _, _, meta = request_of(db, request_id)
    assert (
        meta["party_approval"]["status"] == "forged" and meta["party_approval"]["signature"] is None
    )
    assert "privacy.party_forged" in audit_actions(db, request_id)
    approve(db, request_id)
    assert act(demo, request_id, fake.node) == "failed"
    status, reason, meta = request_of(db, request_id)
    assert "签名无法验证" in reason and "signature does not verify" in reason
    assert "result" not in meta["run"]  # nothing of an untrusted run is kept for anyone


def test_when_the_party_rejects_then_the_run_fails_with_its_reason(demo, bank):
    _, db = demo
    pid, fake = bank
    fake.answer(decision="pending")
    request_id = submit(demo, fake.node, pid)
    assert request_of(db, request_id)[2]["party_approval"]["status"] == "pending"
    approve(db, request_id)
    fake.answer(decision="rejected")
    assert act(demo, request_id, fake.node) == "failed"
    status, reason, meta = request_of(db, request_id)
    assert "参与方拒绝了该计算" in reason and "the party rejected the computation" in reason
    assert meta["party_approval"]["status"] == "rejected"


# --- release or hold ------------------------------------------------------------------------------
def test_when_the_intersection_is_tiny_then_it_is_held_until_a_reviewer_releases_it(demo, bank):
    h, db = demo
    pid, fake = bank
    fake.answer(result={"intersection_size": 3})
    request_id = submit(demo, fake.node, pid)
    approve(db, request_id)
    assert act(demo, request_id, fake.node) == "succeeded"
    with db.session() as s:
        view = computation_view(lifecycle.get(s, request_id), home.domain_store(h))
    assert view["result"] is None and view["withheld"][0]["name"] == "min_size"
    assert "fewer than 10" in view["withheld"][0]["reason_en"]
    with db.session() as s, pytest.raises(Exception) as caught:
        results.release(s, request_id, "alice", "我自己 / myself")
    assert "review" in str(caught.value)
    with db.session() as s:
        results.release(s, request_id, "rita", "规模可接受 / acceptable")
    with db.session() as s:
        r = lifecycle.get(s, request_id)
        assert computation_view(r, home.domain_store(h))["result"] == {"intersection_size": 3}
        assert lineage.trace(s, r)["chain"][-1]["result"]["released_by"] == "rita"
    assert "request.withheld_released" in audit_actions(db, request_id)


def stats(demo, fake, pid, measure: str):
    return submit(demo, fake.node, pid, kind="stats", public_columns=("industry",),
                  party_columns=("overdue",),
                  params={"group_by": [["public", "industry"]],
                          "measures": [["party", "overdue", measure]], "min_group": 10})  # fmt: skip


def test_when_a_stats_table_has_a_measure_the_platform_cannot_recompute_then_it_is_held(demo, bank):
    _, db = demo
    pid, fake = bank
    fake.answer(result={"columns": ["industry", "count", "mean_overdue"],
                        "rows": [["制造业", 120, 0.12], ["批发和零售业", 95, 0.08]],
                        "suppressed_groups": 1})  # fmt: skip
    request_id = stats(demo, fake, pid, "mean")
    approve(db, request_id)
    assert act(demo, request_id, fake.node) == "succeeded"
    run = request_of(db, request_id)[2]["run"]
    assert run["released"] is None and [f["name"] for f in run["held"]] == ["sdc"]
    assert "mean_overdue" in run["held"][0]["reason_en"]


def test_when_a_stats_table_has_a_small_cell_then_it_is_held(demo, bank):
    _, db = demo
    pid, fake = bank
    fake.answer(result={"columns": ["industry", "count", "count_overdue"],
                        "rows": [["制造业", 120, 4], ["批发和零售业", 95, 30]],
                        "suppressed_groups": 0})  # fmt: skip
    request_id = stats(demo, fake, pid, "count")
    approve(db, request_id)
    act(demo, request_id, fake.node)
    run = request_of(db, request_id)[2]["run"]
    assert run["released"] is None and "below 10" in run["held"][0]["reason_en"]


@pytest.mark.parametrize(
    "result, released",
    [
        ({"model": "logistic", "features": ["registered_capital"], "coef": [0.4],
          "intercept": -1.2, "metrics": {"rows": 800, "log_loss": 0.5, "accuracy": 0.7}}, True),
        ({"model": "logistic", "features": ["registered_capital"], "coef": [0.4, 9.0],
          "intercept": -1.2, "metrics": {"rows": 800}}, False),
        ({"model": "logistic", "features": ["registered_capital"], "coef": [0.4],
          "intercept": -1.2, "metrics": {"rows": 6}}, False),
    ],
)  # fmt: skip
def test_when_a_model_is_trained_then_only_a_finite_model_of_enough_rows_is_released(
    demo, bank, result, released
):
    _, db = demo
    pid, fake = bank
    fake.answer(tables={"loans": {"columns": {"uscc": "object", "default_flag": "int64"}}},
                result=result)  # fmt: skip
    request_id = submit(demo, fake.node, pid, kind="train", public_columns=("registered_capital",),
                        party_columns=("default_flag",),
                        params={"features": ["registered_capital"], "label": "default_flag",
                                "model": "logistic"})  # fmt: skip
    approve(db, request_id)
    assert act(demo, request_id, fake.node) == "succeeded"
    run = request_of(db, request_id)[2]["run"]
    assert (run["released"] == result) is released and bool(run["held"]) is not released


# --- a party or a tenant that may no longer compute --------------------------------------------------
def test_when_the_party_is_suspended_after_approval_then_the_computation_fails_clearly(demo, bank):
    _, db = demo
    pid, fake = bank
    request_id = submit(demo, fake.node, pid)
    approve(db, request_id)
    with db.session() as s:
        parties.change_status(Ctx(s, "test-admin"), pid, "suspend", "核查 / review")
    assert act(demo, request_id, fake.node) == "failed"
    _, reason, _ = request_of(db, request_id)
    assert "已暂停" in reason and "is suspended" in reason
    assert "run" not in [c[0] for c in fake.calls()]


def test_when_the_tenant_is_suspended_after_approval_then_the_computation_fails_clearly(demo, bank):
    _, db = demo
    pid, fake = bank
    request_id = submit(demo, fake.node, pid)
    approve(db, request_id)
    name = world.TENANTS[0]["name"]
    with db.session() as s:
        tenants.change_status(Ctx(s, "test-admin"), name, "suspend", "违规 / violation")
    try:
        assert act(demo, request_id, fake.node) == "failed"
        _, reason, _ = request_of(db, request_id)
        assert "未获准入" in reason and "not admitted (suspended)" in reason
    finally:
        with db.session() as s:
            tenants.change_status(Ctx(s, "test-admin"), name, "reinstate", "恢复 / cleared")
    assert "run" not in [c[0] for c in fake.calls()]


def test_when_no_node_is_configured_then_checks_do_not_propose_and_the_run_fails(demo, bank):
    _, db = demo
    pid, fake = bank
    request_id = submit(demo, None, pid)
    assert request_of(db, request_id)[2].get("party_approval") is None
    approve(db, request_id)
    assert act(demo, request_id, None) == "failed"
    assert "not configured" in request_of(db, request_id)[1]
    assert fake.calls() == []


# --- console --------------------------------------------------------------------------------------
def test_when_a_reviewer_opens_a_computation_then_both_sides_the_party_and_its_approval_show(
    demo, bank
):
    h, db = demo
    pid, fake = bank
    request_id = stats(demo, fake, pid, "sum")
    with db.session() as s:
        view = console_views.content(s, lifecycle.get(s, request_id), home.domain_store(h))
        party = s.get(Party, pid)
    shown = view["privacy"]
    assert (shown["kind"], shown["dataset"], shown["public_key"]) == (
        "stats",
        "enterprise_registry",
        "uscc",
    )
    assert shown["public_columns"] == ["industry"] and shown["party_columns"] == ["overdue"]
    assert shown["party"] == {"id": pid, "name": party.name, "status": "active",
                              "fingerprint": party.fingerprint, "address": party.address}  # fmt: skip
    assert shown["approval"]["status"] == "approved" and shown["approval"]["at"]
    assert json.loads(shown["params"])["min_group"] == 10


def test_when_a_node_runs_in_a_namespace_then_its_commands_are_prefixed():
    node = Node("10.1.0.1:9470", "shuyu-privacy", "/opt/spu/bin/python", Path("/c"))
    assert node.command("hello", "--party", "p-1") == [
        "ip", "netns", "exec", "shuyu-privacy", "/opt/spu/bin/python", "-m", "privacy", "hello",
        "--party", "p-1",
    ]  # fmt: skip
    assert Node("a:1", "", "py", Path("/c")).command("run")[:3] == ["py", "-m", "privacy"]


def test_ended_statuses_are_those_of_a_run():
    assert set(ENDED) == {"succeeded", "failed"}


async def test_when_the_review_page_of_a_held_computation_opens_then_it_shows_party_approval_and_release(
    demo, bank, monkeypatch
):
    from hub.web import review_console
    from hub.web.console_base import ConsoleHandler
    from tests.console_app import FAKE_HUB, serving

    h, db = demo
    pid, fake = bank
    fake.answer(result={"intersection_size": 4})
    request_id = submit(demo, fake.node, pid)
    approve(db, request_id)
    act(demo, request_id, fake.node)
    reviewer = {"name": "rita", "scopes": ["custom:shuyu:review"]}
    monkeypatch.setattr(ConsoleHandler, "get_current_user", lambda self: reviewer)
    app = review_console.make_app(db, FAKE_HUB, "/review/", home.domain_store(h))
    async with serving(app) as client:
        en = (await client.get(f"/review/requests/{request_id}?lang=en")).body.decode()
        zh = (await client.get(f"/review/requests/{request_id}?lang=zh")).body.decode()
        queue = (await client.get("/review/?kind=privacy&status=all&lang=en")).body.decode()
        released = await client.post(f"/review/requests/{request_id}?lang=en",
                                     {"action": "release_withheld", "reason": "规模可接受 / fine"})  # fmt: skip
    assert 'id="privacy"' in en and 'data-approval="approved"' in en
    assert "signed and approved by the party" in en and "参与方已签名批准" in zh
    assert 'id="release-result"' in en and 'data-lineage-party="approved"' in en
    assert 'data-lineage-result="held"' in en and 'data-party-status="active"' in en
    assert "privacy computation" in queue
    assert released.code == 200 and 'data-lineage-result="released"' in released.body.decode()
    assert request_of(db, request_id)[2]["run"]["released"] == {"intersection_size": 4}


def test_when_the_party_approves_later_then_the_next_round_of_proposals_records_it(demo, bank):
    from hub.privacy import proposals

    h, db = demo
    pid, fake = bank
    fake.answer(decision="pending")
    request_id = submit(demo, fake.node, pid)
    assert request_of(db, request_id)[2]["party_approval"]["status"] == "pending"
    assert request_id in proposals.unanswered(db)
    fake.answer(decision="approved")
    assert request_id in proposals.refresh(db, fake.node, home.domain_store(h), Limits())
    approval = request_of(db, request_id)[2]["party_approval"]
    assert approval["status"] == "approved" and approval["verified"] is True
    assert request_id not in proposals.unanswered(db)
    assert audit_actions(db, request_id).count("privacy.party_pending") == 1


def test_when_the_party_is_suspended_in_review_then_it_is_not_asked_again(demo, bank):
    from hub.privacy import proposals

    h, db = demo
    pid, fake = bank
    fake.answer(decision="pending")
    request_id = submit(demo, fake.node, pid)
    with db.session() as s:
        parties.change_status(Ctx(s, "test-admin"), pid, "suspend", "核查 / review")
    before = len(fake.calls())
    proposals.refresh(db, fake.node, home.domain_store(h), Limits())
    asked = [c for c in fake.calls()[before:] if pid in c]
    assert asked == []  # neither its tables nor the computation: it is suspended
    approve(db, request_id)
    assert act(demo, request_id, fake.node) == "failed"


def test_when_a_partys_tables_are_unknown_or_stale_then_the_next_round_asks_its_node(demo, bank):
    from datetime import UTC, datetime, timedelta

    from hub.privacy import proposals

    _, db = demo
    pid, fake = bank
    now = datetime.now(UTC)
    assert pid in proposals.learn_schemas(db, fake.node, now)
    with db.session() as s:
        party = s.get(Party, pid)
        assert party.declared_schema == LOANS
    assert pid not in proposals.learn_schemas(db, fake.node, now + timedelta(minutes=1))
    assert pid in proposals.learn_schemas(db, fake.node, now + timedelta(minutes=11))
    with db.session() as s:
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.object == f"party:{pid}"))
        assert list(actions).count("party.schema") == 1  # audited when it changed, only then


def test_when_the_spec_names_another_company_then_the_party_check_fails(demo, bank):
    _, db = demo
    pid, fake = bank
    request_id = submit(demo, fake.node, pid, tenant=world.TENANTS[1]["name"])
    assert checks(db, request_id)["party"] == "fail"
    assert "the computation does not match the request" in reasons(db, request_id)
    assert "propose" not in [c[0] for c in fake.calls()]
