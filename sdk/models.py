"""Models and collections of the gateway's resources, in the manner of docker-py: a collection
lists and gets models; a model holds the attributes the gateway sent and can ``reload()``."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any, ClassVar

from sdk import html
from sdk.client import APIClient
from sdk.errors import NotFound

if TYPE_CHECKING:
    import pandas as pd


class Model:
    """One resource: ``attrs`` as the gateway sent them; attribute access reads them."""

    id_attribute: ClassVar[str] = "id"

    def __init__(self, attrs: dict, client: APIClient, collection: Collection | None = None):
        self.attrs = attrs
        self.client = client
        self.collection = collection

    @property
    def id(self) -> Any:
        return self.attrs.get(self.id_attribute)

    def __getattr__(self, name: str) -> Any:
        attrs = self.__dict__.get("attrs", {})
        if name in attrs:
            return attrs[name]
        raise AttributeError(name)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.id == self.id

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.id))

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.id}>"


class ModelList(list):
    """A list of models that shows as a table in notebooks."""

    def __init__(self, items, headers: list[str], row, caption: str = ""):
        super().__init__(items)
        self._table = (headers, row, caption)

    def _repr_html_(self) -> str:
        headers, row, caption = self._table
        return html.table(headers, [row(m) for m in self], caption)


class Collection:
    model: ClassVar[type[Model]] = Model

    def __init__(self, client: APIClient, default_scenario: str | None = None):
        self.client = client
        self.default_scenario = default_scenario

    def prepare_model(self, attrs: dict) -> Model:
        return self.model(attrs, self.client, self)


class Scenario(Model):
    """A scenario of the caller's company (一场景一清单一审定)."""

    def datasets(self) -> ModelList:
        """The catalog as this scenario sees it."""
        return DatasetCollection(self.client, str(self.id)).list()

    def _repr_html_(self) -> str:
        a = self.attrs
        return html.table(
            ["场景 Scenario", "领域 Field", "类别 Category", "状态 Status", "用途 Purpose"],
            [(f"{a['name']} (#{a['id']})", a["field"], a["category"], a["status"], a["purpose"])],
        )


class ScenarioCollection(Collection):
    model = Scenario

    def list(self) -> ModelList:
        found = self.client.get_json("/scenarios")["scenarios"]
        return ModelList(
            [self.prepare_model(s) for s in found],
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


class Dataset(Model):
    """A catalog dataset; ``columns`` show each column's masking and whether it is approved."""

    id_attribute = "name"

    @property
    def approved_columns(self) -> list[str]:
        return [c["name"] for c in self.attrs["columns"] if c["approved"]]

    def reload(self) -> None:
        scenario = self.collection.default_scenario if self.collection else None
        self.attrs = self.client.get_json(f"/datasets/{self.name}", scenario=scenario)

    def sample(self, scenario: int | str | None = None, format: str = "arrow") -> pd.DataFrame:
        """The desensitized sample of the approved columns as a DataFrame: the same rows on
        every call, masked as the catalog says (see ``df.attrs["shuyu"]``). ``scenario``
        defaults to the workspace's, else to the one scenario approved for this dataset."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if scenario is None and self.collection is not None:
            scenario = self.collection.default_scenario
        body, _ = self.client.get_bytes(
            f"/datasets/{self.name}/sample", scenario=scenario, format=format
        )
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
    model = Dataset

    def list(self, scenario: int | str | None = None) -> ModelList:
        """The catalog; approvals are those of ``scenario`` (default: the workspace's, else
        all of the company's scenarios)."""
        scenario = scenario or self.default_scenario
        found = self.client.get_json("/datasets", scenario=scenario)["datasets"]
        return ModelList(
            [self.prepare_model(d) for d in found],
            ["数据集 Dataset", "名称 Title", "部门 Department", "分级 Level", "已批准列 Approved"],
            lambda d: (d.name, d.title, d.department, d.level, ", ".join(d.approved_columns)),
            "数据目录 / Catalog",
        )

    def get(self, name: str, scenario: int | str | None = None) -> Dataset:
        attrs = self.client.get_json(
            f"/datasets/{name}", scenario=scenario or self.default_scenario
        )
        return self.prepare_model(attrs)
