"""The demo world: tenants, staff of every role, scenarios and synthetic raw datasets.

It shows both sides of admission: ``alice`` and ``bob`` get in, ``carol`` (untrained) and ``dave``
(his company's agreement expired) are refused with their reasons. Every record is made through
the same operations the CLI uses, so the demo's audit trail looks like a real one.
"""

from __future__ import annotations

import json
import os
import random
from datetime import date
from pathlib import Path

from sqlalchemy import select

from hub import home
from hub.auth import credentials
from hub.db.engine import Database
from hub.db.models import Department, Staff
from hub.i18n import Msg, UserError
from hub.ops import Ctx, agreements, catalog, org, staff, tenants
from hub.store import of as store_of
from hub.validators import resident_id_check_char, uscc_check_char

PASSWORD = "Shuyu-demo-2026"
LOGINS_FILE = "demo-logins.json"


def _uscc(body: str) -> str:
    return body + uscc_check_char(body)


TENANTS = [
    {
        "name": "杭州数智信用科技有限公司",
        "uscc": _uscc("91330106MA2DEM101"),
        "scenario": (
            "小微企业普惠信贷评估",
            "金融",
            "融合企业登记、纳税与社保数据，为小微企业信用建模",
            "industry",
        ),
    },
    {
        "name": "杭州城市碳普惠研究院",
        "uscc": _uscc("52330100MJDEM1002"),
        "scenario": (
            "个人低碳出行积分",
            "生态环保",
            "识别公共交通出行的低碳场景并折算碳减排量",
            "public-governance",
        ),
    },
    {
        "name": "杭州往昔数据服务有限公司",
        "uscc": _uscc("91330108MA2DEM103"),
        "expired": True,
        "scenario": ("普惠健康险定价", "医疗健康", "融合诊疗与医保数据设计普惠健康险", "industry"),
    },
]

# username, real name, role, tenant index or department name, trained, note
STAFF = [
    (
        "alice",
        "林晓",
        "processor",
        0,
        True,
        "可登录：行业场景加工人员 / can log in: industry processor",
    ),
    (
        "bob",
        "王磊",
        "processor",
        1,
        True,
        "可登录：公共治理场景加工人员 / can log in: public-governance processor",
    ),
    ("carol", "陈静", "processor", 0, False, "被拒：未通过培训 / refused: not trained"),
    ("dave", "赵强", "processor", 2, True, "被拒：协议已到期 / refused: agreement expired"),
    ("rita", "周敏", "reviewer", None, True, "审核员 / reviewer"),
    ("ryan", "许晨", "reviewer", None, True, "第二审核员 / second reviewer"),
    ("adam", "吴刚", "admin", None, True, "平台管理员 / platform admin"),
    ("audrey", "郑丽", "auditor", None, True, "审计监管 / auditor"),
    ("paul", "孙伟", "provider", "市卫生健康委员会", True, "数据提供部门 / data provider"),
    ("mark", "钱涛", "provider", "市市场监督管理局", True, "数据提供部门 / data provider"),
    ("tina", "冯雪", "provider", "市税务局", True, "数据提供部门 / data provider"),
    ("tony", "韩冰", "provider", "市交通运输局", True, "数据提供部门 / data provider"),
]

# A second scenario of the first tenant, so its staff choose between two.
HEALTH_SCENARIO = (
    0,
    ("普惠健康险定价", "医疗健康", "融合诊疗与医保数据设计普惠健康险", "industry"),
)

# The data lists (一场景一清单一审定): tenant index, scenario name, dataset, columns, and who of
# the owning department approved the item (None: still pending).
DATA_LISTS = [
    (
        0,
        "小微企业普惠信贷评估",
        "enterprise_registry",
        "uscc company_name legal_rep_name registered_capital established_date industry district status",
        "mark",
    ),
    (
        0,
        "小微企业普惠信贷评估",
        "tax_records",
        "uscc tax_year tax_month tax_type tax_payable tax_paid credit_grade",
        "tina",
    ),
    (
        0,
        "小微企业普惠信贷评估",
        "social_insurance",
        "employer_uscc insurance_type monthly_base months_paid district",
        None,
    ),
    (
        0,
        "普惠健康险定价",
        "medical_visits",
        "visit_id patient_id patient_name mobile gender age hospital department diagnosis_code "
        "diagnosis_name visit_time cost notes",
        "paul",
    ),
    (
        1,
        "个人低碳出行积分",
        "transit_trips",
        "card_no holder_id board_station alight_station line mode tap_in_time fare",
        "tony",
    ),
]


def _id_number(rng: random.Random) -> str:
    body = f"330106{rng.randint(1970, 2000)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    return body + resident_id_check_char(body)


def _mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3589')}{rng.randint(0, 999_999_999):09d}"


