"""``shuyu dataset …`` and ``shuyu datalist …``: the catalog and the scenarios' data lists."""

from __future__ import annotations

import argparse
from pathlib import Path

from hub import home
from hub.cli.base import ok


def _names(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _masks(values: list[str] | None) -> dict[str, str]:
    from hub.i18n import Msg, UserError

    masks = {}
    for value in values or []:
        column, sep, operator = value.partition("=")
        if not sep or not column.strip() or not operator.strip():
            raise UserError(
                Msg(
                    f"脱敏规则格式为 列=算子[:参数=值,...]：{value}",
                    f"a masking rule is COLUMN=OPERATOR[:KEY=VALUE,...]: {value}",
                ),
                "mask",
            )
        masks[column.strip()] = operator.strip()
    return masks


def cmd_dataset_add(app) -> int:
    from hub.ops import catalog

    a = app.args
    ds = app.run(
        lambda ctx: catalog.add_dataset(
            ctx,
            name=a.name,
            department=a.department,
            level=a.level,
            file=a.file,
            raw_dir=home.domain_store(app.home) / "raw",
            title=a.title,
            prohibited=a.prohibited,
            prohibited_columns=_names(a.prohibited_columns),
            quasi_identifiers=_names(a.quasi),
            masks=_masks(a.mask),
        )
    )
    ok(
        f"已登记数据集 {ds.name}：{ds.rows} 行，{len(ds.schema)} 列，{ds.level} 级",
        f"dataset {ds.name} registered: {ds.rows} rows, {len(ds.schema)} columns, level {ds.level}",
    )
    print("各列脱敏策略（可用 --mask 列=算子 更正）/ each column's masking (fix with --mask):")
    for column in ds.schema:
        zh, en = catalog.policy_line(column)
        print(zh if zh == en else f"{zh} / {en.strip()}")
    return 0


def cmd_dataset_list(app) -> int:
    from sqlalchemy import select

    from hub.db.models import Dataset

    with app.db.session() as s:
        for ds in s.scalars(select(Dataset).order_by(Dataset.name)):
            banned = [c["name"] for c in ds.schema if c.get("prohibited")]
            flags = (
                "prohibited"
                if ds.prohibited
                else ",".join(banned) and f"prohibited: {','.join(banned)}"
            )
            print(f"{ds.name}\t{ds.department.name}\tlevel {ds.level}\t{ds.rows} rows\t{flags}")
    return 0


def cmd_datalist_request(app) -> int:
    from hub.ops import catalog

    a = app.args

    def op(ctx):
        scenario = catalog.find_scenario(ctx, a.scenario, a.tenant)
        item = catalog.request_item(
            ctx, scenario=scenario, dataset=a.dataset, columns=_names(a.columns)
        )
        return item.id, item.dataset.department.name

    item_id, department = app.run(op)
    ok(
        f"已提交清单项 #{item_id}，待 {department} 审定",
        f"data-list item #{item_id} submitted, awaiting {department}",
    )
    return 0


def cmd_datalist_decide(app) -> int:
    from hub.ops import catalog

    a = app.args
    decision = {"approve": "approved", "reject": "rejected", "revoke": "revoked"}[a.command]
    item = app.run(lambda ctx: catalog.decide(ctx, a.item, decision, by=a.by, reason=a.reason))
    ok(f"清单项 #{item.id}：{item.decision.value}", f"item #{item.id}: {item.decision.value}")
    return 0


def cmd_datalist_list(app) -> int:
    from sqlalchemy import select

    from hub.db.models import DataListItem
    from hub.ops import Ctx, catalog

    with app.db.session() as s:
        query = select(DataListItem).order_by(DataListItem.id)
        if app.args.scenario:
            scenario = catalog.find_scenario(Ctx(s, app.actor), app.args.scenario, app.args.tenant)
            query = query.where(DataListItem.scenario_id == scenario.id)
        for item in s.scalars(query):
            print(
                f"#{item.id}\t{item.scenario.tenant.name}\t{item.scenario.name}\t"
                f"{item.dataset.name}\t{','.join(item.columns)}\t{item.decision.value}\t"
                f"{item.decided_by or '-'}"
            )
    return 0


def register(sub, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add the ``dataset`` and ``datalist`` command groups to the ``shuyu`` parser."""
    ds = sub.add_parser("dataset", help="the data catalog").add_subparsers(
        dest="command", required=True, parser_class=parser_class
    )
    add = ds.add_parser("add", help="register a dataset from a CSV or Parquet file")
    add.add_argument("--name", required=True)
    add.add_argument("--department", required=True, help="the owning data-provider department")
    add.add_argument("--level", type=int, required=True, help="classification level 1-4")
    add.add_argument("--file", required=True, type=Path)
    add.add_argument("--title")
    add.add_argument("--prohibited", action="store_true", help="may never be authorized")
    add.add_argument("--prohibited-columns", help="columns that may never be authorized: a,b")
    add.add_argument("--quasi", help="quasi-identifier columns (for k-anonymity): a,b")
    add.add_argument(
        "--mask",
        action="append",
        help="fix a column's masking, COLUMN=OPERATOR[:KEY=VALUE,...] (e.g. "
        "birth_date=generalize:kind=year, cost=round:base=100, notes=free_text; keep: no "
        "operator, only the cell-by-cell scrub every served cell goes through); repeatable. "
        "Otherwise a column gets the operator suggested for what its values or header show, "
        "and a text column of a dataset above level 1 is scanned as free text",
    )
    add.set_defaults(fn=cmd_dataset_add)
    ds.add_parser("list").set_defaults(fn=cmd_dataset_list)

    dl = sub.add_parser("datalist", help="scenario data lists").add_subparsers(
        dest="command", required=True, parser_class=parser_class
    )
    req = dl.add_parser("request", help="ask for a dataset's columns for a scenario")
    req.add_argument("--scenario", required=True, help="scenario name or id")
    req.add_argument("--tenant", help="the scenario's tenant, where names repeat")
    req.add_argument("--dataset", required=True)
    req.add_argument("--columns", required=True, help="a,b,c")
    req.set_defaults(fn=cmd_datalist_request)
    for verb, text in (
        ("approve", "approve a pending item (the owning department)"),
        ("reject", "reject a pending item (the owning department)"),
        ("revoke", "revoke an approved item (the owning department)"),
    ):
        d = dl.add_parser(verb, help=text)
        d.add_argument("item", type=int)
        d.add_argument("--by", required=True, help="the deciding staff member")
        d.add_argument("--reason", required=True)
        d.set_defaults(fn=cmd_datalist_decide)
    ls = dl.add_parser("list")
    ls.add_argument("--scenario")
    ls.add_argument("--tenant")
    ls.set_defaults(fn=cmd_datalist_list)
