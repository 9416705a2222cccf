"""The gateway's decisions without HTTP: which caller gets which sample, and every refusal.

Runs on the demo world (SQLite; the HTTP tests in ``tests/e2e`` repeat the main paths on
PostgreSQL too). Each refusal is asserted by its class and stable code, and its audit event.
"""

from __future__ import annotations

import io
import ipaddress
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from hub import home
from hub.access import caller as callers
from hub.access import catalog_view
from hub.access.samples import SampleService
from hub.db.engine import Database
from hub.db.models import AuditEvent, DataListItem, Decision, MeterEvent
from hub.demo import world
from hub.demo.datasets import DATASETS
from hub.masking.sample import SampleLimits
from hub.ops import Ctx, catalog, tenants
from hub.ops.setup import init_home
from hub.refusals import AccessDenied, BadRequest, NotApproved, NotFound

ROWS = 4000
MASTER = b"serving test master key"
ALICE_TENANT = f"tenant-{world.TENANTS[0]['uscc'].lower()}"
SPECS = {s.name: s for s in DATASETS}
# Columns whose raw values identify a person or a company, with the masking the demo fixes.
# Personal names are not unique (a surrogate may be someone else's real name), so they are
# checked row by row instead.
IDENTIFIERS = {
    name: [c.name for c in spec.columns if (c.pii not in (None, "free_text", "name")) or c.mask]
    for name, spec in SPECS.items()
}
NAMES = {name: [c.name for c in spec.columns if c.pii == "name"] for name, spec in SPECS.items()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    h = tmp_path_factory.mktemp("serving")
    db = Database(f"sqlite:///{h / 'platform.sqlite'}")
    init_home(h, db)
    world.build(h, db, rows=ROWS)
    yield h, db
    db.dispose()


@pytest.fixture
def service(demo):
    h, db = demo
    return SampleService(db, home.domain_store(h), MASTER)


def frame_of(served) -> pd.DataFrame:
    return pa.ipc.open_stream(served.body).read_all().to_pandas()


def raw(demo, dataset: str) -> pd.DataFrame:
    return pq.read_table(home.domain_store(demo[0]) / "raw" / f"{dataset}.parquet").to_pandas()


def last_event(db: Database, action: str) -> AuditEvent:
    with db.session() as s:
        return s.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id.desc())
        ).first()


def test_when_alice_asks_then_her_companys_two_scenarios_are_listed(demo):
    with demo[1].session() as s:
        caller = callers.admit(s, "alice", pd.Timestamp.today().date())
        names = [x.name for x in callers.scenarios(s, caller)]
    assert caller.tenant == ALICE_TENANT
    assert names == ["小微企业普惠信贷评估", "普惠健康险定价"]


def test_when_a_sample_is_served_then_it_is_the_approved_columns_fixed_and_capped(demo, service):
    first = service.sample("alice", "medical_visits")
    service.cache = type(service.cache)()  # rebuilt from scratch: still the same bytes
    again = service.sample("alice", "medical_visits", scenario="普惠健康险定价")
    assert first.sha256 == again.sha256
    frame = frame_of(first)
    assert first.rows_drawn == int(ROWS * 0.05) and len(frame) <= first.rows_drawn
    assert list(frame.columns) == world.DATA_LISTS[3][3].split()
    meta = json.loads(pa.ipc.open_stream(first.body).schema.metadata[b"shuyu"])
    assert meta["masking"]["patient_id"] == {"operator": "pseudonym", "params": {}}
    assert meta["masking"]["cost"] is None


def test_when_only_some_columns_are_approved_then_the_others_are_never_served(demo, service):
    frame = frame_of(service.sample("alice", "enterprise_registry"))
    assert "legal_rep_id" not in frame.columns and "address" not in frame.columns
    with demo[1].session() as s:
        caller = callers.admit(s, "alice", pd.Timestamp.today().date())
        (view,) = catalog_view.datasets(s, callers.scenarios(s, caller), "enterprise_registry")
    approved = {c["name"]: c["approved"] for c in view["columns"]}
    assert approved["legal_rep_id"] is False and approved["uscc"] is True


