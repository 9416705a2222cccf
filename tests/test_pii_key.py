"""One key for a column's personal-data kind (``pii``), read the same by every consumer, with
catalog schemas stored under the old ``pii_entity`` key migrated and still readable."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from hub.db.engine import MIGRATIONS, make_engine
from hub.masking.operators import MaskContext
from hub.masking.policy import column_policy, identifying_columns, pii_kind
from hub.masking.sample import SampleLimits, build_sample
from hub.review.sources import raw_sources
from sdk.identifiers import resident_id_check_char

ID = "33010619900101123" + resident_id_check_char("33010619900101123")
LEGACY = [
    {"name": "pid", "type": "string", "pii_entity": "CN_RESIDENT_ID",
     "mask": {"operator": "pseudonym", "params": {}, "suggested": True}},
    {"name": "phone", "type": "string", "pii_entity": "CN_MOBILE"},
    {"name": "notes", "type": "string"},
    {"name": "cost", "type": "float", "pii_entity": None},
]  # fmt: skip


def test_when_a_schema_uses_the_old_key_then_its_kinds_are_still_read():
    assert [pii_kind(c) for c in LEGACY] == ["resident_id", "mobile", None, None]
    assert identifying_columns(LEGACY) == ["pid", "phone"]
    assert column_policy(LEGACY[1]) == ("mask", {"keep_prefix": 3, "keep_suffix": 4})


def test_when_a_legacy_registration_is_sampled_then_notes_lose_the_rows_own_identifiers():
    raw = pd.DataFrame(
        {
            "pid": [ID] * 3,
            "phone": ["13912345678"] * 3,
            "notes": [f"本人ID {ID[:6]} {ID[6:14]} {ID[14:]}", "回电 139-1234-5678", "无"],
            "cost": [1.0, 2.0, 3.0],
        }
    )
    served = build_sample(
        raw, LEGACY, ["notes", "cost"], tenant="t", scenario="s", dataset="d",
        ctx=MaskContext(b"k" * 32), limits=SampleLimits(max_fraction=1.0, k=1),
    ).frame  # fmt: skip
    assert served["notes"].tolist() == ["本人ID <CN_RESIDENT_ID>", "回电 <CN_MOBILE>", "无"]


def _alembic(conn) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def test_when_the_database_is_migrated_then_stored_schemas_use_the_one_key(tmp_path: Path):
    import json

    engine = make_engine(f"sqlite:///{tmp_path / 'p.sqlite'}")
    with engine.begin() as conn:
        command.upgrade(_alembic(conn), "0006")
        conn.execute(
            text("INSERT INTO departments (id, name, created_at) VALUES (1, 'd', '2026-12-01')")
        )
        conn.execute(
            text(
                "INSERT INTO datasets (id, name, title, department_id, schema, level, prohibited,"
                " path, rows, created_at) VALUES (1, 'x', 'x', 1, :s, 2, 0, 'x.parquet', 3,"
                " '2026-12-01')"
            ),
            {"s": json.dumps(LEGACY)},
        )
    with engine.begin() as conn:
        command.upgrade(_alembic(conn), "head")
        stored = json.loads(conn.execute(text("SELECT schema FROM datasets")).scalar_one())
    assert [c.get("pii") for c in stored] == ["resident_id", "mobile", None, None]
    assert not any("pii_entity" in c for c in stored)
    with engine.begin() as conn:
        command.downgrade(_alembic(conn), "0006")
        back = json.loads(conn.execute(text("SELECT schema FROM datasets")).scalar_one())
    assert back[0]["pii_entity"] == "CN_RESIDENT_ID"
    engine.dispose()


def test_when_the_overlap_check_lists_identifiers_then_it_reads_the_one_key(db, tmp_path):
    from hub.db.models import (
        Category,
        DataListItem,
        Dataset,
        Decision,
        Department,
        Scenario,
        Tenant,
    )

    with db.session() as s:
        tenant = Tenant(name="t", uscc="91330106MA27XXXX0X")
        dept = Department(name="d")
        ds = Dataset(
            name="legacy", title="t", department=dept, schema=LEGACY, level=2, path="x.parquet"
        )
        scenario = Scenario(
            tenant=tenant, name="s", field="f", purpose="p", category=Category.INDUSTRY
        )
        s.add_all([tenant, dept, ds, scenario])
        s.flush()
        item = DataListItem(scenario=scenario, dataset=ds, columns=["pid"])
        item.decision = Decision.APPROVED
        s.add(item)
        s.flush()
        (source,) = raw_sources(s, scenario.id, tmp_path)
    assert source.identifiers == ("pid", "phone")
