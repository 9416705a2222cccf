"""Requests under platform review, and exports: ``ws.exports.create(...)``, ``ws.requests``.

A request's content is frozen when it is created; its checks run on the platform, reviewers
decide in the review console, and only an approved export can be downloaded — by its requester,
byte for byte what was approved (the SHA-256 is verified here too).
"""

from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sdk import html
from sdk.errors import ShuyuError
from sdk.quotes import show_quote
from sdk.resources import Collection, Resource, ResourceList
from sdk.statuses import RequestStatus as S

if TYPE_CHECKING:
    import pandas as pd

DONE = (S.APPROVED, S.REJECTED, S.RETURNED, S.WITHDRAWN, S.RELEASED)
VERDICT_MARK = {"pass": "✓", "warn": "!", "fail": "✗"}


class Request(Resource):
    """One request: ``id``, ``status``, ``checks`` (each automated finding), decisions."""

    STEPS: tuple[str, ...] = (S.SUBMITTED, S.CHECKING, S.IN_REVIEW, "decided")
    DONE: tuple[str, ...] = DONE

    def wait(self, timeout: float = 3600, interval: float = 2.0, progress: bool = True) -> Request:
        """Wait until the request is decided (or withdrawn), showing its progress."""
        from tqdm.auto import tqdm

        steps = list(self.STEPS)
        bar = tqdm(total=len(steps), desc=f"#{self.id}", disable=not progress, leave=True)
        deadline = time.monotonic() + timeout
        try:
            while True:
                self.reload()
                status = self.status
                done = (
                    len(steps)
                    if status in self.DONE
                    else steps.index(status) + 1
                    if status in steps
                    else 0
                )
                bar.n = done
                bar.set_postfix_str(status)
                bar.refresh()
                if status in self.DONE:
                    return self
                if time.monotonic() > deadline:
                    raise ShuyuError(
                        f"等待申请 #{self.id} 超时（{status}）",
                        f"timed out waiting for request #{self.id} ({status})",
                        code="timeout",
                    )
                time.sleep(interval)
        finally:
            bar.close()

    def withdraw(self) -> Request:
        self.attrs = self.client.withdraw(self.id)
        return self

    def download(self, path: str | Path | None = None) -> pd.DataFrame | Path:
        """The approved content: written to ``path`` (returned), or as a DataFrame."""
        import pandas as pd

        body, headers = self.client.download(self.id)
        expected = headers.get("X-Shuyu-Sha256") or self.attrs.get("sha256")
        if hashlib.sha256(body).hexdigest() != expected:
            raise ShuyuError(
                "下载内容与批准的内容不一致", "the download differs from what was approved",
                code="hash_mismatch",
            )  # fmt: skip
        if path is None:
            return pd.read_parquet(io.BytesIO(body))
        target = Path(path)
        target.write_bytes(body)
        return target

    def _repr_html_(self) -> str:
        a = self.attrs
        rows = [
            (VERDICT_MARK.get(c["verdict"], c["verdict"]), c["name"], c["reason"])
            for c in a.get("checks", [])
        ]
        caption = (
            f"#{a['id']} {a['name']} · {a['status']} · {a['scenario']} · "
            f"审核 approvals {a.get('approvals', 0)}/{a['approvals_needed']}"
        )
        return html.table(["", "检查 Check", "结论 Finding"], rows, caption)


class RequestCollection(Collection):
    resource = Request

    def list(self) -> ResourceList:
        return ResourceList(
            [self.prepare(r) for r in self.client.requests()],
            ["#", "类型 Kind", "名称 Name", "场景 Scenario", "状态 Status", "检查 Checks"],
            lambda r: (
                r.id, r.kind, r.name, r.scenario, r.status,
                " ".join(f"{c['name']}{VERDICT_MARK.get(c['verdict'], '')}" for c in r.checks),
            ),
            "我的申请 / My requests",
        )  # fmt: skip

    def get(self, request_id: int) -> Request:
        return self.prepare(self.client.request(request_id))


class ExportCollection(Collection):
    resource = Request

    def get(self, request_id: int) -> Request:
        return self.prepare(self.client.request(request_id))

    def create(
        self,
        data: pd.DataFrame | str | Path,
        purpose: str,
        scenario: int | str | None = None,
        name: str | None = None,
        preflight: bool = True,
    ) -> Request:
        """Submit a result for export review: a DataFrame, or a CSV/Parquet file in the
        workspace. With ``preflight``, obvious problems are reported before sending."""
        import pandas as pd

        if isinstance(data, (str, Path)):
            source = Path(data)
            frame = (
                pd.read_csv(source) if source.suffix.lower() == ".csv" else pd.read_parquet(source)
            )
            name = name or source.name
        else:
            frame = data
        if preflight:
            from sdk.disclosure import preflight as run_preflight

            run_preflight(frame)
        show_quote(self.client, "export", scenario or self.default_scenario)
        out = io.BytesIO()
        frame.to_parquet(out, index=False)
        meta = {"table": frame.attrs.get("shuyu_sdc", {})}
        view = self.client.create_export(
            out.getvalue(), meta, purpose=purpose, scenario=scenario or self.default_scenario,
            name=name or "export",
        )  # fmt: skip
        return self.prepare(view)
