"""Products published in the retired JSON format become ONNX models: ``shuyu models migrate`` and
the production zone's start convert them beside the old file, audited with both hashes; a model
that cannot be converted pauses its product with a bilingual reason, and nothing crashes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from hub import home
from hub.db.engine import Database
from hub.db.models import AuditEvent, Scenario, Staff
from hub.demo import world
from hub.ops.setup import init_home
from hub.production import model_migration, products
from hub.refusals import Conflict
from hub.review import lifecycle
from hub.web import console_views
from sdk import onnxmodel

HEALTH = "普惠健康险定价"
LINEAR = {
    "format": "shuyu-model/1", "kind": "linear", "target": "cost", "features": ["age", "gender"],
    "encoders": {"age": {"type": "standard", "mean": 45.0, "std": 12.0},
                 "gender": {"type": "onehot", "categories": ["男", "女"]}},
    "weights": [30.5, 12.0, -4.0], "intercept": 410.0,
    "key": {"dataset": "medical_visits", "column": "patient_id"},
}  # fmt: skip
LOOKUP = {
    "format": "shuyu-model/1", "kind": "lookup", "target": "insured", "features": ["department"],
    "table": {"keys": [["内科"], ["外科"]], "values": [0.2, 0.7]}, "default": 0.4,
    "threshold": 0.5,
}  # fmt: skip


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    h = tmp_path_factory.mktemp("migration")
    db = Database(f"sqlite:///{h / 'platform.sqlite'}")
    init_home(h, db)
    world.build(h, db, rows=200)
    yield h, db
    db.dispose()


def published(demo, name: str, content: bytes) -> None:
    """A product whose model file is ``content``, as a publication of the old format left it."""
    h, db = demo
    with db.session() as s:
        staff = s.scalars(select(Staff).where(Staff.username == "alice")).one()
        scenario = s.scalars(select(Scenario).where(
            Scenario.tenant_id == staff.tenant_id, Scenario.name == HEALTH)).one()  # fmt: skip
        request = lifecycle.create(s, kind="model", requester="alice", tenant_id=staff.tenant_id,
                                   scenario_id=scenario.id, purpose="旧模型 / legacy", name=name,
                                   meta={"product": name})  # fmt: skip
        lifecycle.submit(s, request, content, home.domain_store(h), "alice", ".json")
        products.publish(s, request)


def product(db, name: str) -> tuple[str, str, str]:
    with db.session() as s:
        found = products.get(s, name)
        return found.model_path, found.model_sha256, found.status


def events(db, action: str, name: str) -> list[dict]:
    with db.session() as s:
        rows = s.scalars(select(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.object == f"product:{name}")).all()  # fmt: skip
        return [{"reason": e.reason, **json.loads(e.details or "{}")} for e in rows]


def test_when_products_hold_legacy_models_then_migrate_converts_them_once_with_their_hashes(demo):
    h, db = demo
    published(demo, "legacy-cost", json.dumps(LINEAR, ensure_ascii=False).encode())
    published(demo, "legacy-lookup", json.dumps(LOOKUP, ensure_ascii=False).encode())
    old_path, old_sha, _ = product(db, "legacy-cost")
    with db.session() as s:
        outcome = model_migration.migrate(s, "cli:test")
    assert {"legacy-cost", "legacy-lookup"} <= set(outcome.migrated) and outcome.paused == []
    path, sha, status = product(db, "legacy-cost")
    assert (
        status == "active" and path.endswith(".onnx") and Path(path).parent == Path(old_path).parent
    )
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == sha != old_sha
    assert Path(old_path).exists()  # the old file stays beside the new one
    [event] = events(db, model_migration.MIGRATED, "legacy-cost")
    assert (event["old_sha256"], event["new_sha256"]) == (old_sha, sha)
    model = onnxmodel.load(Path(path).read_bytes())
    assert model.key == LINEAR["key"] and model.features == ("age", "gender")
    frame = pd.DataFrame({"age": [33.0, 57.0], "gender": ["女", "男"]})
    z = (frame["age"] - 45) / 12 * 30.5 + np.where(frame["gender"] == "男", 12.0, -4.0) + 410
    assert np.allclose(model.predict(frame), z, atol=1e-3)
    with db.session() as s:  # the product answers from the ONNX model now
        answer, _ = products.answer(s, products.get(s, "legacy-lookup"), "verify",
                                    {"records": [{"department": "外科"}, {"department": "内科"}]},
                                    home.domain_store(h), 10)  # fmt: skip
    assert answer["answers"] == [True, False]
    with db.session() as s:  # idempotent: nothing left to do, no second event
        again = model_migration.migrate(s, "cli:test")
    assert again.migrated == [] and "legacy-cost" in again.unchanged
    assert product(db, "legacy-cost")[1] == sha
    assert len(events(db, model_migration.MIGRATED, "legacy-cost")) == 1


def test_when_a_legacy_model_cannot_be_converted_then_its_product_pauses_with_the_reason(demo):
    h, db = demo
    broken = {**LINEAR, "weights": [1.0]}  # one weight for three encoded features
    published(demo, "legacy-broken", json.dumps(broken).encode())
    outcome = model_migration.migrate_at_start(db)
    assert outcome is not None and "legacy-broken" in outcome.paused
    path, sha, status = product(db, "legacy-broken")
    assert status == "paused" and path.endswith(".json")
    [event] = events(db, model_migration.PAUSED, "legacy-broken")
    assert "暂停" in event["reason_zh"] and "paused" in event["reason_en"]
    with db.session() as s, pytest.raises(Conflict) as caught:
        products.model_of(products.get(s, "legacy-broken"))
    assert caught.value.code == "product_paused"
    model_migration.migrate_at_start(db)  # again: still paused, no second event
    assert len(events(db, model_migration.PAUSED, "legacy-broken")) == 1
    with db.session() as s:  # reviewers see why on the products page
        shown = {p["name"]: p for p in console_views.products(s)}
    assert shown["legacy-broken"]["paused"]["en"] == event["reason_en"]
    assert shown["legacy-broken"]["paused"]["zh"] == event["reason_zh"]


def test_when_a_legacy_file_was_changed_after_approval_then_it_is_not_migrated(demo):
    h, db = demo
    published(demo, "legacy-swapped", json.dumps(LINEAR).encode())
    path, sha, _ = product(db, "legacy-swapped")
    Path(path).chmod(0o600)
    Path(path).write_text(json.dumps({**LINEAR, "intercept": 0.0}))
    with db.session() as s:
        outcome = model_migration.migrate(s)
    assert "legacy-swapped" in outcome.paused and product(db, "legacy-swapped")[1:] == (
        sha,
        "paused",
    )


def test_when_the_cli_migrates_models_then_it_reports_them(demo, monkeypatch, capsys):
    from hub.cli.main import main

    h, db = demo
    published(demo, "legacy-cli", json.dumps(LINEAR).encode())
    monkeypatch.setenv("SHUYU_HOME", str(h))
    monkeypatch.setenv("SHUYU_DB_URL", f"sqlite:///{h / 'platform.sqlite'}")
    assert main(["models", "migrate"]) == 0
    assert "legacy-cli" in capsys.readouterr().out
    assert product(db, "legacy-cli")[0].endswith(".onnx")


def test_when_a_later_run_converts_a_paused_legacy_model_then_its_product_resumes(
    demo, monkeypatch
):
    """A converter that failed (fixed in a later release) paused the product; the next start
    migrates it and the product answers again, each step audited."""
    h, db = demo
    published(demo, "legacy-later", json.dumps(LINEAR).encode())

    def failing(spec):
        raise onnxmodel.ModelFormatError("转换器缺陷", "a converter bug")

    with monkeypatch.context() as patched:
        patched.setattr(onnxmodel, "from_legacy", failing)
        assert "legacy-later" in model_migration.migrate_at_start(db).paused
    assert product(db, "legacy-later")[2] == "paused"
    outcome = model_migration.migrate_at_start(db)
    assert "legacy-later" in outcome.migrated
    path, _, status = product(db, "legacy-later")
    assert status == "active" and path.endswith(".onnx")
    [resumed] = events(db, model_migration.RESUMED, "legacy-later")
    assert resumed["sha256"] == product(db, "legacy-later")[1]
    with db.session() as s:
        answer, _ = products.answer(s, products.get(s, "legacy-later"), "score",
                                    {"records": [{"age": 45.0, "gender": "男"}]},
                                    home.domain_store(h), 10)  # fmt: skip
    assert answer["answers"][0] == pytest.approx(422.0, abs=1e-3)
