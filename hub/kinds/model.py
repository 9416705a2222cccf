"""A model publication: the ONNX model file a succeeded job wrote, with its card; once approved, a
product answering queries inside the domain (:mod:`hub.production.products`). The review console
shows a summary of the file (:meth:`sdk.onnxmodel.OnnxModel.summary`): inputs and outputs, feature
names, operator counts, tree count and depth, categories, class labels, key and threshold. The file
itself is never served: reviewers read the summary, nobody downloads the model."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from sqlalchemy.orm import Session

from hub.db.models import Request
from hub.i18n import Msg
from hub.kinds import Checking, RequestKind, Zone, register
from hub.production import executor, publishing
from hub.review.checks import Finding
from sdk import onnxmodel

MAX_LABELS_SHOWN = 200  # category labels shown per feature; the count is always shown


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


def summary(data: bytes) -> dict | None:
    """The reviewer's summary of an ONNX model file (JSON-able), or None when it is not one."""
    try:
        return asdict(onnxmodel.load(data).summary())
    except onnxmodel.ModelFormatError:
        return None


def _shape(value: dict) -> str:
    return f"{value['name']}: {value['type']} {value['shape']}"


def model_view(data: bytes, r: Request, trail: dict) -> dict:
    """What a reviewer sees of a model: its summary (inputs, outputs, features, operator counts,
    trees, categories, class labels, key, threshold), the card, and the job it verifiably came
    from. Nothing links to the file."""
    view = {"card": r.meta.get("card") or {}, "job": trail["chain"][-1]["from_job"],
            "dataset": r.meta.get("dataset"), "product": r.meta.get("product"),
            "shape": {}, "inputs": [], "outputs": [], "features": [], "operators": [],
            "categories": [], "class_labels": []}  # fmt: skip
    found = summary(data)
    if found is None:
        return view
    view["shape"] = {
        "format": onnxmodel.FORMAT, "task": found["task"], "target": found["target"],
        "threshold": found["threshold"],
        "key": json.dumps(found["key"], ensure_ascii=False) if found["key"] else None,
        "trees": found["trees"] or None, "max_depth": found["max_depth"] or None,
        "opset": ", ".join(f"{d or 'ai.onnx'} {v}" for d, v in sorted(found["opset"].items())),
        "producer": found["producer"] or None, "bytes": f"{found['bytes']:,}",
    }  # fmt: skip
    view["inputs"] = [_shape(i) for i in found["inputs"]]
    view["outputs"] = [_shape(o) for o in found["outputs"]]
    view["features"] = list(found["features"])
    view["operators"] = sorted(found["operators"].items(), key=lambda kv: (-kv[1], kv[0]))
    view["categories"] = [
        (name, len(labels), ", ".join(labels[:MAX_LABELS_SHOWN]))
        for name, labels in found["categories"].items()
    ]
    view["class_labels"] = list(found["class_labels"])
    return view
