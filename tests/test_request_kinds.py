"""Request kinds as plug-ins: the registry, each kind dispatched through the checks, the production
zone and the review console by the real lifecycle (SQLite, no sandbox), the product registration
kind end to end, and review importing nothing from production."""

from __future__ import annotations

import ast
import io
import json
import re
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sqlalchemy import select

from hub import home, kinds
from hub.db.engine import Database
from hub.db.models import Dataset, Product, Scenario, Staff
from hub.demo import world
from hub.i18n import Msg
from hub.ops.setup import init_home
from hub.production import executor
from hub.production.rules import ProductionRules
from hub.refusals import Conflict
from hub.review import lifecycle, runner
from hub.review.checks import Limits
from hub.web import console_views, review_console
from hub.web.console_base import ConsoleHandler
from hub.web.production_api import job_view
from sdk import onnxmodel
from tests.console_app import FAKE_HUB, serving

HUB = Path(__file__).resolve().parent.parent / "hub"
HEALTH = "普惠健康险定价"  # alice: medical_visits, two reviewers
CARBON = "个人低碳出行积分"  # bob's
RULES = ProductionRules()
CARD = {
    "intended_use": "估算就诊费用，仅用于保险定价研究 / visit cost for pricing research",
    "data": "medical_visits（本场景获准的列）/ the scenario's approved columns",
    "metrics": {"rmse": 1.0},
    "limits": "不适用于个体决策 / not for decisions about individuals",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    h = tmp_path_factory.mktemp("kinds")
    db = Database(f"sqlite:///{h / 'platform.sqlite'}")
    init_home(h, db)
    world.build(h, db, rows=1000)
    yield h, db
    db.dispose()


def submitted(demo, kind: str, content: bytes, suffix: str, meta: dict | None = None,
              user: str = "alice", scenario: str = HEALTH) -> int:  # fmt: skip
    """A request of ``kind``, created, submitted and checked through the lifecycle."""
    h, db = demo
    with db.session() as s:
        staff = s.scalars(select(Staff).where(Staff.username == user)).one()
        found = s.scalars(
            select(Scenario).where(Scenario.tenant_id == staff.tenant_id, Scenario.name == scenario)
        ).one()
        request = lifecycle.create(s, kind=kind, requester=user, tenant_id=staff.tenant_id,
                                   scenario_id=found.id, purpose="插件测试 / kinds test", name=kind,
                                   meta=meta)  # fmt: skip
        lifecycle.submit(s, request, content, home.domain_store(h), user, suffix)
        request_id = request.id
    runner.check(db, request_id, home.domain_store(h), Limits(), RULES)
    return request_id


def checks(db, request_id: int) -> dict[str, str]:
    with db.session() as s:
        return {c.name: c.verdict for c in lifecycle.get(s, request_id).checks}


def status(db, request_id: int) -> str:
    with db.session() as s:
        return lifecycle.get(s, request_id).status


def approve(db, request_id: int, override: bool = False) -> None:
    for reviewer in ("rita", "ryan"):
        with db.session() as s:
            lifecycle.decide(s, request_id, reviewer, "approve", "核对无误 / checked",
                             override=override)  # fmt: skip


def act(demo, request_id: int) -> str | None:
    h, db = demo
    return executor.act(db, request_id, home.domain_store(h), RULES, Limits(), h / "none.bpf")


def shown(demo, request_id: int) -> dict:
    h, db = demo
    with db.session() as s:
        return console_views.content(s, lifecycle.get(s, request_id), home.domain_store(h))


def parquet(frame: pd.DataFrame) -> bytes:
    out = io.BytesIO()
    frame.to_parquet(out, index=False)
    return out.getvalue()


# --- the registry ---------------------------------------------------------------------------------
def test_every_kind_is_registered_under_its_name():
    assert kinds.names() == ("export", "import", "job", "model", "privacy", "registration")
    for name in kinds.names():
        kind = kinds.get(name)
        assert isinstance(kind, kinds.RequestKind) and kind.name == name
    assert kinds.where(lambda k: k.acted_on) == (
        "import",
        "job",
        "model",
        "privacy",
        "registration",
    )
    assert kinds.where(lambda k: k.downloadable) == ("export",)


def test_when_a_kind_is_unknown_then_it_is_refused_with_a_clear_error(demo):
    with pytest.raises(kinds.UnknownKind) as caught:
        kinds.get("survey")
    assert str(caught.value) == (
        "unknown request kind 'survey'; known: export, import, job, model, privacy, registration"
    )
    assert isinstance(caught.value, KeyError)
    with demo[1].session() as s, pytest.raises(kinds.UnknownKind):
        lifecycle.create(s, kind="survey", requester="alice", tenant_id=1, scenario_id=1,
                         purpose="不存在的类型 / no such kind", name="x")  # fmt: skip


def test_when_a_kind_is_registered_twice_or_without_a_name_then_it_is_refused():
    class Again(kinds.RequestKind):
        name = "export"
        title = Msg("再次导出", "export again")

    class Nameless(kinds.RequestKind):
        pass

    class Untitled(kinds.RequestKind):
        name = "survey"

    with pytest.raises(ValueError, match="already registered"):
        kinds.register(Again)
    with pytest.raises(ValueError, match="has no name"):
        kinds.register(Nameless)
    with pytest.raises(ValueError, match="has no title"):
        kinds.register(Untitled)
    assert "survey" not in kinds.names()
    assert type(kinds.get("export")).__name__ == "Export"


def test_review_imports_nothing_from_production():
    offenders = []
    for path in sorted((HUB / "review").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            if any(n == "hub.production" or n.startswith("hub.production.") for n in names):
                offenders.append(f"{path.relative_to(HUB.parent)}:{node.lineno}")
    assert offenders == []


# --- each kind through runner, executor and console views -----------------------------------------
def test_an_export_is_checked_shown_never_acted_on_and_downloaded(demo):
    h, db = demo
    frame = pd.DataFrame(
        {"district": ["上城区", "拱墅区", "西湖区", "滨江区"], "n": [120, 85, 64, 33]}
    )
    request_id = submitted(demo, "export", parquet(frame), ".parquet")
    assert set(checks(db, request_id)) == {
        "pii_scan", "raw_overlap", "sdc", "differencing", "limits", "record_level",
    }  # fmt: skip
    view = shown(demo, request_id)
    assert "上城区" in view["preview"] and view["files"] == [] and view["model"] is None
    approve(db, request_id)
    assert request_id not in executor.pending(db)
    assert act(demo, request_id) is None and status(db, request_id) == "approved"
    with db.session() as s:
        assert lifecycle.download(s, request_id, "alice")[0].status == "released"


def test_an_import_is_checked_shown_masked_and_becomes_a_dataset(demo):
    h, db = demo
    frame = pd.DataFrame({"mobile": [f"1380013{i:04d}" for i in range(30)], "score": range(30)})
    request_id = submitted(demo, "import", frame.to_csv(index=False).encode(), ".csv",
                           {"format": "csv"})  # fmt: skip
    assert checks(db, request_id) == {"format": "pass", "pii_scan": "fail", "limits": "pass"}
    view = shown(demo, request_id)
    assert "&lt;ID&gt;" in view["preview"] and "13800130001" not in view["preview"]
    approve(db, request_id, override=True)
    assert request_id in executor.pending(db)
    assert act(demo, request_id) == "imported"
    with db.session() as s:
        request = lifecycle.get(s, request_id)
        assert request.status == "imported" and request.meta["dataset"].startswith("ext")
        with pytest.raises(Conflict) as caught:  # only a downloadable kind is downloaded
            lifecycle.download(s, request_id, "alice")
        assert caught.value.code == "not_export"


def test_a_job_is_checked_shown_and_handed_to_the_sandbox_once_running(demo, monkeypatch):
    h, db = demo
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        code = b"from sdk import job\njob.save_metrics(rows=1)\n"
        info = tarfile.TarInfo("train.py")
        info.size = len(code)
        tar.addfile(info, io.BytesIO(code))
    meta = {"entrypoint": "train.py", "datasets": ["medical_visits"], "params": {},
            "resources": {"seconds": 60}}  # fmt: skip
    request_id = submitted(demo, "job", out.getvalue(), ".tar", meta)
    assert {"bundle", "resources"} <= set(checks(db, request_id))
    view = shown(demo, request_id)
    assert [name for name, _ in view["files"]] == ["train.py"]
    assert json.loads(view["job"]["entrypoint"]) == "train.py" and view["run"] is None
    approve(db, request_id, override=True)
    ran = []

    def run_job(db_, job_id, content_path, sha, tenant, meta_, inputs, *rest):
        ran.append((job_id, status(db_, job_id), sorted(inputs)))
        return "succeeded"

    monkeypatch.setattr(executor, "run_job", run_job)
    assert act(demo, request_id) == "succeeded"
    assert ran == [(request_id, "running", ["medical_visits"])]  # run outside the session
    with db.session() as s:
        view = job_view(lifecycle.get(s, request_id))
    assert view["entrypoint"] == "train.py" and view["datasets"] == ["medical_visits"]


@pytest.fixture(scope="module")
def product(demo) -> str:
    """A product of alice's company, published through a model request."""
    h, db = demo
    with db.session() as s:
        dataset = s.scalars(select(Dataset).where(Dataset.name == "medical_visits")).one()
        frame = pd.read_parquet(home.domain_store(h) / dataset.path)
    frame = frame.dropna(subset=["age", "gender", "cost"])
    x = frame[["age", "gender"]].astype({"age": np.float32})
    prep = ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), ["gender"]),
                              ("num", StandardScaler(), ["age"])])  # fmt: skip
    pipe = make_pipeline(prep, Ridge()).fit(x, frame["cost"])
    model = onnxmodel.convert(pipe, x.head(100), target="cost")
    meta = {"product": "kinds-visit-cost", "card": CARD, "dataset": "medical_visits"}
    request_id = submitted(demo, "model", model.content, ".onnx", meta)
    assert {"model_size", "model_format", "model_card", "model_pii", "model_data_strings",
            "model_support", "model_numbers", "membership_inference"} <= set(checks(db, request_id))  # fmt: skip
    view = shown(demo, request_id)["model"]
    assert view["shape"]["target"] == "cost" and view["features"] == ["age", "gender"]
    assert view["operators"] and view["inputs"][0].startswith("age:")
    assert [c[0] for c in view["categories"]] == ["gender"]
    approve(db, request_id, override=True)
    assert act(demo, request_id) == "published"
    return "kinds-visit-cost"


