"""The yearly report (shuyu report annual and the console's page): the operator, its authorised
data resources, its products and its fees as the records a test creates say, fees to the cent and
equal to the monthly statements; refusals in both languages; admins and auditors read the page,
providers and processors do not."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from jupyterhub.services.auth import HubOAuth
from sqlalchemy import select

from hub.billing import annual, statements
from hub.billing.prices import book
from hub.db.models import (
    DataListItem,
    Dataset,
    Decision,
    Department,
    MeterEvent,
    Product,
    Request,
    Scenario,
    Tenant,
)
from hub.demo import world
from hub.ops.setup import init_home
from hub.settings import Prices
from hub.web import admin_console
from hub.web.console_base import ConsoleHandler
from tests.cli_helpers import run_cli
from tests.console_app import serving

BOOK = book(Prices())
CREDIT, CARBON = world.TENANTS[0]["name"], world.TENANTS[1]["name"]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (tenant index, when, kind, quantity, details); what each costs at the default book is below.
EVENTS = [
    (0, "2026-01-10T09:00:00", "job_seconds", 1000, {"cpus": 2}),  # 0.5556 h x 2.00 -> 1.11
    (0, "2026-01-20T09:00:00", "model_publish", 1, {}),  # 200.00
    (0, "2026-03-05T09:00:00", "export_download", 1, {"first": True}),  # 50.00
    (0, "2026-03-06T09:00:00", "masked_rows", 12345, {}),  # 1.2345 x 1.00 -> 1.23
    (0, "2025-12-31T23:59:59", "model_publish", 1, {}),  # the year before: not reported
    (1, "2026-02-01T09:00:00", "job_seconds", 3600, {"cpus": 1}),  # public governance: free
]
CREDIT_MONTHS = {"2026-01": Decimal("201.11"), "2026-03": Decimal("51.23")}
CREDIT_TOTAL = Decimal("252.34")


@pytest.fixture
def records(shuyu_home, db):
    """The demo world, the metered events above, and one published product of CREDIT's."""
    init_home(shuyu_home, db)
    world.build(shuyu_home, db, rows=50)
    with db.session() as s:
        tenants = [
            s.scalars(select(Tenant).where(Tenant.name == n)).one() for n in (CREDIT, CARBON)
        ]
        scenario = {
            t.id: s.scalars(select(Scenario).where(Scenario.tenant_id == t.id)).first()
            for t in tenants
        }
        for where, when, kind, quantity, details in EVENTS:
            t = tenants[where]
            s.add(MeterEvent(at=at(when), tenant_id=t.id, scenario_id=scenario[t.id].id,
                             actor="test", kind=kind, quantity=quantity, details=details))  # fmt: skip
        credit = tenants[0]
        request = Request(kind="model", tenant_id=credit.id, scenario_id=scenario[credit.id].id,
                          requester="alice", purpose="测试 / test", status="published", level=1,
                          approvals_needed=1, name="m", meta={})  # fmt: skip
        s.add(request)
        s.flush()
        s.add(Product(name="credit-score", tenant_id=credit.id, scenario_id=scenario[credit.id].id,
                      request_id=request.id, model_path="-", model_sha256="0" * 64,
                      created_at=at("2026-04-01T10:00:00")))  # fmt: skip
    return db


def approved_items(db, tenant: str) -> set[tuple[str, str, int, tuple[str, ...], str]]:
    """What the records say the tenant was authorised: dataset, department, level, columns,
    scenario, read straight from the tables."""
    with db.session() as s:
        rows = s.execute(
            select(
                Dataset.name, Department.name, Dataset.level, DataListItem.columns, Scenario.name
            )
            .join(Dataset, Dataset.id == DataListItem.dataset_id)
            .join(Department, Department.id == Dataset.department_id)
            .join(Scenario, Scenario.id == DataListItem.scenario_id)
            .join(Tenant, Tenant.id == Scenario.tenant_id)
            .where(Tenant.name == tenant, DataListItem.decision == Decision.APPROVED)
        ).all()
    return {(d, dep, lvl, tuple(cols), sc) for d, dep, lvl, cols, sc in rows}


