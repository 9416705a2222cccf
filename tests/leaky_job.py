"""A job that tries to carry resident IDs to its tenant through everything a job shows: output
names and paths, metric keys, values and float counts, and log lines in odd spellings and in
pieces. Shared by the lifecycle test (real sandbox) and the end-to-end test (real gateway)."""

from __future__ import annotations

import base64
import json
import re

import pandas as pd

from hub.production import spelling
from sdk.identifiers import resident_id_check_char

MADE_UP = "11010519491231002" + resident_id_check_char("11010519491231002")
RAW_PICKED = 3

CODE = f'''
import base64
from sdk import job
ZH, CAP = "〇一二三四五六七八九", "零壹贰叁肆伍陆柒捌玖"
frame = job.dataset("transit_trips").df()
ids = sorted(frame["holder_id"].dropna().unique())[:{RAW_PICKED}] + ["{MADE_UP}"]
def chinese(v, table):
    return "".join(table[int(c)] if c.isdigit() else c for c in v)
metrics = {{"rows": len(frame), "auc": 0.73, "loss": 0.52, "tiny_float": 3.0, "tiny": 4}}
for i, v in enumerate(ids):
    job.output(f"{{v}}.parquet").write_bytes(b"x")
    job.output(f"by_holder/{{'.'.join(v)}}.csv").write_text("1")
    job.output(f"{{chr(0x200b).join(v)}}.txt").write_text("1")
    job.output(f"{{v[:9]}}/{{v[9:]}}.bin").write_text("1")
    print("holder", v)
    print("dotted", ".".join(v))
    print("spaced", " ".join(v))
    print("zero width", chr(0x200b).join(v))
    print("中文", chinese(v, ZH))
    print("大写", chinese(v, CAP))
    print("first half", v[:9])
    print(v[9:], "second half")
    print("tokens", v[:6], "and", v[6:12], "then", v[12:])
    print("reversed", v[::-1])
    print("base64", base64.b64encode(v.encode()).decode())
    print("lookalike", v.replace("0", "O").replace("1", "l"))
    print("padded", "000" + v)
    metrics[v] = 12 + i
    metrics["k_" + ".".join(v)] = 20
    metrics["count_" + chinese(v, ZH)] = 3.0
    metrics[f"value_{{i}}"] = int(v) if v.isdigit() else v
    metrics[f"float_{{i}}"] = float(v[:17])
    metrics[f"halves_{{i}}"] = [v[:9], v[9:]]
job.save_metrics(**metrics)
'''


def raw_ids(raw_parquet) -> list[str]:
    """The raw IDs the job picks, read by the test from the domain store."""
    frame = pd.read_parquet(raw_parquet, columns=["holder_id"])
    return sorted(frame["holder_id"].dropna().unique())[:RAW_PICKED] + [MADE_UP]


def leaks(text: str, values: list[str]) -> list[str]:
    """The ``values`` that can be read in ``text`` in any spelling: folded, or as its digits
    alone (pieces written apart), or their first 17 digits (the float form)."""
    folded = spelling.fold(text)
    stream = re.sub(r"[^0-9X]", "", folded)
    return [v for v in values if spelling.fold(v) in folded or v[:17] in stream]


def hidden_forms(values: list[str]) -> list[str]:
    """The encoded forms the job prints (a fold does not give them back; they must not show)."""
    return [form for v in values
            for form in (v[::-1], base64.b64encode(v.encode()).decode(), v.replace("0", "O").replace("1", "l"))]  # fmt: skip


def tenant_side(*parts: object) -> str:
    """Everything the tenant received, as one text."""
    return "\n".join(p if isinstance(p, str) else json.dumps(p, ensure_ascii=False) for p in parts)
