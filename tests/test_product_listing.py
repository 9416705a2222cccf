"""Registering a product from the notebook (``ws.products.register`` against the real gateway
application; only the hub's token check is faked), reading its registrations, another company
kept out; the listing package from the CLI; and the admin console's product pages (核验 and
listing), in Chinese and English, for admins and auditors only."""

from __future__ import annotations

import json
import time

import pytest
from jupyterhub.services.auth import HubOAuth

import sdk
from hub import home
from hub.access.samples import SampleService
from hub.billing import prices
from hub.db.engine import Database
from hub.demo import world
from hub.ops.setup import init_home
from hub.production import executor
from hub.production.rules import ProductionRules
from hub.review import lifecycle
from hub.review.checks import Limits
from hub.settings import Prices
from hub.web import admin_console, gateway
from hub.web.console_base import ConsoleHandler
from tests.cli_helpers import run_cli
from tests.console_app import serving
from tests.test_privacy_sdk import TokensOfStaff
from tests.test_product_registration import ANSWERS, HEALTH, publish_model
from tests.threaded_server import served

PREFIX = "/services/gateway"
PRODUCT = "visit-listing"
BOOK = prices.book(Prices())


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    h = tmp_path_factory.mktemp("listing")
    url = f"sqlite:///{h / 'platform.sqlite'}"
    db = Database(url)
    init_home(h, db)
    world.build(h, db, rows=50)
    publish_model(h, db, PRODUCT, "alice", HEALTH, "medical_visits", b"listing-model")
    samples = SampleService(db, home.domain_store(h), b"m" * 32)
    app = gateway.make_app(db, TokensOfStaff(db), PREFIX, samples, exec_master=b"k" * 32)
    with served(app) as base:
        yield {"url": base, "db": db, "home": h, "db_url": url}
    db.dispose()


class SignedIn(dict):
    """The signed-in user the hub's (real) scope check sees; only its lookup is given."""

    hub: HubOAuth


def signed_in(monkeypatch) -> SignedIn:
    user = SignedIn()
    user.hub = HubOAuth(api_token="unused", cache_max_age=10)
    user.hub.login_url = "/hub/login"
    monkeypatch.setattr(user.hub, "get_user", lambda handler: dict(user))
    monkeypatch.setattr(ConsoleHandler, "_hub_auth", user.hub)
    return user


def workspace(platform, user: str) -> sdk.Workspace:
    return sdk.Workspace(platform["url"], f"tok-{user}", scenario=HEALTH, timeout=30)


