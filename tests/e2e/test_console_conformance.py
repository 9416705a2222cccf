"""Schemathesis against both consoles' JSON routes, started by the real hub and reached through
its proxy with a staff member's API token, from each console's generated OpenAPI document: every
operation, every check, a bounded example count (``schemathesis.toml`` beside this file). Zero
failures is the only pass."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import api_tokens, running_hub
from tests.e2e.schemathesis_run import run_schemathesis

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def hub(request, tmp_path_factory):
    """One backend is enough: the answers' shapes do not depend on it."""
    with running_hub(request, tmp_path_factory, "sqlite") as running:
        yield running


@pytest.fixture(scope="module")
def tokens(hub):
    return api_tokens(hub, ("audrey", "rita"))  # an auditor, a reviewer


@pytest.mark.parametrize("console, user", [("admin", "audrey"), ("review", "rita")])
def test_when_schemathesis_drives_a_console_s_json_routes_then_it_finds_no_failure(
    hub, tokens, tmp_path, console, user
):
    base = f"{hub[0].url}/services/{console}"
    run = run_schemathesis(f"{base}/openapi.json", base, tokens[user], tmp_path)
    result = run.result
    assert result["operations"]["total"] == result["operations"]["tested"] == run.operations
    assert result["test_cases"]["generated"] >= 10 * run.operations
    assert (result["failures"], result["errors"], run.returncode) == ([], [], 0)