def test_the_report_holds_the_operator_its_resources_products_and_fees_to_the_cent(records):
    with records.session() as s:
        (r,) = annual.reports(s, 2026, BOOK, CREDIT)
        credit = s.scalars(select(Tenant).where(Tenant.name == CREDIT)).one()
        monthly = [
            statements.statement(s, credit, f"2026-{m:02d}", BOOK).total for m in range(1, 13)
        ]
    assert r.tenant == CREDIT and r.uscc == world.TENANTS[0]["uscc"]
    assert r.agreements and all(len(a) == 3 for a in r.agreements)
    got = {(x.dataset, x.department, x.level, tuple(x.columns), x.scenario) for x in r.resources}
    expected = approved_items(records, CREDIT)
    assert expected and got == expected
    assert {x.category for x in r.resources} == {"industry"}
    assert [(p.name, p.published, p.category) for p in r.products] == [
        ("credit-score", "2026-04-01", "industry")
    ]
    fees = {f.month: f.amount for f in r.fees if f.category == "industry" and f.amount}
    assert fees == CREDIT_MONTHS
    assert r.totals == {"industry": CREDIT_TOTAL, "public-governance": Decimal("0.00")}
    assert r.total == CREDIT_TOTAL == sum(monthly, Decimal("0.00"))
    assert r.metered_events == 4  # the event of 2025-12-31 is not the year's


def test_a_public_governance_operator_s_fees_are_zero_and_every_operator_is_reported(records):
    with records.session() as s:
        reps = annual.reports(s, 2026, BOOK)
    by = {r.tenant: r for r in reps}
    assert CREDIT in by and CARBON in by
    assert by[CARBON].total == Decimal("0.00") and by[CARBON].metered_events == 1
    assert by[CARBON].products == []


def test_the_cli_writes_csv_and_bilingual_html(records, tmp_path, monkeypatch, capsys):
    out = tmp_path / "annual.csv"
    rc, stdout, err = run_cli(monkeypatch, capsys, "report", "annual", "--year", "2026",
                              "--format", "csv", "--tenant", CREDIT, "--out", str(out))  # fmt: skip
    assert rc == 0, err
    assert "annual report 2026 written" in stdout
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert {r["section"] for r in rows} == {"operator", "resource", "product", "fee", "fee_total"}
    assert all(r["tenant"] == CREDIT and r["year"] == "2026" for r in rows)
    fee = {r["month"]: Decimal(r["amount"]) for r in rows
           if r["section"] == "fee" and r["category"] == "industry"}  # fmt: skip
    assert fee["2026-01"] == Decimal("201.11") and fee["2026-03"] == Decimal("51.23")
    assert len(fee) == 12 and sum(fee.values()) == CREDIT_TOTAL
    (total,) = [r for r in rows if r["section"] == "fee_total" and r["name"] == "total"]
    assert Decimal(total["amount"]) == CREDIT_TOTAL
    resources = {(r["name"], r["columns"]) for r in rows if r["section"] == "resource"}
    assert resources == {(d, " ".join(c)) for d, _, _, c, _ in approved_items(records, CREDIT)}
    assert [r["name"] for r in rows if r["section"] == "product"] == ["credit-score"]

    rc, page, err = run_cli(monkeypatch, capsys, "report", "annual", "--year", "2026",
                            "--format", "html", "--tenant", CREDIT)  # fmt: skip
    assert rc == 0, err
    for heading in ("运营主体 / Operator", "授权数据资源 / Authorised data resources",
                    "产品清单 / Products", "实际收费 / Fees charged"):  # fmt: skip
        assert heading in page
    assert "<th class=num id=total>252.34</th>" in page and world.TENANTS[0]["uscc"] in page


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        pytest.param(["--year", "2019"], ("年份无效", "bad year 2019"), id="before-the-platform"),
        pytest.param(["--year", "2031"], ("年份无效", "bad year 2031"), id="future"),
        pytest.param(["--year", "twenty"], ("年份无效", "bad year twenty"), id="not-a-year"),
        pytest.param(
            ["--year", "2026", "--tenant", "无此公司"],
            ("加工使用主体不存在", "unknown tenant: 无此公司"),
            id="unknown-tenant",
        ),  # fmt: skip
        pytest.param(
            ["--year", "2021"], ("2021 年没有任何记录", "no records for 2021"), id="no-records"
        ),  # fmt: skip
        pytest.param(
            ["--year", "2021", "--tenant", CREDIT],
            ("2021 年没有加工使用主体", f"no records of {CREDIT} for 2021"),
            id="no-records-of-the-tenant",
        ),  # fmt: skip
    ],
)
def test_refusals_are_bilingual(records, monkeypatch, capsys, argv, words):
    rc, stdout, err = run_cli(monkeypatch, capsys, "report", "annual", *argv)
    assert rc == 2 and stdout == ""
    for w in words:
        assert w in err


