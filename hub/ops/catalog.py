"""The catalog and the data lists (一场景一清单一审定: one scenario, one list, one approval).

A department registers its datasets (schema, classification level, what may never be opened); a
tenant's scenario asks for datasets and columns; the owning department approves or rejects each
item, and may revoke an approval later. Only approved (dataset, column) pairs are ever served.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from hub import audit, rawstore, store
from hub.db.models import (
    DataListItem,
    Dataset,
    Decision,
    Department,
    Role,
    Scenario,
    Staff,
    Tenant,
)
from hub.i18n import Msg, UserError
from hub.ops import Ctx, lookup
from hub.validators import check_text

NAME = re.compile(r"[a-z][a-z0-9_]{1,63}")
LEVELS = range(1, 5)  # classification levels 1 (public) to 4 (most sensitive)
FORMATS = (".csv", ".parquet")


def _column_type(arrow_type) -> str:
    import pyarrow.types as t

    if t.is_integer(arrow_type):
        return "int"
    if t.is_floating(arrow_type) or t.is_decimal(arrow_type):
        return "float"
    if t.is_date(arrow_type):
        return "date"
    if t.is_timestamp(arrow_type):
        return "datetime"
    return "string"


def read_table(path: Path):
    """The file as an Arrow table, or a bilingual error naming what is wrong with it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.suffix.lower() not in FORMATS:
        raise UserError(
            Msg(
                f"仅支持 CSV 或 Parquet 文件：{path.name}",
                f"only CSV or Parquet files: {path.name}",
            ),
            "file",
        )
    if not path.is_file():
        raise UserError(Msg(f"文件不存在：{path}", f"no such file: {path}"), "file")
    try:
        if path.suffix.lower() == ".csv":
            return _read_csv(path)
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise UserError(
            Msg(
                f"无法读取数据文件 {path.name}：{e}", f"cannot read the data file {path.name}: {e}"
            ),
            "file",
        ) from None