def until(predicate, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError("condition not reached")


@pytest.fixture(scope="module")
def registered(platform) -> int:
    """alice registers the product from her notebook; two reviewers approve; the zone issues."""
    ws = workspace(platform, "alice")
    assert ws.products.registrations(PRODUCT)["in_force"] is None
    request = ws.products.register(
        PRODUCT, category="scoring", price=0.3, unit="次", purpose="上架 / listing",
        processing="在域内原始就诊数据上训练的费用回归模型", self_assessment=ANSWERS,
        title="就诊费用评分",
    )  # fmt: skip
    db = platform["db"]
    assert until(lambda: request.reload().status == "in_review")
    for reviewer in ("rita", "ryan"):
        with db.session() as s:
            lifecycle.decide(s, request.id, reviewer, "approve", "核对无误 / checked")
    outcome = executor.act(db, request.id, home.domain_store(platform["home"]), ProductionRules(),
                           Limits(), platform["home"] / "none.bpf")  # fmt: skip
    assert outcome == "published"
    return request.id


def test_a_company_registers_from_the_notebook_and_reads_its_registrations(platform, registered):
    answer = workspace(platform, "alice").products.registrations(PRODUCT)
    assert answer["in_force"]["version"] == 1 and answer["in_force"]["unit"] == "call"
    assert answer["in_force"]["data_resources"][0]["dataset"] == "medical_visits"
    assert [r["version"] for r in answer["registrations"]] == [1]


@pytest.mark.parametrize("call", ["registrations", "register"])
def test_another_company_can_neither_read_nor_register_the_product(platform, registered, call):
    ws = sdk.Workspace(platform["url"], "tok-bob", scenario="个人低碳出行积分", timeout=30)
    with pytest.raises(sdk.NotFound):
        if call == "registrations":
            ws.products.registrations(PRODUCT)
        else:
            ws.products.register(PRODUCT, category="scoring", price=0, unit="call",
                                 processing="抢注他人产品的尝试记录", self_assessment=ANSWERS,
                                 purpose="抢注 / squat")  # fmt: skip


def test_the_cli_prints_the_registrations_and_writes_the_listing(
    platform, registered, monkeypatch, capsys, tmp_path
):
    monkeypatch.setenv("SHUYU_HOME", str(platform["home"]))
    monkeypatch.setenv("SHUYU_DB_URL", platform["db_url"])
    rc, out, _ = run_cli(monkeypatch, capsys, "product", "registrations", PRODUCT)
    assert rc == 0 and "V1" in out and "生效 / in force" in out
    rc, out, _ = run_cli(monkeypatch, capsys, "product", "listing", PRODUCT, "--out",
                         str(tmp_path / "l.json"))  # fmt: skip
    assert rc == 0 and "SYDJ-" in out
    package = json.loads((tmp_path / "l.json").read_text())
    assert package["product"] == PRODUCT and package["registration"]["price"] == 0.3
    rc, out, _ = run_cli(monkeypatch, capsys, "product", "listing", PRODUCT, "--format", "html")
    assert rc == 0 and "数据产品挂牌信息 / Data product listing" in out
    rc, _, err = run_cli(monkeypatch, capsys, "product", "listing", "no-such-product")
    assert rc != 0 and "no product no-such-product" in err and "Traceback" not in err


@pytest.mark.parametrize("lang, words", [("zh", ("已登记（生效）", "来源追溯")),
                                         ("en", ("registered (in force)", "Lineage"))])  # fmt: skip
async def test_the_admin_console_shows_the_products_check_and_listing(
    platform, registered, monkeypatch, lang, words
):
    user = signed_in(monkeypatch)
    user.update(name="audrey", scopes=[admin_console.AUDIT])
    app = admin_console.make_app(platform["db"], user.hub, "/admin/", BOOK, b"p" * 32)
    async with serving(app) as client:
        listed = await client.get(f"/admin/products?lang={lang}")
        page = await client.get(f"/admin/products/{PRODUCT}?lang={lang}")
        as_json = await client.get(f"/admin/products/{PRODUCT}/listing.json")
        as_html = await client.get(f"/admin/products/{PRODUCT}/listing.html")
        missing = await client.get(f"/admin/products/no-such-product?lang={lang}")
    assert listed.code == 200 and words[0] in listed.body.decode()
    body = page.body.decode()
    assert page.code == 200 and words[1] in body and "medical_visits" in body
    assert "membership_inference" in body  # the model's checks
    assert json.loads(as_json.body)["registration"]["version"] == 1
    assert as_html.code == 200 and "SYDJ-" in as_html.body.decode()
    assert missing.code == 404


async def test_processors_and_reviewers_are_kept_out_of_the_admin_products_pages(
    platform, registered, monkeypatch
):
    user = signed_in(monkeypatch)
    app = admin_console.make_app(platform["db"], user.hub, "/admin/", BOOK, b"p" * 32)
    async with serving(app) as client:
        for scopes in (["custom:shuyu:process"], ["custom:shuyu:review"], [admin_console.PROVIDE]):
            user.update(name="alice", scopes=scopes)
            for path in ("/admin/products", f"/admin/products/{PRODUCT}/listing.json"):
                answer = await client.get(path)
                assert answer.code == 403, (scopes, path, answer.code)