@pytest.fixture
def hub_user(records, monkeypatch):
    """The console behind the real hub scope check; only the signed-in user's lookup is given."""
    hub_auth = HubOAuth(api_token="unused", cache_max_age=10)
    hub_auth.login_url = "/hub/login"
    user: dict = {}
    monkeypatch.setattr(hub_auth, "get_user", lambda handler: dict(user))
    monkeypatch.setattr(ConsoleHandler, "_hub_auth", hub_auth)
    return hub_auth, user


async def test_admins_and_auditors_read_the_page_and_its_csv_providers_and_processors_do_not(
    records, hub_user
):
    hub_auth, user = hub_user
    app = admin_console.make_app(records, hub_auth, "/admin/", BOOK, b"p" * 32)
    from urllib.parse import quote

    page = f"/admin/annual?year=2026&tenant={quote(CREDIT)}"
    async with serving(app) as client:
        for name, scope in (("adam", admin_console.ADMIN), ("audrey", admin_console.AUDIT)):
            user.update(name=name, scopes=[scope])
            answer = await client.get(page)
            body = answer.body.decode()
            assert answer.code == 200, body
            assert "年度报告 / Annual report" in body and "id=total>252.34<" in body
            assert "下载 CSV / Download CSV" in body
            answer = await client.get(page + "&format=csv")
            assert answer.code == 200 and answer.headers["Content-Type"].startswith("text/csv")
            rows = list(csv.DictReader(io.StringIO(answer.body.decode())))
            (total,) = [r for r in rows if r["section"] == "fee_total" and r["name"] == "total"]
            assert Decimal(total["amount"]) == CREDIT_TOTAL
        # Read-only: nothing posts to this page (refused before any handler runs).
        answer = await client.post(page, {"tenant": CREDIT})
        assert answer.code in (403, 405)
        for name, scope in (("paul", admin_console.PROVIDE), ("alice", "custom:shuyu:process")):
            user.update(name=name, scopes=[scope])
            for path in (page, page + "&format=csv"):
                answer = await client.get(path)
                assert answer.code == 403 and "252.34" not in answer.body.decode()


async def test_the_page_refuses_a_bad_year_and_says_when_there_is_nothing(records, hub_user):
    hub_auth, user = hub_user
    app = admin_console.make_app(records, hub_auth, "/admin/", BOOK, b"p" * 32)
    from urllib.parse import quote

    user.update(name="audrey", scopes=[admin_console.AUDIT])
    async with serving(app) as client:
        answer = await client.get(f"/admin/annual?year=19&tenant={quote(CREDIT)}")
        assert answer.code == 400 and "bad year 19" in answer.body.decode()
        answer = await client.get(f"/admin/annual?year=2021&tenant={quote(CREDIT)}")
        assert answer.code == 404 and f"no records of {CREDIT} for 2021" in answer.body.decode()
        answer = await client.get("/admin/annual?year=2026&tenant=nobody")
        assert answer.code == 404 and "unknown tenant: nobody" in answer.body.decode()
        answer = await client.get("/admin/annual?year=2026")
        assert answer.code == 200 and CREDIT in answer.body.decode()  # the operators to choose
        with records.session() as s:
            credit = s.scalars(select(Tenant).where(Tenant.name == CREDIT)).one().id
        answer = await client.get(f"/admin/tenants/{credit}")  # the dashboard links to it
        assert answer.code == 200 and 'id="annual"' in answer.body.decode()
