"""An import (集成外部数据): an external CSV or Parquet file a processor brings in; once approved,
a dataset of its scenario (:mod:`hub.production.imports`). The review console shows its first rows
with identifiers masked."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from hub.db.models import Request
from hub.i18n import Msg
from hub.kinds import PREVIEW_ROWS, Checking, RequestKind, Zone, register
from hub.production import imports
from hub.refusals import BadRequest
from hub.review import lifecycle
from hub.review.checks import Context, Finding, run_all
from sdk.identifiers import find_identifiers


def masked_preview(frame: pd.DataFrame) -> str:
    head = frame.head(PREVIEW_ROWS).astype(str)
    for column in head.columns:
        head[column] = head[column].map(lambda v: "<ID>" if find_identifiers(v) else v)
    return head.to_html(index=False, border=0, classes="preview")


@register
class Import(RequestKind):
    name = "import"
    title = Msg("外部数据导入", "external data import")
    acted_on = True

    def checks(
        self, s: Session, request: Request, content: bytes, checking: Checking
    ) -> tuple[list[Finding], int]:
        fmt = request.meta.get("format", "csv")
        try:
            frame = imports.read(content, fmt)
        except BadRequest as e:
            return [imports.failed_format(e)], 0
        ctx = Context(limits=checking.limits, size_bytes=len(content))
        return [imports.format_finding(frame, fmt),
                *run_all(frame, ctx, names=["pii_scan", "limits"])], len(frame)  # fmt: skip

    def on_approved(self, s: Session, request: Request, zone: Zone) -> str:
        approver = next(
            (d.reviewer for d in reversed(request.decisions) if d.decision == "approve"),
            "platform",
        )
        dataset = imports.install(s, request, zone.store, approver)
        request.meta = {**request.meta, "dataset": dataset.name}
        lifecycle.move(s, request, lifecycle.IMPORTED, dataset=dataset.name, rows=dataset.rows)
        return lifecycle.IMPORTED

    def console(
        self, s: Session, request: Request, content: bytes, store: Path, view: dict
    ) -> None:
        try:
            view["preview"] = masked_preview(
                imports.read(content, request.meta.get("format", "csv"))
            )
        except Exception:  # noqa: BLE001 - the format check already says why
            view["preview"] = ""