def _read_csv(path: Path):
    """A CSV file with its types inferred, except that identifiers stay text: a resident ID,
    mobile number or card read as a number would lose leading zeros and its form."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    typed = pacsv.read_csv(path)
    as_text = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in typed.column_names},
            strings_can_be_null=False,
        ),
    )
    columns = {}
    for name in typed.column_names:
        column, text = typed.column(name), as_text.column(name)
        if pa.types.is_integer(column.type) and len(text):
            lengths = pc.utf8_length(text)
            leading_zero = pc.and_(pc.starts_with(text, "0"), pc.greater(lengths, 1))
            if pc.max(lengths).as_py() >= 11 or pc.any(leading_zero).as_py():
                column = text
        columns[name] = column
    return pa.table(columns)


def _columns_of(names: list[str], schema: list[dict], what_zh: str, what_en: str) -> list[str]:
    known = [c["name"] for c in schema]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UserError(
            Msg(
                f"{what_zh}含有数据集中没有的列：{', '.join(unknown)}（可选：{', '.join(known)}）",
                f"{what_en} name columns the dataset does not have: {', '.join(unknown)} "
                f"(columns: {', '.join(known)})",
            ),
            "columns",
        )
    return list(dict.fromkeys(names))


def add_dataset(
    ctx: Ctx,
    *,
    name: str,
    department: str,
    level: int,
    file: Path,
    raw_dir: Path,
    title: str | None = None,
    prohibited: bool = False,
    prohibited_columns: list[str] = (),
    quasi_identifiers: list[str] = (),
    masks: dict[str, str] | None = None,
) -> Dataset:
    """Register a dataset: its schema is read from the file, which is stored raw (as Parquet) in
    the domain store under ``raw_dir`` and never mounted into a workspace: one file, or for a
    large table a folder of Parquet parts scanned in parallel (:mod:`hub.rawstore`)."""
    name = (name or "").strip()
    if not NAME.fullmatch(name):
        raise UserError(
            Msg(
                f"数据集名称须为小写字母开头的字母、数字或下划线（2-64 位）：{name}",
                f"a dataset name is 2-64 lower-case letters, digits or _, starting with a letter: {name}",
            ),
            "name",
        )
    if ctx.session.scalars(select(Dataset).where(Dataset.name == name)).first():
        raise UserError(Msg(f"数据集已存在：{name}", f"dataset {name} already exists"), "name")
    if level not in LEVELS:
        raise UserError(
            Msg(f"分级须为 1 到 4：{level}", f"the classification level is 1 to 4: {level}"),
            "level",
        )
    dept = lookup.department(ctx.session, department)
    table = read_table(Path(file))
    schema = [{"name": f.name, "title": f.name, "type": _column_type(f.type)} for f in table.schema]
    banned = _columns_of(list(prohibited_columns), schema, "禁止开放列", "prohibited columns")
    quasi = _columns_of(list(quasi_identifiers), schema, "准标识符", "quasi-identifiers")
    for column in schema:
        column["prohibited"] = column["name"] in banned
        column["quasi"] = column["name"] in quasi
    suggest_masks(table, schema, level)
    head = table.slice(0, 50)
    for column_name, rule in (masks or {}).items():
        values = head.column(column_name).to_pandas() if column_name in head.column_names else None
        fix_mask(schema, column_name, rule, values)
    raw_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = rawstore.write(table, raw_dir / name)  # a large table: a folder of parts
    domain = store.of(raw_dir.parent)
    domain.put(domain.key(target), keep=not domain.remote)  # on S3, the object store holds it
    return register(
        ctx,
        name=name,
        title=check_text(title or name, "title", "数据集标题", "dataset title"),
        department=dept,
        schema=schema,
        level=level,
        prohibited=prohibited,
        path=target,
        rows=table.num_rows,
    )


def register(
    ctx: Ctx,
    *,
    name: str,
    title: str,
    department: Department,
    schema: list[dict],
    level: int,
    prohibited: bool,
    path: Path,
    rows: int,
) -> Dataset:
    """Record a dataset whose raw file is already in the domain store, with its audit event."""
    ds = Dataset(
        name=name,
        title=title,
        department=department,
        schema=schema,
        level=level,
        prohibited=prohibited,
        path=str(path),
        rows=rows,
    )
    ctx.session.add(ds)
    ctx.session.flush()
    audit.append(
        ctx.session,
        "dataset.add",
        actor=ctx.actor,
        object=name,
        details={
            "department": department.name,
            "level": level,
            "rows": rows,
            "prohibited": prohibited,
            "prohibited_columns": [c["name"] for c in schema if c.get("prohibited")],
        },
    )
    return ds


def suggest_masks(table, schema: list[dict], level: int = 2, sample: int = 1000) -> None:
    """Give each column its kind under ``pii`` and the policy suggested for it: detected from
    its values (folded spellings), else named by its header (姓名, 证件号码 …), else — above
    level 1 — scanned cell by cell as free text (deny by default). The department sees every
    column's policy when it registers and fixes any with ``--mask``."""
    from hub.masking.detectors import suggest_policy
    from hub.masking.policy import PII_ENTITIES, classify

    head = table.slice(0, sample).to_pandas()
    for column in schema:
        found = classify(column["name"], head[column["name"]], level, sample=sample)
        column["pii"] = found.kind
        column["pii_basis"] = found.basis
        if found.kind in PII_ENTITIES:
            operator, params = suggest_policy(PII_ENTITIES[found.kind])
            column["mask"] = {"operator": operator, "params": params, "suggested": True}


def policy_line(column: dict) -> tuple[str, str]:
    """How a registered column will be served, in Chinese and English, for the department to
    confirm (or fix with ``--mask``)."""
    from hub.masking.policy import column_policy

    policy = column_policy(column)
    basis = column.get("pii_basis")
    zh_basis = {"values": "据取值", "header": "据列名", "default": "默认逐格扫描"}.get(basis, "")
    en_basis = {"values": "by its values", "header": "by its header", "default": "by default"}
    kind = column.get("pii") or "-"
    if policy is None:
        rule = "—（仅逐格扫描 / scrub only）"
    else:
        operator, params = policy
        rule = operator + (
            "(" + ", ".join(f"{k}={v}" for k, v in params.items()) + ")" if params else ""
        )
    fixed = bool(column.get("mask")) and not column["mask"].get("suggested", True)
    return (
        f"  {column['name']}: {kind} → {rule}" + ("（部门指定）" if fixed else f"（{zh_basis}）"),
        f"  {column['name']}: {kind} → {rule}"
        + (" (fixed by the department)" if fixed else f" ({en_basis.get(basis, '')})"),
    )


