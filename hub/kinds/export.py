"""An export: a result table (Parquet) that leaves the domain, once approved, by its requester's
download. Checked by every registered check against the scenario's raw data and the tenant's
earlier releases."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from hub.db.models import Request
from hub.i18n import Msg
from hub.kinds import PREVIEW_ROWS, Checking, RequestKind, register
from hub.review.checks import Context, Finding, run_all
from hub.review.sources import raw_sources, releases


@register
class Export(RequestKind):
    name = "export"
    title = Msg("结果导出", "export")
    downloadable = True
    from_job = True

    def checks(
        self, s: Session, request: Request, content: bytes, checking: Checking
    ) -> tuple[list[Finding], int]:
        ctx = Context(
            limits=checking.limits,
            raw=raw_sources(s, request.scenario_id, checking.store),
            releases=releases(s, request),
            table=dict(request.meta.get("table") or {}),
            size_bytes=len(content),
        )
        frame = pd.read_parquet(io.BytesIO(content))
        return run_all(frame, ctx), len(frame)

    def console(
        self, s: Session, request: Request, content: bytes, store: Path, view: dict
    ) -> None:
        view["preview"] = (
            pd.read_parquet(io.BytesIO(content))
            .head(PREVIEW_ROWS)
            .to_html(index=False, border=0, classes="preview")
        )