def build(
    home_dir: Path, db: Database, *, rows: int = 100_000, actor: str = "demo", seed: int = 7
) -> bool:
    """Create the demo world once; return ``False`` when it is already there."""
    logins_path = home_dir / LOGINS_FILE
    with db.session() as s:
        if s.scalars(select(Staff).where(Staff.username == "alice")).first() is not None:
            return False
    from hub.demo.datasets import write_all  # pandas/pyarrow only when building

    store = home.domain_store(home_dir)
    written = write_all(store, rows=rows, seed=seed)
    domain = store_of(store)
    for folder in ("raw", "holdout"):  # on S3, the object store holds them
        domain.put(folder, keep=not domain.remote)
    rng = random.Random(seed)
    pepper = home.secret("id_pepper", home_dir)
    logins = {}
    with db.session() as s:
        ctx = Ctx(session=s, actor=actor, pepper=pepper)
        for name in sorted({d["department"] for d in written} | {"市卫生健康委员会"}):
            org.add_department(ctx, name)
        for t in TENANTS:
            tenants.add(ctx, t["name"], t["uscc"])
            if t.get("expired"):
                agreements.sign(
                    ctx, t["name"], date(2022, 3, 1), date(2022, 2, 20), historical=True
                )
            else:
                agreements.sign(ctx, t["name"], date(ctx.today.year - 1, 1, 1))
            name, field, purpose, category = t["scenario"]
            org.add_scenario(
                ctx, tenant=t["name"], name=name, field=field, purpose=purpose, category=category
            )
        for username, real_name, role, where, trained, note in STAFF:
            tenant = TENANTS[where]["name"] if isinstance(where, int) else None
            department = where if isinstance(where, str) else None
            new = staff.add(
                ctx,
                username=username,
                real_name=real_name,
                id_number=_id_number(rng),
                mobile=_mobile(rng),
                role=role,
                password=PASSWORD,
                tenant=tenant,
                department=department,
            )
            staff.verify(ctx, username)
            if trained:
                staff.record_training(ctx, username, 88)
            logins[username] = {
                "role": role,
                "tenant": tenant or department or "",
                "note": note,
                "totp_secret": new.totp_secret,
            }
        _register_datasets(ctx, written)
        where, (name, field, purpose, category) = HEALTH_SCENARIO
        org.add_scenario(
            ctx,
            tenant=TENANTS[where]["name"],
            name=name,
            field=field,
            purpose=purpose,
            category=category,
        )
        _data_lists(ctx)
    _write_private(logins_path, json.dumps(logins, ensure_ascii=False, indent=2))
    return True


def _register_datasets(ctx: Ctx, written: list[dict]) -> None:
    departments = {d.name: d for d in ctx.session.scalars(select(Department))}
    for d in written:
        catalog.register(
            ctx,
            name=d["name"],
            title=d["title"],
            department=departments[d["department"]],
            schema=d["schema"],
            level=d["level"],
            prohibited=False,
            path=d["path"],
            rows=d["rows"],
        )


def _data_lists(ctx: Ctx) -> None:
    for where, scenario, dataset, columns, approver in DATA_LISTS:
        found = catalog.find_scenario(ctx, scenario, tenant=TENANTS[where]["name"])
        item = catalog.request_item(ctx, scenario=found, dataset=dataset, columns=columns.split())
        if approver:
            catalog.decide(
                ctx, item.id, "approved", by=approver, reason="演示：用途明确，最小必要 / demo"
            )


def _write_private(path: Path, content: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(content)


def _logins(home_dir: Path) -> dict:
    try:
        return json.loads((home_dir / LOGINS_FILE).read_text())
    except FileNotFoundError:
        raise UserError(
            Msg("尚未创建演示环境，请先运行 shuyu demo", "no demo world here; run shuyu demo first")
        ) from None


def current_code(home_dir: Path, username: str) -> str:
    """The current TOTP code of a demo login (demo accounts only; real secrets are never shown)."""
    logins = _logins(home_dir)
    if username not in logins:
        raise UserError(Msg(f"{username} 不是演示账户", f"{username} is not a demo login"))
    return credentials.current_code(logins[username]["totp_secret"])


def describe(home_dir: Path, url: str) -> str:
    """What ``make run`` prints: the URL, the demo logins and how to get a one-time code."""
    logins = _logins(home_dir)
    lines = [
        f"数域 Shuyu: {url}",
        f"演示账户密码 / demo password: {PASSWORD}",
        "动态验证码 / one-time code: .venv/bin/shuyu demo-code USERNAME  (or add the secret to an authenticator app)",
        "",
    ]
    for username, info in logins.items():
        lines.append(f"  {username:<7} {info['role']:<9} {info['tenant']:<16} {info['note']}")
    return "\n".join(lines)
