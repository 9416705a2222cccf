"""The consoles' JSON routes: declared, described by each console's OpenAPI document, and
answering every failure as the JSON refusal shape (their pages keep the HTML error page)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from hub.billing.prices import book
from hub.db.models import Request
from hub.settings import Prices
from hub.web import admin_console, review_console
from hub.web.console_base import ConsoleHandler
from hub.web.console_models import AuditExport
from tests.console_app import FAKE_HUB, serving
from tests.test_admin_actions import demo  # noqa: F401  (the fixture)


@pytest.fixture
def user(monkeypatch):
    box = {"user": {"name": "audrey", "scopes": [admin_console.AUDIT]}}
    monkeypatch.setattr(ConsoleHandler, "get_current_user", lambda self: box["user"])
    return box


@pytest.fixture
async def admin(demo, user):  # noqa: F811
    app = admin_console.make_app(demo, FAKE_HUB, "/admin/", book(Prices()), b"p" * 32)
    async with serving(app) as client:
        yield client


@pytest.fixture
async def review(demo, user, tmp_path):  # noqa: F811
    user["user"] = {"name": "rita", "scopes": ["custom:shuyu:review"]}
    app = review_console.make_app(demo, FAKE_HUB, "/review/", tmp_path)
    async with serving(app) as client:
        yield client


def refusal(answer) -> dict:
    assert answer.headers["Content-Type"].startswith("application/json")
    body = json.loads(answer.body)
    assert body["status"] == answer.code and body["message_zh"] and body["message_en"]
    return body


async def test_when_the_console_is_asked_then_its_document_lists_its_json_routes(admin, review):
    document = json.loads((await admin.get("/admin/openapi.json")).body)
    assert set(document["paths"]) == {"/openapi.json", "/audit/export"}
    assert document["servers"] == [{"url": "/admin"}]
    document = json.loads((await review.get("/review/openapi.json")).body)
    assert "/requests/{request_id}/model-summary.json" in document["paths"]
    assert "/requests/{request_id}/model.json" not in document["paths"]  # the file: nowhere


async def test_when_the_trail_is_exported_as_json_then_it_fits_its_model(admin):
    answer = await admin.get("/admin/audit/export?format=json&actor=adam&since=2020-01-01")
    assert answer.code == 200
    export = AuditExport.model_validate_json(answer.body)
    assert export.filters == {"actor": "adam", "since": "2020-01-01"}
    assert all(e.actor == "adam" for e in export.events)


@pytest.mark.parametrize(
    "query, status",
    [("format=xml", 400), ("since=yesterday", 400), ("actor=%00", 400)],
    ids=["format", "date", "control-character"],
)
async def test_when_the_export_query_does_not_fit_then_it_is_a_json_400(admin, query, status):
    answer = await admin.get(f"/admin/audit/export?{query}")
    assert answer.code == status and refusal(answer)["code"] == "bad_request"


async def test_when_a_json_route_is_posted_to_then_it_is_a_json_405(admin):
    answer = await admin.post("/admin/audit/export", {})
    assert answer.code == 405 and refusal(answer)["code"] == "method_not_allowed"
    assert answer.headers["Allow"] == "GET"


async def test_when_no_one_is_signed_in_then_a_json_route_answers_401(admin, user):
    user["user"] = None
    answer = await admin.get("/admin/audit/export?format=json")
    assert answer.code == 401 and refusal(answer)["code"] == "unauthorized"


async def test_when_a_path_is_not_served_then_json_paths_get_json_and_pages_the_page(admin):
    assert refusal(await admin.get("/admin/nothing.json"))["code"] == "not_found"
    page = await admin.get("/admin/nothing")
    assert page.code == 404 and "没有这个页面" in page.body.decode()


async def test_when_a_request_has_no_model_file_then_it_is_a_json_404(review, demo):  # noqa: F811
    with demo.session() as s:
        any_request = s.scalars(select(Request.id)).first()
    for rid in [any_request or 1, 99999, 2**31]:
        answer = await review.get(f"/review/requests/{rid}/model-summary.json")
        assert answer.code == 404 and refusal(answer)["code"] == "not_found"
