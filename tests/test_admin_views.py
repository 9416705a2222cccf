"""What the administration console reads: dashboards, tenants, the trail's export, data lists."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from hub.billing import statements
from hub.billing.prices import book
from hub.db.models import AuditEvent, MeterEvent, Tenant
from hub.demo import world
from hub.settings import Prices
from hub.web import admin_views
from hub.web.charts import bars

BOOK = book(Prices())


@pytest.fixture
def demo(shuyu_home, db):
    world.build(shuyu_home, db, rows=50)
    return db


def test_when_a_dashboard_is_read_then_its_fees_are_the_statements_and_its_days_are_thirty(demo):
    with demo.session() as s:
        tenant = s.scalars(select(Tenant).where(Tenant.name == world.TENANTS[0]["name"])).one()
        s.add(MeterEvent(tenant_id=tenant.id, actor="alice", kind="container_seconds", quantity=3600,
                         details={"cpus": 1.0, "memory_gb": 2.0}))  # fmt: skip
    with demo.session() as s:
        tenant = s.scalars(select(Tenant).where(Tenant.name == world.TENANTS[0]["name"])).one()
        board = admin_views.dashboard(s, tenant.id, BOOK, date.today())
        st = statements.statement(s, tenant, date.today().strftime("%Y-%m"), BOOK)
    assert len(board["activity"]) == 30 and board["activity"][-1][1] > 0  # the demo's events today
    assert Decimal(board["total"]) == st.total == Decimal("0.70")
    assert dict(board["fees"]) == {"container_cpu_hour": 0.5, "container_memory_gb_hour": 0.2}
    assert {x["username"] for x in board["staff"]} >= {"alice", "carol"}


def test_when_the_trail_is_exported_then_every_hash_is_the_stored_one_in_order(demo):
    with demo.session() as s:
        stored = [
            (e.id, e.prev_hash, e.hash)
            for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]
        text = admin_views.export(s, {}, "csv")
        data = json.loads(admin_views.export(s, {"action": "staff."}, "json"))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(int(r["id"]), r["prev_hash"], r["hash"]) for r in rows] == stored
    assert all(r["prev_hash"] == p["hash"] for p, r in zip(rows, rows[1:], strict=False))
    assert data["events"] and {e["action"].split(".")[0] for e in data["events"]} == {"staff"}


def test_when_a_department_reads_the_data_lists_then_it_sees_only_its_own_datasets(demo):
    with demo.session() as s:
        own = admin_views.data_list_items(s, "paul")
        everything = admin_views.data_list_items(s, None)
    assert {r["dataset"] for r in own} == {"medical_visits"}
    assert len(everything) > len(own) and {r["department"] for r in own} == {"市卫生健康委员会"}


def test_when_a_chart_is_drawn_then_labels_are_escaped_and_the_tallest_bar_fills_the_plot():
    svg = bars([("<b>", 4), ("x", 2)], title="活动 & more")
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "活动 &amp; more" in svg
    heights = [float(h) for h in re.findall(r'height="([0-9.]+)" fill', svg)]
    assert heights == [146.0, 73.0]
    assert "—" in bars([], title="empty")


def test_when_a_companys_agreement_has_ended_then_the_list_says_expired_and_days_are_shown(demo):
    from datetime import timedelta

    from hub.web.console_text import TEXT

    with demo.session() as s:
        tenant = s.scalars(select(Tenant).where(Tenant.name == world.TENANTS[0]["name"])).one()
        end = tenant.agreements[0].end
        before = {r["name"]: r for r in admin_views.tenants(s, BOOK, end - timedelta(days=200))}
        after = {r["name"]: r for r in admin_views.tenants(s, BOOK, end + timedelta(days=1))}
    first = world.TENANTS[0]["name"]
    assert before[first]["state"] == "active" and before[first]["days_left"] == 200
    assert not before[first]["remind"]
    assert all(r["days_left"] is not None for r in before.values() if r["term"])
    assert after[first]["state"] == "agreement_expired" and after[first]["days_left"] is None
    for lang in ("zh", "en"):  # every state and problem the page shows has words
        for r in (*before.values(), *after.values()):
            assert f"tenant_{r['state']}" in TEXT[lang]
            assert not r["problem"] or f"tenant_{r['problem']}" in TEXT[lang]
    assert TEXT["zh"]["tenant_agreement_expired"] == "协议已到期"


def test_when_parties_are_listed_then_each_shows_its_tables_column_counts_and_short_fingerprint(
    demo, shuyu_home
):
    from hub.db.models import Party
    from hub.ops import Ctx, parties
    from hub.web.console_text import TEXT

    with demo.session() as s:
        ctx = Ctx(session=s, actor="adam")
        bank, _ = parties.add(ctx, shuyu_home, "某银行", world.TENANTS[0]["name"], "bank.example:9470",
                              "127.0.0.1:9470")  # fmt: skip
        insurer, _ = parties.add(ctx, shuyu_home, "某保险", world.TENANTS[1]["name"],
                                 "[2001:db8::1]:9470", "127.0.0.1:9470")  # fmt: skip
        parties.record_schema(s, bank, {"loans": {"columns": {"a": "int64", "b": "str"}},
                                        "cards": {"columns": {"c": "float64"}}})  # fmt: skip
        parties.change_status(ctx, insurer.id, "suspend", "核查 / check")
        ids, fingerprint = (bank.id, insurer.id), bank.fingerprint
    with demo.session() as s:
        rows = {r["id"]: r for r in admin_views.parties(s)}
        revoked = parties.change_status(
            Ctx(session=s, actor="adam"), ids[1], "revoke", "终止 / end"
        )
        assert revoked.status.value == "revoked"
    with demo.session() as s:
        after = {r["id"]: r for r in admin_views.parties(s)}
        assert len(after) == s.query(Party).count() == 2
    first, second = rows[ids[0]], rows[ids[1]]
    assert (first["name"], first["tenant"], first["address"]) == (
        "某银行", world.TENANTS[0]["name"], "bank.example:9470")  # fmt: skip
    assert first["fingerprint"] == fingerprint[:16] and len(first["fingerprint"]) == 16
    assert first["tables"] == [("cards", 1), ("loans", 2)]  # names and counts, never columns
    assert first["status"] == "active" and first["commands"] == ["suspend", "revoke"]
    assert (second["status"], second["reason"], second["status_by"]) == (
        "suspended", "核查 / check", "adam")  # fmt: skip
    assert second["tables"] == [] and second["commands"] == ["resume", "revoke"]
    assert after[ids[1]]["status"] == "revoked" and after[ids[1]]["commands"] == []
    assert first["created"] and first["updated"] >= first["created"]
    for lang in ("zh", "en"):  # every status and command the page shows has words
        for status in ("active", "suspended", "revoked"):
            assert f"party_{status}" in TEXT[lang]
        for command in parties.TRANSITIONS:
            assert f"cmd_{command}" in TEXT[lang]
