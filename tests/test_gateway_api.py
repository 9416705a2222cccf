"""The gateway's route table, its generated OpenAPI document and its answers that are not a
success, without a hub: only the hub's token check is faked (the network boundary)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from openapi_spec_validator import validate
from tornado import httpserver
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from hub.access.origin import TenantNetworks
from hub.web import api_models as m
from hub.web import gateway, openapi
from hub.web.api_routes import Operation, Param, Route, UndeclaredRoute, tornado_rules
from hub.web.base import GatewayHandler
from tests.ports import free_port

PREFIX = "/services/gateway"
REFUSAL_FIELDS = {"error", "code", "status", "message_zh", "message_en"}


class HubAuthWithoutTokens:
    """The hub knows no token: every token is invalid."""

    async def user_for_token(self, token: str, sync: bool = True) -> None:
        return None


def make_app(tmp_path):
    samples = SimpleNamespace(networks=TenantNetworks(), store=tmp_path)
    return gateway.make_app(None, HubAuthWithoutTokens(), PREFIX, samples, exec_master=b"k" * 32)


def test_when_the_document_is_generated_then_it_is_valid_and_holds_every_route_of_the_app(
    tmp_path,
):
    app = make_app(tmp_path)
    document = openapi.document(PREFIX, app.settings["api_routes"])
    validate(document)
    served = {
        (rule.matcher.regex.pattern, rule.target) for rule in app.wildcard_router.rules
    }  # the tornado rules the app really has
    assert len(served) == len(gateway.gateway_routes()) >= 27
    for route in app.settings["api_routes"]:
        assert (route.pattern(PREFIX) + "$", route.handler) in served
        documented = document["paths"][route.path]
        for method in ("get", "post", "put", "patch", "delete"):
            implemented = getattr(route.handler, method) is not getattr(GatewayHandler, method)
            assert (method in documented) == implemented, (route.path, method)
    for path in ("/api/v1/exports", "/api/v1/requests", "/api/v1/requests/{request_id}",
                 "/api/v1/requests/{request_id}/withdraw", "/api/v1/requests/{request_id}/download",
                 "/api/executions", "/api/health"):  # fmt: skip
        assert path in document["paths"]


def test_when_an_operation_can_refuse_then_the_document_shows_the_refusal_shape(tmp_path):
    document = openapi.document(PREFIX, make_app(tmp_path).settings["api_routes"])
    refusal = {"$ref": "#/components/schemas/Refusal"}
    for path, item in document["paths"].items():
        for method, op in item.items():
            statuses = set(op["responses"])
            if op["security"]:
                assert {"401", "403"} <= statuses, (path, method)
            if "{" in path:
                assert "404" in statuses, (path, method)
            for status, answer in op["responses"].items():
                if not status.startswith("2"):
                    assert answer["content"]["application/json"]["schema"] == refusal
    assert set(document["components"]["schemas"]["Refusal"]["required"]) == REFUSAL_FIELDS
    created = document["paths"]["/api/v1/exports"]["post"]["responses"]["201"]
    assert created["links"]["get_OneRequest"]["parameters"] == {"request_id": "$response.body#/id"}


class Undeclared(GatewayHandler):
    api = {"get": Operation("Reads", m.Health)}

    def get(self) -> None: ...

    def post(self) -> None: ...


class Declared(GatewayHandler):
    api = {"get": Operation("Reads", m.Health)}

    def get(self, name: str) -> None: ...


@pytest.mark.parametrize(
    "route, why",
    [
        (Route("/api/v1/things", Undeclared), "implements POST"),
        (Route("/api/v1/things/{name}", Declared), "'name' has no pattern"),
        (Route("/api/v1/things", GatewayHandler), "declares no operation"),
    ],
)
def test_when_a_route_is_not_fully_declared_then_the_app_is_not_built(route, why):
    with pytest.raises(UndeclaredRoute, match=why):
        tornado_rules(PREFIX, [route])


def test_when_a_route_is_declared_then_its_pattern_matches_what_its_parameter_schema_allows():
    route = Route("/api/v1/things/{name}.json", Declared, {"name": Param("[a-z]+", {})})
    assert route.pattern(PREFIX) == r"/services/gateway/api/v1/things/(?P<name>[a-z]+)\.json"


@pytest.fixture
async def gateway_url(tmp_path):
    port = free_port()
    server = httpserver.HTTPServer(make_app(tmp_path))
    server.listen(port, "127.0.0.1")
    yield f"http://127.0.0.1:{port}{PREFIX}"
    server.stop()


@pytest.mark.parametrize(
    "method, path, headers, status, code",
    [
        ("GET", "/api/v1/nothing-here", {}, 404, "not_found"),
        ("GET", "/api/v1/datasets/NOT_A_NAME", {}, 404, "not_found"),
        ("GET", "/api/v1/requests/-1/download", {}, 404, "not_found"),
        ("GET", "/api/v1/datasets", {}, 401, "unauthorized"),
        ("GET", "/api/v1/datasets", {"Authorization": "Bearer forged"}, 403, "invalid_token"),
        ("GET", "/api/v1/me", {"X-Forwarded-For": "10.0.0.1"}, 403, "proxied"),
        ("PUT", "/api/v1/me", {}, 405, "method_not_allowed"),
        ("DELETE", "/api/v1/requests/1", {}, 405, "method_not_allowed"),
    ],
)
async def test_when_a_call_is_refused_then_the_answer_is_the_refusal_shape_in_both_languages(
    gateway_url, method, path, headers, status, code
):
    body = b"" if method in ("PUT", "POST") else None
    with pytest.raises(HTTPClientError) as caught:
        await AsyncHTTPClient().fetch(gateway_url + path, method=method, headers=headers, body=body)
    response = caught.value.response
    assert response.code == status
    assert response.headers["Content-Type"].startswith("application/json")
    answer = json.loads(response.body)
    assert set(answer) == REFUSAL_FIELDS
    assert (answer["status"], answer["code"]) == (status, code)
    assert answer["error"] == f"{answer['message_zh']} / {answer['message_en']}"
    if status == 405:
        assert response.headers["Allow"] == "GET"


async def test_when_the_description_or_health_is_asked_then_no_token_is_needed(gateway_url):
    document = json.loads(
        (await AsyncHTTPClient().fetch(f"{gateway_url}/api/v1/openapi.json")).body
    )
    assert document["servers"] == [{"url": PREFIX}]
    health = await AsyncHTTPClient().fetch(f"{gateway_url}/api/health")
    assert json.loads(health.body) == {"status": "ok"}