@pytest.mark.parametrize(
    "user, dataset, scenario, refusal, code",
    [
        ("alice", "social_insurance", None, NotApproved, "not_approved"),  # pending
        ("alice", "transit_trips", None, NotApproved, "not_approved"),  # never requested
        ("alice", "medical_visits", "小微企业普惠信贷评估", NotApproved, "not_approved"),
        ("bob", "medical_visits", None, NotApproved, "not_approved"),
        ("bob", "transit_trips", "小微企业普惠信贷评估", NotFound, "not_found"),
        ("alice", "no_such_data", None, NotFound, "not_found"),
        ("carol", "medical_visits", None, AccessDenied, "training"),
        ("dave", "medical_visits", None, AccessDenied, "agreement_expired"),
        ("rita", "medical_visits", None, AccessDenied, "not_processor"),
        ("nobody", "medical_visits", None, AccessDenied, "unknown"),
        ("alice", "medical_visits", None, BadRequest, "bad_request"),  # format below
    ],
)
def test_when_a_sample_is_not_allowed_then_it_is_refused_with_its_reason_and_audited(
    demo, service, user, dataset, scenario, refusal, code
):
    fmt = "csv" if refusal is BadRequest else "arrow"
    with pytest.raises(refusal) as caught:
        service.sample(user, dataset, scenario, fmt)
    assert caught.value.code == code
    assert " / " in str(caught.value.msg)  # Chinese / English
    event = last_event(demo[1], "gateway.sample")
    assert (event.actor, event.outcome, event.reason) == (user, "denied", code)


def test_when_another_tenants_scenario_is_named_by_id_then_it_is_refused(demo, service):
    with demo[1].session() as s:
        alices = callers.scenarios(s, callers.admit(s, "alice", pd.Timestamp.today().date()))
    with pytest.raises(AccessDenied) as caught:
        service.sample("bob", "medical_visits", str(alices[1].id))
    assert caught.value.code == "other_tenant"


def test_when_several_scenarios_fit_then_the_caller_must_name_one(demo):
    with demo[1].session() as s:
        caller = callers.admit(s, "alice", pd.Timestamp.today().date())
        with pytest.raises(BadRequest) as caught:
            callers.scenario(s, caller, None)
    assert caught.value.code == "scenario_ambiguous"


def test_when_the_tenant_is_suspended_mid_session_then_the_next_call_is_refused(demo, service):
    name = world.TENANTS[0]["name"]
    service.sample("alice", "tax_records")  # works, and is cached
    with demo[1].session() as s:
        tenants.change_status(Ctx(session=s, actor="test"), name, "suspend", "抽查 / check")
    try:
        with pytest.raises(AccessDenied) as caught:
            service.sample("alice", "tax_records")
        assert caught.value.code == "tenant_suspended"
    finally:
        with demo[1].session() as s:
            tenants.change_status(Ctx(session=s, actor="test"), name, "reinstate", "恢复 / ok")
    assert service.sample("alice", "tax_records").rows > 0


def test_when_an_approval_is_revoked_then_the_next_call_is_refused_even_if_cached(demo, service):
    service.sample("bob", "transit_trips")
    with demo[1].session() as s:
        item = s.scalars(
            select(DataListItem).where(DataListItem.decision == Decision.APPROVED)
        ).all()
        item = next(i for i in item if i.dataset.name == "transit_trips")
        catalog.decide(Ctx(session=s, actor="test"), item.id, "revoked", by="tony", reason="到期")
    try:
        with pytest.raises(NotApproved):
            service.sample("bob", "transit_trips")
    finally:
        with demo[1].session() as s:
            scenario = catalog.find_scenario(
                Ctx(session=s, actor="test"), "个人低碳出行积分", world.TENANTS[1]["name"]
            )
            again = catalog.request_item(
                Ctx(session=s, actor="test"),
                scenario=scenario,
                dataset="transit_trips",
                columns=world.DATA_LISTS[4][3].split(),
            )
            catalog.decide(
                Ctx(session=s, actor="test"), again.id, "approved", by="tony", reason="续"
            )
    assert service.sample("bob", "transit_trips").rows_drawn > 0


def test_when_a_sample_is_served_then_it_is_audited_and_its_rows_metered(demo, service):
    db = demo[1]
    with db.session() as s:
        before = s.scalar(select(func.coalesce(func.sum(MeterEvent.quantity), 0)))
    served = service.sample("alice", "medical_visits", None, "parquet")
    frame = pq.read_table(io.BytesIO(served.body)).to_pandas()
    with db.session() as s:
        after = s.scalar(select(func.coalesce(func.sum(MeterEvent.quantity), 0)))
    assert after - before == served.rows == len(frame)
    event = last_event(db, "gateway.sample")
    details = json.loads(event.details)
    assert (event.actor, event.tenant, event.outcome) == ("alice", ALICE_TENANT, "ok")
    assert details["rows"] == served.rows and details["sha256"] == served.sha256


