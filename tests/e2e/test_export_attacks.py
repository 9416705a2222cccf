"""Exports built to slip past the disclosure checks, submitted from a real tenant kernel through
the real gateway (issue 13, items 3, 5 and 8). Every one must end with a failing check, so none
can be approved without a reviewer overriding it with a written reason.

The kernel only sees desensitized samples; the identifiers it smuggles stand for ones a job or
an outside source handed it, so the test reads them from the raw table and writes them into the
kernel's code.
"""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest

from tests import docker_engine as de
from tests.e2e.attack_lab import build_lab

pytestmark = pytest.mark.e2e

SUBMIT = r"""
import json, time
import pandas as pd
from sdk import Workspace
ws = Workspace(scenario='普惠健康险定价')
visits = ws.datasets.get('medical_visits').sample()

def send(name, frame, meta=None):
    if meta is not None:
        frame.attrs['shuyu_sdc'] = meta
    return name, ws.exports.create(frame, purpose='统计 / statistics', name=name, preflight=False)

sent = [
    # (a) sample rows of "harmless" columns: an exact amount, a day, a department
    send('row-extract', pd.DataFrame({'金额': visits['cost'], '科室': visits['department'],
                                      '日期': pd.to_datetime(visits['visit_time']).dt.strftime('%Y-%m-%d')})),
    # (b) magnitudes only, the maximum per group
    send('max-by-group', visits.groupby('department', as_index=False).agg(top=('cost', 'max'))),
    # (b) counts renamed and stored as floats, the declaration pointing at nothing, invented
    #     contributions
    send('renamed-float-counts',
         visits.groupby(['hospital', 'diagnosis_name']).size().astype(float).rename('k').reset_index()
               .assign(total=lambda t: t['k'] * 100.0),
         {'counts': 'no-such-column', 'contributions': [[1.0, 1.0, 1000.0]]}),
    # (c) an ID split over two columns (text and integers), dotted, zero-width, Chinese numerals
    send('split-and-spelled', pd.DataFrame({
        'g': ['a', 'b', 'c'],
        'p1': [v[:9] for v in IDS], 'p2': [v[9:] for v in IDS],
        'q1': [int(v[:8]) for v in IDS], 'q2': [int(v[8:17]) for v in IDS], 'q3': [v[17] for v in IDS],
        'dotted': ['.'.join(IDS[0])] * 3,
        'zw': ['\u200b'.join(IDS[1])] * 3,
        'cn': [IDS[2].translate(str.maketrans('0123456789', '〇一二三四五六七八九'))] * 3,
    })),
]
for name, req in sent:
    while req.reload().status not in ('in_review', 'approved'):
        time.sleep(0.2)
print(json.dumps({name: {c['name']: [c['verdict'], c['details']] for c in req.checks}
                  for name, req in sent}, ensure_ascii=False, default=str))
"""


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    """The attack lab (bubblewrap workspaces), torn down completely."""
    stop: list = []
    lab_home = tmp_path_factory.mktemp("exports")
    try:
        try:
            yield build_lab(lab_home, stop, "tenant-sandbox")
        except de.Unavailable as e:  # pragma: no cover - the sandbox needs no engine
            pytest.skip(str(e))
    finally:
        if request.session.testsfailed:
            log = lab_home / "logs" / "hub.log"
            tail = log.read_text(errors="replace").splitlines()[-100:] if log.exists() else []
            print("--- hub log ---", *tail, sep="\n", file=sys.stderr)
        for fn in reversed(stop):
            fn()


def test_when_a_kernel_exports_extracts_hidden_tables_and_spelled_ids_then_each_fails(lab):
    raw = pd.read_parquet(lab.values["raw"], columns=["patient_id"])
    ids = raw["patient_id"][~raw["patient_id"].str[8].eq("0")].head(3).tolist()
    result = lab.kernel.execute(f"IDS = {ids!r}\n" + SUBMIT, timeout=300)
    assert not result.ename, result
    verdicts = json.loads(result.stdout.strip().splitlines()[-1])

    extract = verdicts["row-extract"]
    assert extract["raw_overlap"][0] == "fail", extract
    assert extract["raw_overlap"][1]["sources"]["medical_visits"]["reproduced_rows"] > 0

    top = verdicts["max-by-group"]["sdc"]  # a maximum is one record's value, however it is found
    assert top[0] == "fail" and {"extremes", "unverified", "raw_frequency"} & set(top[1]), top

    renamed = verdicts["renamed-float-counts"]["sdc"]
    assert renamed[0] == "fail" and "k" in renamed[1], renamed
    assert renamed[1]["raw_frequency"]["medical_visits"]["rows"] > 0

    spelled = verdicts["split-and-spelled"]
    pii = spelled["pii_scan"][1]["columns"]
    assert spelled["pii_scan"][0] == "fail", spelled
    for column in ("p1+p2", "q1+q2+q3", "dotted", "zw", "cn"):
        assert "CN_RESIDENT_ID" in pii[column], (column, pii)
    overlap = spelled["raw_overlap"][1]["sources"]["medical_visits"]["identifier_cells"]
    assert {"p1+p2", "dotted", "zw", "cn"} <= set(overlap), overlap


RESHAPED = r"""
import base64, json, time
import pandas as pd
from sdk import Workspace
ws = Workspace(scenario='普惠健康险定价')

def send(name, frame):
    return name, ws.exports.create(frame, purpose='统计 / statistics', name=name, preflight=False)

def shift(v, k):
    return ''.join(str((int(c) + k) % 10) if c.isdigit() else c for c in v)

scattered = {f'c{i}': [str(100 + 37 * i + j) for j in range(3)] for i in range(12)}
scattered['c1'][1], scattered['c9'][1] = IDS[1][:9], IDS[1][9:]
sent = [
    # one digit per row, bottom to top, among other rows
    send('down-rows', pd.DataFrame({'k': [f'r{i}' for i in range(20)],
                                    'd': ['a'] + list(IDS[0])[::-1] + ['b']})),
    # base32 of the ID, and its digits shifted by three
    send('base32-and-shifted', pd.DataFrame({
        'g': ['a', 'b', 'c'],
        'b32': [base64.b32encode(IDS[2].encode()).decode(), 'x', 'y'],
        'shifted': [shift(IDS[0], 3), 'x', 'y'],
    })),
    # two halves in columns 1 and 9 of a table of twelve numeric columns
    send('scattered', pd.DataFrame({'g': ['x', 'y', 'z'], **scattered})),
]
for name, req in sent:
    while req.reload().status not in ('in_review', 'approved'):
        time.sleep(0.2)
print(json.dumps({name: {c['name']: [c['verdict'], c['details']] for c in req.checks}
                  for name, req in sent}, ensure_ascii=False, default=str))
"""


def test_when_a_kernel_exports_ids_down_rows_encoded_or_scattered_then_overlap_fails(lab):
    raw = pd.read_parquet(lab.values["raw"], columns=["patient_id"])
    ids = raw["patient_id"].dropna().head(3).tolist()
    result = lab.kernel.execute(f"IDS = {ids!r}\n" + RESHAPED, timeout=300)
    assert not result.ename, result
    verdicts = json.loads(result.stdout.strip().splitlines()[-1])

    def cells(name: str) -> dict:
        verdict, details = verdicts[name]["raw_overlap"]
        assert verdict == "fail", (name, verdicts[name]["raw_overlap"])
        return details["sources"]["medical_visits"]["identifier_cells"]

    assert {"d↓", "d↑"} & set(cells("down-rows"))
    assert {"b32", "shifted"} <= set(cells("base32-and-shifted"))
    assert "c1+c9" in cells("scattered")