def _param(value: str) -> object:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def parse_mask(rule: str) -> tuple[str, dict[str, object]]:
    """``OPERATOR[:KEY=VALUE,...]`` (e.g. ``generalize:kind=year``) as (operator, params)."""
    operator, _, rest = (rule or "").strip().partition(":")
    params = {}
    for pair in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(
                Msg(
                    f"脱敏参数格式为 键=值：{pair}",
                    f"a masking parameter is KEY=VALUE: {pair}",
                ),
                "mask",
            )
        params[key.strip()] = _param(value.strip())
    return operator.strip(), params


def fix_mask(
    schema: list[dict],
    column_name: str,
    rule: str,
    values=None,
) -> None:
    """Fix a column's masking rule, ``OPERATOR[:KEY=VALUE,...]`` (``keep``: no operator, the
    cell-by-cell scrub only; ``free_text``: scanned as free text); the operator is tried on
    ``values`` (a few of the column's), so a rule that cannot run is refused now rather than at
    the first sample."""
    import pandas as pd

    import hub.masking.scan  # noqa: F401 - registers free_text and keep
    from hub.masking.operators import OPERATORS, MaskContext, apply
    from hub.masking.policy import FREE_TEXT

    _columns_of([column_name], schema, "脱敏规则", "the masking rule")
    operator, params = parse_mask(rule)
    if operator not in OPERATORS:
        raise UserError(
            Msg(
                f"未知的脱敏算子：{operator}（可选：{', '.join(sorted(OPERATORS))}）",
                f"unknown masking operator: {operator} ({', '.join(sorted(OPERATORS))})",
            ),
            "mask",
        )
    column = next(c for c in schema if c["name"] == column_name)
    if operator == FREE_TEXT:
        column["pii"] = FREE_TEXT
    elif operator == "keep" and column.get("pii") == FREE_TEXT:
        column["pii"] = None  # the department says it is not free text (the scrub still runs)
    try:
        trial = values if values is not None else pd.Series([], dtype=object)
        apply(operator, trial, MaskContext(key=b"trial"), **params)
    except (TypeError, ValueError) as e:
        raise UserError(
            Msg(
                f"脱敏规则无法用于列 {column_name}：{rule}（{e}）",
                f"the masking rule cannot run on column {column_name}: {rule} ({e})",
            ),
            "mask",
        ) from None
    column["mask"] = {"operator": operator, "params": params, "suggested": False}
    column["pii_basis"] = "department"


def find_scenario(ctx: Ctx, scenario: str, tenant: str | None = None) -> Scenario:
    """A scenario by id, or by name (within ``tenant`` when names repeat across tenants)."""
    scenario = (scenario or "").strip()
    if tenant:
        return lookup.scenario(ctx.session, lookup.tenant(ctx.session, tenant), scenario)
    query = select(Scenario)
    query = query.where(
        Scenario.id == int(scenario) if scenario.isdigit() else Scenario.name == scenario
    )
    found = list(ctx.session.scalars(query))
    if not found:
        raise UserError(Msg(f"场景不存在：{scenario}", f"unknown scenario: {scenario}"), "scenario")
    if len(found) > 1:
        raise UserError(
            Msg(
                f"多个单位有名为 {scenario} 的场景，请用 --tenant 指明",
                f"several tenants have a scenario named {scenario}; name one with --tenant",
            ),
            "scenario",
        )
    return found[0]


