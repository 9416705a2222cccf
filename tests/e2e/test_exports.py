"""An export through the real gateway, started by the real hub (SQLite and PostgreSQL): the SDK
submits, the platform checks, two reviewers decide, the requester downloads the approved bytes.

Reviewers decide through :mod:`hub.review.lifecycle` here, as the review console will.
"""

from __future__ import annotations

import hashlib
import time
import warnings

import pandas as pd
import pytest

from hub.review import lifecycle
from sdk import AccessDenied, Conflict, InvalidRequest, Workspace
from sdk.disclosure import DisclosureWarning, crosstab
from tests.e2e.conftest import api_tokens, gateway_url

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ws(hub):
    return {user: Workspace(gateway_url(hub), token) for user, token in api_tokens(hub).items()}


def result(hub) -> pd.DataFrame:
    """Cost by gender, as a job computes it on the raw table: every cell large, none dominated,
    so the platform can recompute (and pass) each check from the raw records itself."""
    frame = pd.read_parquet(hub[0].home / "domain" / "raw" / "medical_visits.parquet")
    return crosstab(frame, "gender", values="cost")


def until_in_review(request, timeout: float = 30) -> None:
    """Wait for the platform's checks (they run after the submit answers)."""
    deadline = time.monotonic() + timeout
    while request.reload().status != "in_review":
        assert time.monotonic() < deadline, request.attrs
        time.sleep(0.2)


def decide(db, request_id: int, reviewer: str, decision: str = "approve") -> None:
    with db.session() as s:
        lifecycle.decide(s, request_id, reviewer, decision, "核对无误 / checked")


def test_when_an_export_is_submitted_reviewed_and_downloaded_then_the_bytes_are_approved(
    hub, ws, tmp_path
):
    _, db, _ = hub
    request = ws["alice"].exports.create(result(hub), purpose="区县费用统计 / cost by district",
                                         scenario="普惠健康险定价", name="cost-by-district")  # fmt: skip
    assert request.status in ("submitted", "checking", "in_review")
    with pytest.raises(Conflict):
        request.download(tmp_path / "early.parquet")  # not approved yet
    until_in_review(request)
    assert {c["name"]: c["verdict"] for c in request.checks}["sdc"] == "pass"
    assert request.approvals_needed == 2  # medical data: level 4
    decide(db, request.id, "rita")
    decide(db, request.id, "ryan")
    assert request.wait(timeout=30, progress=False).status == "approved"
    assert request.approvals == 2 and "rita" not in str(request.attrs)  # reviewers stay anonymous
    assert "2/2" in request._repr_html_()
    path = request.download(tmp_path / "cost.parquet")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == request.sha256
    assert pd.read_parquet(path)["n"].tolist() == result(hub)["n"].tolist()
    assert request.reload().status == "released"
    mine = ws["alice"].requests.list()
    assert request.id in [r.id for r in mine] and "cost-by-district" in mine._repr_html_()


def test_when_someone_else_reaches_for_an_export_then_it_is_refused(hub, ws):
    request = ws["alice"].exports.create(
        result(hub), purpose="测试 / test", scenario="普惠健康险定价"
    )
    with pytest.raises(AccessDenied) as caught:
        ws["bob"].requests.get(request.id)
    assert caught.value.code == "not_requester"
    with pytest.raises(AccessDenied):
        ws["bob"].requests.get(request.id).download()  # never reaches download
    assert request.id not in [r.id for r in ws["bob"].requests.list()]


def test_when_a_result_holds_a_small_cell_then_preflight_warns_and_the_check_fails(hub, ws):
    frame = pd.DataFrame({"district": ["上城区", "西湖区"], "n": [25, 3]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        request = ws["alice"].exports.create(frame, purpose="小格测试 / small cell",
                                             scenario="普惠健康险定价")  # fmt: skip
    assert any(issubclass(w.category, DisclosureWarning) for w in caught)
    until_in_review(request)
    assert {c["name"]: c["verdict"] for c in request.checks}["sdc"] == "fail"
    assert request.withdraw().status == "withdrawn"


def test_when_the_upload_is_not_parquet_or_has_no_purpose_then_it_is_refused(hub, ws):
    client = ws["alice"].client
    with pytest.raises(InvalidRequest):
        client.post_json("/exports", data=b"not parquet", purpose="测试 / test",
                         scenario="普惠健康险定价")  # fmt: skip
    with pytest.raises(InvalidRequest):
        ws["alice"].exports.create(result(hub), purpose="", scenario="普惠健康险定价")
