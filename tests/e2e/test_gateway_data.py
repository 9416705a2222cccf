"""The SDK against the real gateway, started by the real hub, on SQLite and PostgreSQL.

Tokens are the users' own JupyterHub API tokens, made as the token page makes them. The calls
come from the host here; ``test_sandbox_attacks`` makes them from inside a tenant kernel.
"""

from __future__ import annotations

import json

import pytest
import requests
from openapi_spec_validator import validate
from sqlalchemy import select

from hub.db.models import AuditEvent
from hub.demo import world
from hub.ops import Ctx, tenants
from hub.web.gateway import gateway_routes
from sdk import AccessDenied, InvalidRequest, NotApproved, NotFound, Workspace
from tests.e2e.conftest import api_tokens, gateway_url

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tokens(hub):
    return api_tokens(hub)


def workspace(hub, tokens, user: str, scenario=None) -> Workspace:
    return Workspace(gateway_url(hub), tokens[user], scenario=scenario)


def test_when_alice_opens_her_workspace_then_she_sees_her_scenarios_and_the_catalog(hub, tokens):
    ws = workspace(hub, tokens, "alice")
    assert [s.name for s in ws.scenarios.list()] == ["小微企业普惠信贷评估", "普惠健康险定价"]
    catalog = {d.name: d for d in ws.datasets.list()}
    assert set(catalog) == {"enterprise_registry", "tax_records", "social_insurance",
                            "medical_visits", "transit_trips"}  # fmt: skip
    assert catalog["medical_visits"].approved_columns == world.DATA_LISTS[3][3].split()
    assert catalog["social_insurance"].approved_columns == []  # pending
    html = catalog["medical_visits"]._repr_html_()
    assert "pseudonym" in html and "mask(keep_prefix=1, keep_suffix=0)" in html and "已批准" in html
    assert ws.me()["tenant"] == f"tenant-{world.TENANTS[0]['uscc'].lower()}"
    decisions = {i["dataset"]: i["decision"] for i in ws.data_list()}
    assert decisions["social_insurance"] == "pending" and decisions["tax_records"] == "approved"


def test_when_alice_samples_then_she_gets_the_masked_approved_columns_as_a_dataframe(hub, tokens):
    ws = workspace(hub, tokens, "alice")
    dataset = ws.datasets.get("medical_visits")
    df = dataset.sample()
    assert list(df.columns) == dataset.approved_columns
    assert 0 < len(df) <= 15  # 5 % of the hub's 300-row demo tables
    assert df["patient_id"].str.fullmatch(r"P[0-9a-f]{16}").all()
    assert df["mobile"].str.fullmatch(r"1\d\d\*{4}\d{4}").all()
    assert df.attrs["shuyu"]["masking"]["patient_name"]["operator"] == "mask"
    again = dataset.sample(format="parquet")
    assert again.equals(df)  # the same rows, whatever the format


@pytest.mark.parametrize(
    "user, call, error, code",
    [
        ("alice", lambda ws: ws.datasets.get("social_insurance").sample(), NotApproved,
         "not_approved"),
        ("alice", lambda ws: ws.datasets.get("transit_trips").sample(), NotApproved,
         "not_approved"),
        ("alice", lambda ws: ws.datasets.get("nonexistent"), NotFound, "not_found"),
        ("alice", lambda ws: ws.datasets.get("medical_visits").sample(scenario="小微企业普惠信贷评估"),
         NotApproved, "not_approved"),
        ("bob", lambda ws: ws.datasets.get("medical_visits").sample(scenario="普惠健康险定价"),
         NotFound, "not_found"),
        ("alice", lambda ws: ws.datasets.get("tax_records").sample(format="csv"), InvalidRequest,
         "bad_request"),
    ],
)  # fmt: skip
def test_when_a_call_is_not_allowed_then_the_sdk_raises_its_error_in_both_languages(
    hub, tokens, user, call, error, code
):
    with pytest.raises(error) as caught:
        call(workspace(hub, tokens, user))
    assert caught.value.code == code
    assert caught.value.message_zh and caught.value.message_en


def test_when_bob_names_alices_scenario_by_id_then_he_is_refused(hub, tokens):
    alices = workspace(hub, tokens, "alice").scenarios.get("普惠健康险定价")
    with pytest.raises(AccessDenied) as caught:
        workspace(hub, tokens, "bob").datasets.get("medical_visits").sample(scenario=alices.id)
    assert caught.value.code == "other_tenant"


def test_when_the_token_is_missing_or_forged_then_the_gateway_refuses(hub):
    with pytest.raises(AccessDenied) as caught:
        Workspace(gateway_url(hub), "0123456789abcdef0123456789abcdef").datasets.list()
    assert caught.value.status == 403
    r = requests.get(f"{gateway_url(hub)}/services/gateway/api/v1/datasets", timeout=10)
    assert r.status_code == 401 and " / " in r.json()["error"]


def test_when_the_tenant_is_suspended_mid_session_then_the_next_call_is_refused(hub, tokens):
    _, db, _ = hub
    ws = workspace(hub, tokens, "alice")
    assert len(ws.datasets.get("tax_records").sample()) > 0
    name = world.TENANTS[0]["name"]
    with db.session() as s:
        tenants.change_status(Ctx(session=s, actor="e2e"), name, "suspend", "抽查 / spot check")
    try:
        with pytest.raises(AccessDenied) as caught:
            ws.datasets.get("tax_records").sample()
        assert caught.value.code == "tenant_suspended"
        assert "暂停" in caught.value.message_zh
    finally:
        with db.session() as s:
            tenants.change_status(Ctx(session=s, actor="e2e"), name, "reinstate", "恢复 / ok")
    assert len(ws.datasets.get("tax_records").sample()) > 0


def test_when_data_is_read_then_each_call_is_in_the_audit_trail(hub, tokens):
    _, db, _ = hub
    workspace(hub, tokens, "bob").datasets.get("transit_trips").sample()
    with db.session() as s:
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.actor == "bob").order_by(AuditEvent.id.desc())
        ).all()
    actions = [e.action for e in events[:2]]
    assert actions == ["gateway.sample", "gateway.dataset"]
    assert json.loads(events[0].details)["rows"] >= 0


def test_when_the_openapi_description_is_fetched_then_it_is_valid_and_names_every_route(hub):
    r = requests.get(f"{gateway_url(hub)}/services/gateway/api/v1/openapi.json", timeout=10)
    document = r.json()
    validate(document)
    assert {route.path for route in gateway_routes()} == set(document["paths"])
    assert {"/api/v1/exports", "/api/v1/requests", "/api/v1/requests/{request_id}",
            "/api/v1/requests/{request_id}/withdraw", "/api/v1/requests/{request_id}/download",
            "/api/v1/datasets/{name}/sample", "/api/v1/products/{name}/score",
            "/api/v1/statements/{month}"} <= set(document["paths"])  # fmt: skip
    assert document["servers"] == [{"url": "/services/gateway"}]