def request_item(ctx: Ctx, *, scenario: Scenario, dataset: str, columns: list[str]) -> DataListItem:
    """Put a dataset and columns on a scenario's data list, pending the department's decision."""
    ds = ctx.session.scalars(select(Dataset).where(Dataset.name == (dataset or "").strip())).first()
    if ds is None:
        raise UserError(Msg(f"数据集不存在：{dataset}", f"unknown dataset: {dataset}"), "dataset")
    if ds.prohibited:
        raise UserError(
            Msg(
                f"{ds.name} 属于禁止开放的数据，不能申请",
                f"{ds.name} may never be authorized; it cannot be requested",
            ),
            "dataset",
        )
    if not columns:
        raise UserError(Msg("请列出所需的列", "name the columns you need"), "columns")
    wanted = _columns_of(columns, ds.schema, "申请", "the request")
    banned = [c["name"] for c in ds.schema if c.get("prohibited") and c["name"] in wanted]
    if banned:
        raise UserError(
            Msg(
                f"以下列禁止开放，不能申请：{', '.join(banned)}",
                f"these columns may never be authorized: {', '.join(banned)}",
            ),
            "columns",
        )
    open_item = ctx.session.scalars(
        select(DataListItem).where(
            DataListItem.scenario_id == scenario.id,
            DataListItem.dataset_id == ds.id,
            DataListItem.decision.in_((Decision.PENDING, Decision.APPROVED)),
        )
    ).first()
    if open_item is not None:
        raise UserError(
            Msg(
                f"该场景已有 {ds.name} 的清单项 #{open_item.id}（{open_item.decision.value}），"
                "请先撤销或等待审定",
                f"the scenario already lists {ds.name} as item #{open_item.id} "
                f"({open_item.decision.value}); revoke it or await its decision first",
            ),
            "dataset",
        )
    item = DataListItem(scenario=scenario, dataset=ds, columns=wanted)
    ctx.session.add(item)
    ctx.session.flush()
    audit.append(
        ctx.session,
        "datalist.request",
        actor=ctx.actor,
        tenant=scenario.tenant.group,
        object=f"item:{item.id}",
        details={"scenario": scenario.name, "dataset": ds.name, "columns": wanted},
    )
    return item


# Which decision may follow which, and who may take it.
TRANSITIONS = {
    Decision.APPROVED: (Decision.PENDING,),
    Decision.REJECTED: (Decision.PENDING,),
    Decision.REVOKED: (Decision.APPROVED,),
}


def decide(ctx: Ctx, item_id: int, decision: str, *, by: str, reason: str) -> DataListItem:
    """The owning department approves or rejects a pending item, or revokes an approved one."""
    try:
        target = Decision(decision)
    except ValueError:
        target = None
    if target not in TRANSITIONS:
        raise UserError(Msg(f"无效的审定：{decision}", f"invalid decision: {decision}"), "decision")
    reason = check_text(reason, "reason", "理由", "reason", max_len=1000)
    item = ctx.session.get(DataListItem, item_id)
    if item is None:
        raise UserError(Msg(f"清单项不存在：#{item_id}", f"no data-list item #{item_id}"), "item")
    decider: Staff = lookup.staff(ctx.session, by)
    if decider.role != Role.PROVIDER or decider.department_id != item.dataset.department_id:
        raise UserError(
            Msg(
                f"只有 {item.dataset.department.name} 的人员能审定 {item.dataset.name} 的清单项",
                f"only staff of {item.dataset.department.name} decide items of {item.dataset.name}",
            ),
            "by",
        )
    if item.decision not in TRANSITIONS[target]:
        raise UserError(
            Msg(
                f"清单项 #{item.id} 当前为 {item.decision.value}，不能改为 {target.value}",
                f"item #{item.id} is {item.decision.value}; it cannot become {target.value}",
            ),
            "decision",
        )
    item.decision = target
    item.decided_by = decider.username
    item.decided_at = datetime.now(UTC)
    item.reason = reason
    tenant: Tenant = item.scenario.tenant
    audit.append(
        ctx.session,
        f"datalist.{target.value}",
        actor=ctx.actor,
        tenant=tenant.group,
        object=f"item:{item.id}",
        details={
            "by": decider.username,
            "scenario": item.scenario.name,
            "dataset": item.dataset.name,
            "columns": item.columns,
            "reason": reason,
        },
    )
    return item


def approved_item(ctx: Ctx, scenario: Scenario, dataset: str) -> DataListItem | None:
    """The scenario's approved item for ``dataset`` now, if any."""
    return ctx.session.scalars(
        select(DataListItem)
        .join(Dataset)
        .where(
            DataListItem.scenario_id == scenario.id,
            Dataset.name == dataset,
            DataListItem.decision == Decision.APPROVED,
        )
    ).first()


def approved_columns(ctx: Ctx, scenario: Scenario, dataset: str) -> list[str]:
    """The columns of ``dataset`` the scenario may see now (empty: none)."""
    item = approved_item(ctx, scenario, dataset)
    if item is None or item.dataset.prohibited:
        return []
    banned = {c["name"] for c in item.dataset.schema if c.get("prohibited")}
    return [c for c in item.columns if c not in banned]
