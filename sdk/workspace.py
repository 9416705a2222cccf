"""``Workspace``: the SDK's entry point, configured from the workspace's environment."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from sdk import html
from sdk.catalog import DatasetCollection, ScenarioCollection
from sdk.client import DEFAULT_TIMEOUT, APIClient
from sdk.errors import ShuyuError
from sdk.privacy import PrivacyCollection
from sdk.production import ImportCollection, JobCollection, ModelCollection, ProductCollection
from sdk.requests import ExportCollection, RequestCollection
from sdk.resources import ResourceList

if TYPE_CHECKING:
    import pandas as pd


class Workspace:
    """The caller's view of the platform::

        ws = Workspace()
        ws.datasets.list()
        df = ws.datasets.get("medical_visits").sample()

    ``url`` and ``token`` default to ``$SHUYU_GATEWAY_URL`` and ``$JUPYTERHUB_API_TOKEN``, which
    the platform sets in every workspace; ``scenario`` (an id or name) is the default scenario
    of every call, when the company has several.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        scenario: int | str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ):
        url = url or os.environ.get("SHUYU_GATEWAY_URL", "")
        token = token or os.environ.get("JUPYTERHUB_API_TOKEN", "")
        if not url or not token:
            raise ShuyuError(
                "未在数域工作空间中运行：缺少 SHUYU_GATEWAY_URL 或 JUPYTERHUB_API_TOKEN",
                "not inside a Shuyu workspace: SHUYU_GATEWAY_URL or JUPYTERHUB_API_TOKEN is unset",
                code="no_workspace",
            )
        self.client = APIClient(url, token, timeout)
        default = str(scenario) if scenario is not None else None
        self.default_scenario = default
        self.scenarios = ScenarioCollection(self.client, default)
        self.datasets = DatasetCollection(self.client, default)
        self.exports = ExportCollection(self.client, default)
        self.requests = RequestCollection(self.client, default)
        self.jobs = JobCollection(self.client, default)
        self.models = ModelCollection(self.client, default)
        self.products = ProductCollection(self.client, default)
        self.imports = ImportCollection(self.client, default)
        self.privacy = PrivacyCollection(self.client, default)

    def quote(
        self, kind: str, resources: dict | None = None, scenario: int | str | None = None
    ) -> dict:
        """What a request of ``kind`` (job, export, model, import) would cost, with this month's
        spending and the company's cap; the platform refuses a request over the cap."""
        return self.client.quote(kind, scenario or self.default_scenario, **(resources or {}))

    def sql(self, text: str, scenario: int | str | None = None) -> pd.DataFrame:
        """Run ``text`` (DuckDB SQL) over the desensitized samples of the datasets approved for
        ``scenario`` (default: the workspace's): each is a table of its own name with only its
        approved columns. The same text runs unchanged in a job (``job.sql``) on raw data.

        Raises:
            InvalidRequest: the SQL cannot be parsed or names what is not there.
        """
        from sdk import sql

        approved = {d.name: d for d in self.datasets.list(scenario) if d.approved_columns}
        wanted = sql.tables_in(text)
        names = sorted(approved if wanted is None else wanted & set(approved))
        con = sql.connect()
        try:
            for name in names:  # the catalog entries listed above: one call each, the sample
                con.register(name, approved[name].sample(scenario))
            sql.confine(con, [])  # the samples, and no file
            return sql.run(con, text, sorted(approved))
        finally:
            con.close()

    def statement(self, month: str, format: str = "csv") -> str:
        """The company's statement of ``month`` (YYYY-MM), as CSV or HTML."""
        return self.client.statement(month, format)

    def me(self) -> dict:
        """Who the platform sees: username, company group and scenarios."""
        return self.client.me()

    def data_list(self) -> ResourceList:
        """The company's data-list items and their decisions (pending, approved, …)."""
        return ResourceList(
            self.client.data_list(),
            ["#", "场景 Scenario", "数据集 Dataset", "列 Columns", "审定 Decision", "理由 Reason"],
            lambda i: (
                i["id"], i["scenario"], i["dataset"], ", ".join(i["columns"]), i["decision"],
                i["reason"] or "",
            ),
            "数据清单 / Data list",
        )  # fmt: skip

    def _repr_html_(self) -> str:
        me = self.me()
        return html.table(
            ["用户 User", "单位 Company", "场景 Scenarios"],
            [(me["username"], me["tenant"], ", ".join(s["name"] for s in me["scenarios"]))],
        )
