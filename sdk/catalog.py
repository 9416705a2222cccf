"""The catalog as the caller's company sees it: its scenarios, and the datasets they are approved
for, each with a desensitized sample."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING

from sdk import html
from sdk.errors import NotFound
from sdk.resources import Collection, Resource, ResourceList

if TYPE_CHECKING:
    import pandas as pd


class Scenario(Resource):
    """A scenario of the caller's company (一场景一清单一审定)."""

    def datasets(self) -> ResourceList:
        """The catalog as this scenario sees it."""
        return DatasetCollection(self.client, str(self.id)).list()

    def _repr_html_(self) -> str:
        a = self.attrs
        return html.table(
            ["场景 Scenario", "领域 Field", "类别 Category", "状态 Status", "用途 Purpose"],
            [(f"{a['name']} (#{a['id']})", a["field"], a["category"], a["status"], a["purpose"])],
        )


class ScenarioCollection(Collection):
    resource = Scenario

    def list(self) -> ResourceList:
        found = self.client.scenarios()
        return ResourceList(
            [self.prepare(s) for s in found],
            ["#", "场景 Scenario", "领域 Field", "类别 Category", "状态 Status"],
            lambda s: (s.id, s.name, s.field, s.category, s.status),
            "场景 / Scenarios",
        )

    def get(self, ref: int | str) -> Scenario:
        """A scenario by id or name."""
        for s in self.list():
            if str(s.id) == str(ref) or s.name == ref:
                return s
        raise NotFound(f"您的单位没有场景 {ref}", f"your company has no scenario {ref}")


class Dataset(Resource):
    """A catalog dataset; ``columns`` show each column's masking and whether it is approved."""

    id_attribute = "name"

    @property
    def approved_columns(self) -> list[str]:
        return [c["name"] for c in self.attrs["columns"] if c["approved"]]

    def sample(self, scenario: int | str | None = None, format: str = "arrow") -> pd.DataFrame:
        """The desensitized sample of the approved columns as a DataFrame: the same rows on
        every call, masked as the catalog says (see ``df.attrs["shuyu"]``). ``scenario``
        defaults to the workspace's, else to the one scenario approved for this dataset."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        scenario = self.collection.default_scenario if scenario is None else str(scenario)
        body = self.client.sample(self.name, scenario, format)
        if format == "parquet":
            table = pq.read_table(io.BytesIO(body))
        else:
            table = pa.ipc.open_stream(body).read_all()
        frame = table.to_pandas()
        meta = (table.schema.metadata or {}).get(b"shuyu")
        frame.attrs["shuyu"] = json.loads(meta) if meta else {}
        return frame

    def _repr_html_(self) -> str:
        a = self.attrs
        rows = [
            (
                c["name"],
                c["title"],
                c["type"],
                "✓" if c["approved"] else ("禁止 prohibited" if c["prohibited"] else "✗"),
                html.masking_text(c["masking"]),
                "✓" if c["quasi_identifier"] else "",
            )
            for c in a["columns"]
        ]
        caption = f"{a['name']} · {a['title']} · {a['department']} · 分级 level {a['level']}"
        return html.table(
            ["列 Column", "名称 Title", "类型 Type", "已批准 Approved", "脱敏 Masking",
             "准标识符 Quasi-id"],
            rows,
            caption,
        )  # fmt: skip


class DatasetCollection(Collection):
    resource = Dataset

    def list(self, scenario: int | str | None = None) -> ResourceList:
        """The catalog; approvals are those of ``scenario`` (default: the workspace's, else
        all of the company's scenarios)."""
        scenario = scenario or self.default_scenario
        found = self.client.datasets(scenario)
        return ResourceList(
            [self.prepare(d) for d in found],
            ["数据集 Dataset", "名称 Title", "部门 Department", "分级 Level", "已批准列 Approved"],
            lambda d: (d.name, d.title, d.department, d.level, ", ".join(d.approved_columns)),
            "数据目录 / Catalog",
        )

    def get(self, name: str, scenario: int | str | None = None) -> Dataset:
        return self.prepare(self.client.dataset(name, scenario or self.default_scenario))