def test_a_model_is_checked_shown_and_becomes_a_product(demo, product):
    with demo[1].session() as s:
        found = s.scalars(select(Product).where(Product.name == product)).one()
        assert lifecycle.get(s, found.request_id).status == "published"


# --- the registration kind in the review console ------------------------------------------------------------
def registration(demo, body: object, user: str = "alice", scenario: str = HEALTH) -> int:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return submitted(demo, "registration", content, ".json", user=user, scenario=scenario)


async def test_when_a_reviewer_opens_a_registration_then_the_console_shows_it_by_its_title(
    demo, product, monkeypatch
):
    h, db = demo
    # the whole record and its 核验 are tests/test_product_registration.py's; here, the console
    request_id = registration(demo, {"product": product, "category": "scoring", "price": 3,
                                     "unit": "次", "processing": "在域内原始数据上训练的回归模型",
                                     "self_assessment": {}})  # fmt: skip
    reviewer = {"name": "rita", "scopes": ["custom:shuyu:review"]}
    monkeypatch.setattr(ConsoleHandler, "get_current_user", lambda self: reviewer)
    app = review_console.make_app(db, FAKE_HUB, "/review/", home.domain_store(h))
    async with serving(app) as client:
        queue = await client.get("/review/?kind=registration&status=all&lang=en")
        page = await client.get(f"/review/requests/{request_id}?lang=zh")
        model_file = await client.get(f"/review/requests/{request_id}/model-summary.json")
    assert queue.code == 200 and f'data-request="{request_id}"' in queue.body.decode()
    assert "product registration" in queue.body.decode()
    assert page.code == 200 and "产品登记" in page.body.decode()
    assert model_file.code == 404  # only a model's content is a model file


