"""A department's real export, registered with the real CLI, sampled from a real tenant kernel.

The export (:mod:`hub.demo.exports`) has Chinese headers, identifiers in the shapes clerks type
(spaced, dotted, full-width, lower-case x, legacy IDs, +86 mobiles, grouped cards, plates with
``·``/``-``/space, landlines with area codes and extensions, real mail domains and spelt e-mails
such as ``alice[at]qq.com``, rare-character, compound and transliterated names) and two text
columns that hold all of them in sentences, with other people's names and no word naming them:
a remarks column (scanned as free text) and a call log served with no operator (``keep``). ``shuyu dataset add`` registers it as a department would,
``shuyu datalist request/approve`` puts it on alice's scenario, and alice's kernel samples it
through the SDK over her tenant link: no planted value may come back, in any cell.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.demo import world
from hub.demo.exports import HEADERS, export, served_raw
from hub.masking.sample import SampleLimits, sample_rows
from tests.e2e.attack_lab import build_lab

pytestmark = pytest.mark.e2e

CHECKOUT = Path(__file__).resolve().parents[2]
ROWS = 6000  # the hub serves 5 %: 300 rows, some 3,000 planted values
SCENARIO = "普惠健康险定价"  # alice's, in 市卫生健康委员会's field
DEPARTMENT, PROVIDER = "市卫生健康委员会", "paul"


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    stop: list = []
    lab_home = tmp_path_factory.mktemp("export-lab")
    try:
        yield build_lab(lab_home, stop, "tenant-sandbox")
    finally:
        if request.session.testsfailed:
            log = lab_home / "logs" / "hub.log"
            tail = log.read_text(errors="replace").splitlines()[-100:] if log.exists() else []
            print("--- hub log ---", *tail, sep="\n")
        for fn in reversed(stop):
            fn()


def shuyu(lab, *argv: str) -> str:
    """Run the ``shuyu`` command line as an operator of the lab's hub would."""
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", *argv],
        env=lab.hub.env,
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_when_a_department_export_is_sampled_in_a_kernel_then_no_raw_value_comes_back(
    lab, tmp_path
):
    frame, planted = export(ROWS, seed=2026)
    csv = tmp_path / "户籍业务办理导出.csv"
    frame.to_csv(csv, index=False)
    # 沟通记录 (a log of calls: landlines, spelt e-mails, third parties' names) is served with no
    # operator at all, as a department that trusts a column would have it: the scrub alone.
    out = shuyu(
        lab, "dataset", "add", "--name", "household_export", "--department", DEPARTMENT,
        "--level", "2", "--file", str(csv), "--mask", f"{HEADERS['log']}=keep",
    )  # fmt: skip
    assert "车牌号: plate → mask" in out and "备注: free_text → free_text" in out, out
    assert "固定电话: landline → mask" in out and "沟通记录: - → keep" in out, out
    tenant = world.TENANTS[0]["name"]
    columns = ",".join(frame.columns)
    out = shuyu(
        lab, "datalist", "request", "--scenario", SCENARIO, "--tenant", tenant,
        "--dataset", "household_export", "--columns", columns,
    )  # fmt: skip
    item = re.search(r"#(\d+)", out).group(1)
    shuyu(lab, "datalist", "approve", item, "--by", PROVIDER, "--reason", "场景所需 / needed")

    result = lab.kernel.execute(
        "import json\n"
        "from sdk import Workspace\n"
        f"df = Workspace().datasets.get('household_export').sample(scenario={SCENARIO!r})\n"
        "print(json.dumps({'columns': list(df.columns),"
        " 'rows': [[None if v is None else str(v) for v in r] for r in df.astype(object)"
        ".where(df.notna(), None).to_numpy().tolist()]}, ensure_ascii=False))",
        timeout=180,
    )
    served = json.loads(result.out)
    assert served["columns"] == list(frame.columns)
    assert len(served["rows"]) == ROWS // 20

    from hub.db.models import Scenario, Tenant

    with lab.db.session() as s:
        scenario = s.scalars(
            select(Scenario).join(Tenant).where(Scenario.name == SCENARIO, Tenant.name == tenant)
        ).one()
        scenario_id, group = scenario.id, scenario.tenant.group
    rows = sample_rows(ROWS, group, str(scenario_id), "household_export", SampleLimits())
    import pandas as pd

    table = pd.DataFrame(served["rows"], columns=served["columns"])
    mine = [p for p in planted if p.row in set(rows.tolist())]
    assert len(mine) > 2500
    leaked = served_raw(table, planted, rows)
    assert not leaked, leaked[:10]
    notes = table[HEADERS["notes"]].dropna()
    assert notes.str.contains("<CN_RESIDENT_ID>|<CN_MOBILE>|<CN_NAME>").mean() > 0.5
    # the new shapes were in the sample, and came back masked, in the notes and the kept log
    shapes = {
        p.shape.split("/")[-1] for p in mine if p.column in (HEADERS["notes"], HEADERS["log"])
    }
    assert {"said", "with", "list", "title", "bracket_at", "hash", "ext_zh"} <= shapes, shapes
    for column in (HEADERS["notes"], HEADERS["log"]):
        text = "".join(table[column].dropna())
        assert "<CN_LANDLINE>" in text and "<EMAIL_ADDRESS>" in text and "<CN_NAME>" in text
    # and the same check, on the raw rows the sample was drawn from, finds every planted value
    raw = frame.iloc[rows].reset_index(drop=True).astype(str)
    assert len(served_raw(raw, planted, rows)) == len(mine)
