"""What the review console shows of a request's frozen content, per kind.

An export shows its first rows; a job its code (every file of the bundle), entrypoint, datasets,
parameters, resources and, once it ran, its outputs, released metrics and masked log; a model its
card and everything it holds (every weight with its feature and category, every lookup
entry); an import its columns and first rows with identifiers masked. Every kind shows
its lineage, verified links only. Nothing here writes.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.db.models import MeterEvent, Product, ProductKey, Request
from hub.production import imports, jobs
from hub.production.products import alerts as product_alerts
from hub.production.rules import ProductionRules
from hub.review import lineage
from sdk import modelfile
from sdk.identifiers import find_identifiers

PREVIEW_ROWS = 20
MAX_SHOWN = 200_000  # characters of one code file shown
MAX_TABLE_SHOWN = 5_000  # lookup entries on the page; the whole model file is linked


def _masked_preview(frame: pd.DataFrame) -> str:
    head = frame.head(PREVIEW_ROWS).astype(str)
    for column in head.columns:
        head[column] = head[column].map(lambda v: "<ID>" if find_identifiers(v) else v)
    return head.to_html(index=False, border=0, classes="preview")


def content(s: Session, r: Request, store: Path) -> dict:
    """The kind-specific view of ``r``: a preview table, code, card, run results, lineage."""
    data = Path(r.content_path).read_bytes() if r.content_path else b""
    view: dict = {"preview": "", "files": [], "job": None, "model": None, "run": None,
                  "lineage": lineage.trace(s, r)}  # fmt: skip
    if r.kind == "export":
        view["preview"] = (
            pd.read_parquet(io.BytesIO(data))
            .head(PREVIEW_ROWS)
            .to_html(index=False, border=0, classes="preview")
        )
    elif r.kind == "import":
        try:
            view["preview"] = _masked_preview(imports.read(data, r.meta.get("format", "csv")))
        except Exception:  # noqa: BLE001 - the format check already says why
            view["preview"] = ""
    elif r.kind == "job":
        try:
            files = jobs.read_bundle(data, ProductionRules())
        except Exception:  # noqa: BLE001 - the bundle check already says why
            files = {}
        view["files"] = [
            (name, body.decode("utf-8", "replace")[:MAX_SHOWN])
            for name, body in sorted(files.items())
        ]
        view["job"] = {k: json.dumps(r.meta.get(k), ensure_ascii=False)
                       for k in ("entrypoint", "datasets", "params", "resources")}  # fmt: skip
        run = r.meta.get("run")
        if run:
            released = store / "jobs" / str(r.id) / "released.log"
            view["run"] = {
                "exit_code": run.get("exit_code"), "seconds": run.get("seconds"),
                "outputs": run.get("outputs") or [], "metrics": json.dumps(run.get("metrics"), ensure_ascii=False, indent=1),
                "log": released.read_text()[-20_000:] if released.exists() else "",
                "files": run.get("files") or run.get("outputs") or [],
                "held": [{"ref": h["ref"], "what": h["what"], "reason": f"{h['reason_zh']} / {h['reason_en']}",
                          "original": h["original"] if isinstance(h["original"], str)
                          else json.dumps(h["original"], ensure_ascii=False)}
                         for h in run.get("held") or []],
                "ended": r.status in ("succeeded", "failed"),
            }  # fmt: skip
    elif r.kind == "model":
        view["model"] = model_view(data, r, view["lineage"])
    return view


def _weights(model: modelfile.Model) -> list[dict]:
    """One row per encoded feature, in the order of the weights."""
    rows, weights = [], list(model.spec["weights"])
    for name in model.features:
        enc = model.spec["encoders"][name]
        if enc["type"] == "standard":
            rows.append({"feature": name, "encoding": f"standard (mean {enc['mean']!r}, std {enc['std']!r})",
                         "value": "", "weight": repr(weights[len(rows)])})  # fmt: skip
        else:
            for category in enc["categories"]:
                rows.append({"feature": name, "encoding": "onehot", "value": category,
                             "weight": repr(weights[len(rows)])})  # fmt: skip
    return rows


def model_view(data: bytes, r: Request, trail: dict) -> dict:
    """Everything a model file holds, for a reviewer: shape, every weight with its feature and
    category, every lookup entry (the first MAX_TABLE_SHOWN; the whole file is one click away),
    the card, and the job it verifiably came from."""
    view = {"card": r.meta.get("card") or {}, "job": trail["chain"][-1]["from_job"],
            "dataset": r.meta.get("dataset"), "product": r.meta.get("product"),
            "shape": {}, "weights": [], "table": [], "table_rows": 0}  # fmt: skip
    try:
        model = modelfile.load(data)
    except ValueError:
        return view
    spec = model.spec
    view["shape"] = {
        "kind": model.kind, "target": model.target, "features": ", ".join(model.features),
        "threshold": spec.get("threshold"), "key": json.dumps(spec.get("key"), ensure_ascii=False),
        "intercept": repr(spec["intercept"]) if "intercept" in spec else None,
        "default": repr(spec["default"]) if "default" in spec else None, "output": spec.get("output"),
    }  # fmt: skip
    if model.kind == "lookup":
        keys, values = spec["table"]["keys"], spec["table"]["values"]
        view["table_rows"] = len(keys)
        view["table"] = [
            ([json.dumps(v, ensure_ascii=False) for v in k], repr(v))
            for k, v in zip(keys[:MAX_TABLE_SHOWN], values[:MAX_TABLE_SHOWN], strict=True)
        ]
    else:
        view["weights"] = _weights(model)
    return view


def products(s: Session) -> list[dict]:
    """Every product with its tenant, scenario, status, live keys, calls and sweep alerts."""
    calls: dict[str, list[int]] = {}  # product name -> quantities, from one pass over the calls
    for e in s.scalars(select(MeterEvent).where(MeterEvent.kind == "product_query")):
        calls.setdefault((e.details or {}).get("product"), []).append(e.quantity)
    out, alerts = [], product_alerts(s)
    for p in s.scalars(select(Product).order_by(Product.id)):
        keys = s.scalar(select(func.count()).select_from(ProductKey).where(
            ProductKey.product_id == p.id, ProductKey.revoked_at.is_(None)))  # fmt: skip
        made = calls.get(p.name, [])
        out.append({
            "name": p.name, "tenant": p.tenant.name, "scenario": p.scenario.name, "status": p.status,
            "request": p.request_id, "sha256": p.model_sha256[:12], "keys": keys,
            "calls": len(made), "records": sum(made), "alerts": alerts.get(p.name, []),
            "created": p.created_at.strftime("%Y-%m-%d %H:%M"),
        })  # fmt: skip
    return out
