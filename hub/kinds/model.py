"""A model publication: the model file a succeeded job wrote, with its card; once approved, a
product answering queries inside the domain (:mod:`hub.production.products`). The review console
shows everything the file holds: every weight with its feature and category, every lookup entry."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.orm import Session

from hub.db.models import Request
from hub.i18n import Msg
from hub.kinds import Checking, RequestKind, Zone, register
from hub.production import executor, publishing
from hub.review.checks import Finding
from sdk import modelfile

MAX_TABLE_SHOWN = 5_000  # lookup entries on the page; the whole model file is linked


@register
class Model(RequestKind):
    name = "model"
    title = Msg("模型发布", "model publishing")
    model_file = True
    acted_on = True
    from_job = True

    def checks(
        self, s: Session, request: Request, content: bytes, checking: Checking
    ) -> tuple[list[Finding], int]:
        return publishing.checks(s, request, content, checking.store, checking.production), 0

    def on_approved(self, s: Session, request: Request, zone: Zone) -> str:
        return executor.publish(s, request)

    def console(
        self, s: Session, request: Request, content: bytes, store: Path, view: dict
    ) -> None:
        view["model"] = model_view(content, request, view["lineage"])


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