async def test_when_a_reviewer_opens_a_model_then_they_see_its_summary_and_can_download_nothing(
    demo, product, monkeypatch
):
    h, db = demo
    with db.session() as s:
        found = s.scalars(select(Product).where(Product.name == product)).one()
        request_id, content = found.request_id, Path(found.model_path).read_bytes()
    reviewer = {"name": "rita", "scopes": ["custom:shuyu:review"]}
    monkeypatch.setattr(ConsoleHandler, "get_current_user", lambda self: reviewer)
    app = review_console.make_app(db, FAKE_HUB, "/review/", home.domain_store(h))
    async with serving(app) as client:
        page = await client.get(f"/review/requests/{request_id}?lang=en")
        summary = await client.get(f"/review/requests/{request_id}/model-summary.json")
        old = await client.get(f"/review/requests/{request_id}/model.json")
        raw = await client.get(f"/review/requests/{request_id}/model.onnx")
    html = page.body.decode()
    assert page.code == 200 and 'id="model-operators"' in html and 'id="model-io"' in html
    assert "cannot be downloaded" in html and not re.search(r'href="[^"]*/model[^"]*"', html)
    body = json.loads(summary.body)
    assert summary.code == 200 and body["features"] == ["age", "gender"] and body["operators"]
    assert content not in summary.body and content[:64] not in summary.body  # never the file
    assert old.code == 404 and raw.code == 404  # no route serves the model file


def test_when_threads_ask_for_a_kind_at_once_then_none_sees_the_registry_half_loaded():
    """The production zone's poll and its proposals thread ask at the same time in a fresh
    process: each must wait for every kind, never get ``unknown request kind``."""
    import subprocess
    import sys

    code = (
        "import threading\n"
        "from hub import kinds\n"
        "errors, go = [], threading.Barrier(8)\n"
        "def ask():\n"
        "    go.wait()\n"
        "    try:\n"
        "        kinds.get('privacy'); kinds.get('job')\n"
        "    except Exception as e:\n"
        "        errors.append(repr(e))\n"
        "threads = [threading.Thread(target=ask) for _ in range(8)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "print(len(errors))\n"
    )
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
        assert out.stdout.strip() == "0", out.stdout + out.stderr
