"""``shuyu budget …`` and ``shuyu statement …``: monthly caps and statements."""

from __future__ import annotations

import argparse
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from hub.cli.base import ok


def _book():
    """The price book of the settings document ``jupyterhub_config.py`` hands the services
    (``$SHUYU_SETTINGS`` instead, if set; see :func:`hub.settings.configured`)."""
    from hub import settings
    from hub.billing import prices

    return prices.book(settings.configured().price_book)


def cmd_budget(app) -> int:
    from hub.billing.budget import set_budget
    from hub.i18n import Msg, UserError

    raw = app.args.amount
    try:
        amount = None if raw == "none" else Decimal(raw)
    except InvalidOperation:
        raise UserError(Msg(f"金额无效：{raw}", f"not an amount: {raw}"), "amount") from None
    t = app.run(lambda ctx: set_budget(ctx, app.args.tenant, amount))
    shown = "不设上限 / no cap" if amount is None else f"{amount}"
    ok(f"{t.name} 月度预算：{shown}", f"{t.name} monthly budget: {shown}")
    return 0


def cmd_statement(app) -> int:
    from hub.billing import statements
    from hub.ops import lookup

    a = app.args
    with app.db.session() as s:
        st = statements.statement(s, lookup.tenant(s, a.tenant), a.month, _book())
    text = statements.to_csv(st) if a.format == "csv" else statements.to_html(st)
    if a.out:
        Path(a.out).write_text(text, encoding="utf-8")
        ok(
            f"账单已写入 {a.out}（合计 {st.total} {st.currency}）",
            f"statement written to {a.out} (total {st.total} {st.currency})",
        )
    else:
        print(text, end="")
    return 0


def cmd_report_annual(app) -> int:
    from hub.billing import annual

    a = app.args
    year = annual.check_year(a.year)
    with app.db.session() as s:
        reps = annual.reports(s, year, _book(), a.tenant)
    text = annual.to_csv(reps) if a.format == "csv" else annual.to_html(reps)
    if a.out:
        Path(a.out).write_text(text, encoding="utf-8")
        names = "、".join(r.tenant for r in reps)
        ok(
            f"{year} 年度报告已写入 {a.out}（{names}）",
            f"annual report {year} written to {a.out} ({', '.join(r.tenant for r in reps)})",
        )
    else:
        print(text, end="")
    return 0


def register(sub, parser_class: type[argparse.ArgumentParser]) -> None:
    b = sub.add_parser("budget", help="a tenant's monthly budget cap")
    b.add_argument("tenant")
    b.add_argument("amount", help="in CNY, or 'none' for no cap")
    b.set_defaults(fn=cmd_budget)
    st = sub.add_parser("statement", help="a tenant's monthly statement")
    st.add_argument("tenant")
    st.add_argument(
        "--month", default=date.today().strftime("%Y-%m"), help="YYYY-MM (default: this month)"
    )
    st.add_argument("--format", choices=["csv", "html"], default="csv")
    st.add_argument("--out", help="write to this file instead of standard output")
    st.set_defaults(fn=cmd_statement)
    rp = sub.add_parser("report", help="reports the rules require").add_subparsers(
        dest="command", required=True, parser_class=parser_class
    )
    an = rp.add_parser("annual", help="an operator's yearly report (filed by the end of March)")
    an.add_argument("--year", required=True, help="the year reported, e.g. 2026")
    an.add_argument("--format", choices=["csv", "html"], default="html")
    an.add_argument("--tenant", help="one operator (default: every operator with records)")
    an.add_argument("--out", help="write to this file instead of standard output")
    an.set_defaults(fn=cmd_report_annual)
