"""Schemathesis against the real gateway, started by the real hub, through its generated OpenAPI
description: every operation, every check, the links where ids flow, a bounded example count
(settings in ``schemathesis.toml`` beside this file). Zero failures is the only pass."""

from __future__ import annotations

import pandas as pd
import pytest

from sdk import Workspace
from sdk.disclosure import crosstab
from tests.e2e.conftest import api_tokens, gateway_url, running_hub
from tests.e2e.schemathesis_run import run_schemathesis

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def hub(request, tmp_path_factory):
    """One backend is enough: the answers' shapes do not depend on it."""
    with running_hub(request, tmp_path_factory, "sqlite") as running:
        yield running


def test_when_schemathesis_drives_every_operation_then_it_finds_no_failure(hub, tmp_path):
    token = api_tokens(hub, ("alice",))["alice"]
    base = f"{gateway_url(hub)}/services/gateway"
    # An export of alice's, so the request operations have an id to follow from /requests.
    raw = pd.read_parquet(hub[0].home / "domain" / "raw" / "medical_visits.parquet")
    Workspace(gateway_url(hub), token).exports.create(
        crosstab(raw, "gender", values="cost"), purpose="费用统计 / cost", scenario="普惠健康险定价"
    )
    run = run_schemathesis(f"{base}/api/v1/openapi.json", base, token, tmp_path)
    result = run.result
    assert result["operations"]["total"] == result["operations"]["tested"] == run.operations
    assert result["phases"]["stateful"]["status"] == "success"  # the links were followed
    assert result["test_cases"]["generated"] >= 20 * run.operations
    assert (result["failures"], result["errors"], run.returncode) == ([], [], 0)
