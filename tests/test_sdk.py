"""The SDK on its own: configuration, error mapping, and its independence from ``hub``."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

import sdk
from sdk import errors
from tests.ports import free_port


def test_when_the_sdk_is_imported_then_nothing_of_the_hub_is_loaded():
    code = "import sys, sdk; sdk.Workspace; print(sorted(m for m in sys.modules if m == 'hub' or m.startswith('hub.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_when_not_inside_a_workspace_then_workspace_says_so_in_both_languages(monkeypatch):
    monkeypatch.delenv("SHUYU_GATEWAY_URL", raising=False)
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    with pytest.raises(sdk.ShuyuError) as caught:
        sdk.Workspace()
    assert caught.value.code == "no_workspace"
    assert "工作空间" in caught.value.message_zh and "workspace" in caught.value.message_en


@pytest.mark.parametrize(
    "status, body, cls",
    [
        (403, {"code": "not_approved", "message_zh": "未获准", "message_en": "not approved"},
         sdk.NotApproved),
        (403, {"code": "tenant_suspended", "error": "暂停 / suspended"}, sdk.AccessDenied),
        (401, {"error": "需要 API 令牌 / an API token is required"}, sdk.AccessDenied),
        (404, {"code": "not_found", "error": "无 / none"}, sdk.NotFound),
        (400, {"code": "scenario_ambiguous", "error": "请指明 / name one"}, sdk.InvalidRequest),
        (500, {"error": "网关内部错误 / internal gateway error"}, sdk.PlatformUnavailable),
        (502, None, sdk.PlatformUnavailable),
    ],
)  # fmt: skip
def test_when_the_gateway_refuses_then_the_status_and_code_pick_the_exception(status, body, cls):
    error = errors.from_response(status, body)
    assert type(error) is cls and error.status == status
    assert error.message_zh and error.message_en and " / " in str(error)
    assert isinstance(error, sdk.ShuyuError)


def test_when_not_approved_is_raised_then_access_denied_catches_it_too():
    assert issubclass(sdk.NotApproved, sdk.AccessDenied)


def test_when_the_gateway_cannot_be_reached_then_platform_unavailable_is_raised():
    port = free_port()  # nothing listens there
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    ws = sdk.Workspace(f"http://127.0.0.1:{port}", "token", timeout=5)
    with pytest.raises(sdk.PlatformUnavailable) as caught:
        ws.datasets.list()
    assert caught.value.code == "unreachable"


def test_when_a_masking_is_shown_then_it_reads_as_the_operator_and_its_parameters():
    from sdk.html import masking_text, table

    assert masking_text(None) == "—"
    assert masking_text({"operator": "pseudonym", "params": {}}) == "pseudonym"
    assert masking_text({"operator": "mask", "params": {"keep_suffix": 4, "keep_prefix": 3}}) == (
        "mask(keep_prefix=3, keep_suffix=4)"
    )
    assert "&lt;script&gt;" in table(["a"], [["<script>"]])  # values are escaped


@pytest.mark.parametrize(
    "text, kind",
    [
        ("电话 13812345678", "mobile"),
        ("+86 138-1234-5678", "mobile"),
        ("身份证 11010519491231002X", "resident_id"),
        ("１１０１０５１９４９１２３１００２Ｘ", "resident_id"),
        ("卡号 6222 0212 3456 7890 128", "bank_card"),
        ("91330106MA2H0A1B2T", "uscc"),
    ],
)
def test_when_text_holds_an_identifier_then_find_identifiers_names_it(text, kind):
    from sdk.identifiers import find_identifiers, luhn_valid

    if kind == "bank_card":
        assert luhn_valid("6222021234567890128")
    assert [k for k, _ in find_identifiers(text)] == [kind]


def test_when_numbers_only_look_like_identifiers_then_find_identifiers_stays_quiet():
    from sdk.identifiers import find_identifiers

    for text in ("11010519491231002Y", "订单 20240101123456789", "P3fa8c0123456789ab", "2024年"):
        assert find_identifiers(text) == [], text


def test_when_a_result_holds_identifiers_or_small_counts_then_preflight_warns_in_both_languages():
    import pandas as pd

    from sdk.disclosure import DisclosureWarning, preflight

    frame = pd.DataFrame({"who": ["11010519491231002X", "x"], "n": [3, 40]})
    with pytest.warns(DisclosureWarning) as caught:
        found = preflight(frame)
    assert len(found) == 2 and all(" / " in str(w.message) for w in caught)
    assert preflight(pd.DataFrame({"d": ["a", "b"], "n": [30, 40]})) == []


def test_when_the_sdk_calls_the_gateway_then_only_its_client_layer_names_a_path():
    import ast
    from pathlib import Path

    transport = {"get_json", "post_json", "get_bytes", "_call"}
    offenders = []
    for path in Path(sdk.__file__).parent.glob("*.py"):
        if path.name == "client.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in transport:
                offenders.append(f"{path.name}:{node.lineno} {node.attr}")
    assert offenders == []


def test_when_a_resource_reloads_then_it_asks_its_collection():
    from sdk.client import APIClient
    from sdk.resources import Collection

    asked = []

    class Things(Collection):
        def get(self, resource_id):
            asked.append(resource_id)
            return self.prepare({"id": resource_id, "status": "approved"})

    things = Things(APIClient("http://127.0.0.1:9", "token"))
    thing = things.prepare({"id": 7, "status": "in_review"})
    assert thing.reload() is thing
    assert (asked, thing.status, thing.collection) == ([7], "approved", things)


def test_when_the_sql_magic_line_is_read_then_a_variable_and_a_scenario_are_taken():
    from sdk.magics import parse

    assert parse("") == (None, None)
    assert parse("by_dept --scenario '普惠健康险 定价'") == ("by_dept", "普惠健康险 定价")
    assert parse("-s 7 out") == ("out", "7")
    with pytest.raises(sdk.InvalidRequest) as caught:
        parse("out other")
    assert caught.value.code == "sql" and "%%sql" in caught.value.message_zh


def test_when_sql_names_its_tables_then_only_real_tables_are_fetched():
    from sdk.sql import tables_in

    text = "WITH w AS (SELECT * FROM medical_visits) SELECT * FROM w JOIN credit_records c ON TRUE"
    assert tables_in(text) == {"medical_visits", "credit_records"}
    with pytest.raises(sdk.InvalidRequest) as caught:
        tables_in("SELEC 1")
    assert caught.value.code == "sql" and "SQL" in caught.value.message_en


def test_when_an_sdk_error_reaches_a_notebook_then_it_shows_its_message_not_a_stack():
    error = sdk.NotApproved("未获准", "not approved", code="not_approved")
    assert error._render_traceback_() == ["NotApproved: 未获准 / not approved"]