def test_when_tenants_or_scenarios_differ_then_their_pseudonyms_do_not_join(demo):
    """Every row served (no cap, k=1), so both sides hold pseudonyms of the same people."""
    h, db = demo
    with db.session() as s:
        ctx = Ctx(session=s, actor="test")
        for tenant, scenario in [(1, "个人低碳出行积分"), (0, "小微企业普惠信贷评估")]:
            found = catalog.find_scenario(ctx, scenario, world.TENANTS[tenant]["name"])
            item = catalog.request_item(
                ctx, scenario=found, dataset="medical_visits", columns=["patient_id"]
            )
            catalog.decide(ctx, item.id, "approved", by="paul", reason="测试 / test")
    everything = SampleService(
        db, home.domain_store(h), MASTER, SampleLimits(max_rows=10**6, max_fraction=1.0, k=1)
    )
    ids = {
        key: set(frame_of(everything.sample(user, "medical_visits", scenario))["patient_id"])
        for key, (user, scenario) in {
            "alice/health": ("alice", "普惠健康险定价"),
            "alice/credit": ("alice", "小微企业普惠信贷评估"),
            "bob": ("bob", None),
        }.items()
    }
    people = raw(demo, "medical_visits")["patient_id"].nunique()
    assert all(len(v) == people for v in ids.values())
    assert not ids["alice/health"] & ids["alice/credit"]
    assert not ids["alice/health"] & ids["bob"]


@pytest.mark.parametrize("item", [i for i in world.DATA_LISTS if i[4]], ids=lambda i: i[2])
def test_when_any_demo_sample_is_served_then_no_raw_identifier_appears_in_it(demo, item):
    """Every cell of every sample the demo's approvals allow, scanned for every raw value of
    every identifying column (IDs, mobiles, codes, card and visit numbers, company names)."""
    h, db = demo
    where, scenario, dataset, _, _ = item
    user = ["alice", "bob"][where]
    everything = SampleService(
        db, home.domain_store(h), MASTER, SampleLimits(max_rows=10**6, max_fraction=1.0, k=1)
    )
    served = frame_of(everything.sample(user, dataset, scenario))
    table = raw(demo, dataset)
    needles = set()
    for column in IDENTIFIERS[dataset]:
        values = table[column].dropna().astype(str)
        needles |= {v for v in values.unique() if len(v) >= 4}
    cells = "\0".join(str(v) for v in served.to_numpy().ravel())
    assert not {n for n in needles if n in cells}
    assert len(served) == len(table)  # every row, in order: row i is raw row i
    for column in (c for c in NAMES[dataset] if c in served.columns):
        assert not (served[column] == table[column]).any(), column
    if "notes" in served.columns:  # the patients' names do not survive in free text
        names = set(table["patient_name"].dropna().unique())
        notes = "\0".join(served["notes"].dropna())
        assert not {n for n in names if f"患者{n}" in notes}


def test_when_a_token_is_used_from_another_tenants_network_then_it_is_refused():
    from hub.access.origin import TenantNetworks
    from spawner.docker import tenant_subnet
    from spawner.netns import MAX_TENANT, tenant_link

    sandbox = TenantNetworks("sandbox")
    sandbox.check(tenant_link(3).ns_ip, 3)  # its own link
    sandbox.check("127.0.0.1", 3)  # the host itself
    for peer in (
        tenant_link(4).ns_ip,
        tenant_link(MAX_TENANT).ns_ip,
        f"::ffff:{tenant_link(4).ns_ip}",
    ):
        with pytest.raises(AccessDenied) as caught:
            sandbox.check(peer, 3)
        assert caught.value.code == "wrong_network"
    pool = "10.213.0.0/16"
    docker = TenantNetworks(f"docker:{pool}")
    docker.check(str(next(iter(ipaddress.IPv4Network(tenant_subnet(pool, 3)).hosts()))), 3)
    with pytest.raises(AccessDenied):
        docker.check(str(next(iter(ipaddress.IPv4Network(tenant_subnet(pool, 4)).hosts()))), 3)
    TenantNetworks("").check(tenant_link(4).ns_ip, 3)  # nothing known: no check
