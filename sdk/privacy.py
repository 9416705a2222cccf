"""Privacy computing with an outside party's node (a bank, an insurer): ``ws.privacy``.

::

    ws.privacy.parties()                                   # the company's parties and their tables
    bank = ws.privacy.stand_in("某银行", dataset="enterprise_registry", key="uscc")  # develop here
    c = ws.privacy.stats(dataset="enterprise_registry", key="uscc", party="某银行",
                         party_columns=["overdue"], group_by=["industry"],
                         measures=[("overdue", "mean")], purpose="…")
    c.wait()            # checks → review → the party's approval → both nodes compute (progress)
    c.result()          # the released table (a DataFrame), after the export checks

The party's data never comes here, nor does the public raw data go there: the two nodes compute
under MPC, and only the result comes back — after a platform reviewer and the party approved the
computation and the result passed the export checks. What the notebook develops against is the
public sample and :meth:`PrivacyCollection.stand_in`, a synthetic table of the party's schema.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sdk import html
from sdk.errors import Conflict, InvalidRequest, NotFound, ShuyuError
from sdk.requests import Request
from sdk.resources import Collection, ResourceList
from sdk.statuses import RequestStatus as S

if TYPE_CHECKING:
    import pandas as pd

ENDED = (S.SUCCEEDED, S.FAILED, S.REJECTED, S.RETURNED, S.WITHDRAWN)
Key = str | tuple[str, str]


class Computation(Request):
    """One computation with a party: its review, the party's approval, the run, the result."""

    STEPS = (S.SUBMITTED, S.CHECKING, S.IN_REVIEW, S.APPROVED, S.RUNNING, "ended")
    DONE = ENDED

    @property
    def party_approval(self) -> str:
        """``not_proposed``, ``pending``, ``approved``, ``rejected`` (or ``unreachable``)."""
        return (self.attrs.get("party_approval") or {}).get("status", "not_proposed")

    @property
    def progress(self) -> dict | None:
        """While the nodes compute: ``{"phase", "fraction", "at"}``."""
        return self.attrs.get("progress")

    @property
    def withheld(self) -> list[dict]:
        """Why the result is held for a reviewer (``name``, ``reason_zh``, ``reason_en``)."""
        return self.attrs.get("withheld") or []

    def wait(
        self, timeout: float = 3600, interval: float = 2.0, progress: bool = True
    ) -> Computation:
        """Wait until the computation ended, showing its step and, while the nodes compute,
        their phase and fraction."""
        from tqdm.auto import tqdm

        bar = tqdm(total=100, desc=f"#{self.id}", disable=not progress, leave=True, unit="%")
        deadline = time.monotonic() + timeout
        steps = list(self.STEPS)
        try:
            while True:
                self.reload()
                status = self.status
                shown = self.progress if status == S.RUNNING else None
                if status in self.DONE:
                    bar.n = 100
                elif shown and shown.get("fraction") is not None:
                    bar.n = int(60 + 40 * max(0.0, min(1.0, shown["fraction"])))
                else:
                    bar.n = (
                        int(60 * (steps.index(status) + 1) / len(steps)) if status in steps else 0
                    )
                phase = f" · {shown['phase']}" if shown else ""
                bar.set_postfix_str(f"{status} · party {self.party_approval}{phase}")
                bar.refresh()
                if status in self.DONE:
                    return self
                if time.monotonic() > deadline:
                    raise ShuyuError(f"等待计算 #{self.id} 超时（{status}）",
                                     f"timed out waiting for computation #{self.id} ({status})",
                                     code="timeout")  # fmt: skip
                time.sleep(interval)
        finally:
            bar.close()

    def result(self) -> pd.DataFrame | dict:
        """The released result: a DataFrame for joint statistics, a dict for PSI
        (``intersection_size``) and training (``coef``, ``intercept``, ``metrics``, …).

        Raises:
            Conflict: the computation has not succeeded, or its result is held for a reviewer.
        """
        self.reload()
        if self.status != S.SUCCEEDED:
            raise Conflict(f"计算 #{self.id} 尚无结果（{self.status}）",
                           f"computation #{self.id} has no result ({self.status})",
                           code="no_result")  # fmt: skip
        released = self.attrs.get("result")
        if released is None:
            why = "; ".join(f"{w['name']}: {w['reason_en']}" for w in self.withheld)
            why_zh = "；".join(f"{w['name']}：{w['reason_zh']}" for w in self.withheld)
            raise Conflict(f"结果未通过导出检查，待审核员放行：{why_zh}",
                           f"the result is held for a reviewer (export checks): {why}",
                           code="withheld")  # fmt: skip
        if self.attrs.get("computation") == "stats":
            import pandas as pd

            return pd.DataFrame(released.get("rows") or [], columns=released.get("columns") or [])
        return released

    def lineage(self) -> dict:
        """Request → review → the party's approval → the released result."""
        return self.client.lineage(self.id)

    def _repr_html_(self) -> str:
        a = self.attrs
        rows = [("类型 Kind", a.get("computation")), ("参与方 Party", a.get("party")),
                ("参与方批准 Party approval", self.party_approval), ("状态 Status", a.get("status"))]  # fmt: skip
        if self.progress:
            rows.append(
                ("进度 Progress", f"{self.progress['phase']} {self.progress.get('fraction')}")
            )
        rows += [(f"暂扣 Withheld · {w['name']}", f"{w['reason_zh']} / {w['reason_en']}")
                 for w in self.withheld]  # fmt: skip
        return html.table(["", ""], rows, f"隐私计算 Computation #{a['id']} {a['name']}")


def _key(key: Key) -> tuple[str, str]:
    if isinstance(key, tuple | list) and len(key) == 2:
        return str(key[0]), str(key[1])
    return str(key), str(key)


def _side(column: Any, party_columns: list[str]) -> tuple[str, str]:
    """``(side, column)``: ``"party.x"``/``"public.x"``, a pair, or a name (a party column
    if listed in ``party_columns``, else a public one)."""
    if isinstance(column, tuple | list) and len(column) == 2:
        return str(column[0]), str(column[1])
    text = str(column)
    side, dot, name = text.partition(".")
    if dot and side in ("public", "party"):
        return side, name
    return ("party" if text in party_columns else "public"), text


def _measures(measures: Any, party_columns: list[str]) -> list[list[str]]:
    if isinstance(measures, dict):
        items = [(c, a) for c, aggs in measures.items()
                 for a in ([aggs] if isinstance(aggs, str) else aggs)]  # fmt: skip
    else:
        items = list(measures or [])
    out = []
    for item in items:
        if isinstance(item, str):
            item = (item, "sum")
        if len(item) == 3:
            out.append([str(item[0]), str(item[1]), str(item[2])])
        else:
            side, column = _side(item[0], party_columns)
            out.append([side, column, str(item[1])])
    return out


class PrivacyCollection(Collection):
    """Computations with the company's parties (each a request under review)."""

    resource = Computation

    def get(self, request_id: int) -> Computation:
        return self.prepare(self.client.computation(request_id))

    def parties(self) -> ResourceList:
        """The company's parties: id, name, status, certificate fingerprint, declared tables."""
        return ResourceList(
            self.client.parties(),
            ["ID", "名称 Name", "状态 Status", "数据表 Tables"],
            lambda p: (p["id"], p["name"], p["status"], "; ".join(
                f"{t}({', '.join(v['columns'])})" for t, v in p["tables"].items())),
            "参与方 / Parties",
        )  # fmt: skip

    def _party(self, party: str) -> dict:
        found = [p for p in self.client.parties() if party in (p["id"], p["name"])]
        if not found:
            raise NotFound(f"您的单位没有参与方 {party}", f"your company has no party {party}",
                           code="not_found")  # fmt: skip
        return found[0]

    def _create(
        self, spec: dict, purpose: str, scenario: int | str | None, name: str | None
    ) -> Computation:
        party = self._party(spec.pop("party"))
        spec["party"] = party["id"]
        view = self.client.create_computation(
            spec, purpose=purpose, scenario=scenario or self.default_scenario, name=name
        )
        return self.prepare(view)

    def psi(self, *, dataset: str, key: Key, party: str, reveal: str = "size", purpose: str,
            party_table: str | None = None, scenario: int | str | None = None,
            name: str | None = None) -> Computation:  # fmt: skip
        """The size of the intersection of ``dataset``'s keys with the party's (or, with
        ``reveal="ids-to-party"``, the intersection's keys for the party — reviewed closely)."""
        public_key, party_key = _key(key)
        spec = {"kind": "psi", "party": party, "dataset": dataset, "key": public_key,
                "party_key": party_key, "party_table": party_table, "params": {"reveal": reveal}}  # fmt: skip
        return self._create(spec, purpose, scenario, name)

    def stats(self, *, dataset: str, key: Key, party: str, party_columns: list[str],
              group_by: list | None = None, measures: Any = None, min_group: int = 10,
              purpose: str, party_table: str | None = None, scenario: int | str | None = None,
              name: str | None = None) -> Computation:  # fmt: skip
        """Counts, sums and means per group over the join of ``dataset`` and the party's table.

        ``group_by``: column names (a party column if in ``party_columns``, else public;
        ``"party.x"`` / ``"public.x"`` to be explicit). ``measures``: ``[(column, agg)]`` or
        ``{column: agg | [aggs]}`` with agg ``count``, ``sum`` or ``mean``. Groups under
        ``min_group`` rows are dropped (the platform's minimum cell count at least).
        """
        public_key, party_key = _key(key)
        party_columns = list(party_columns)
        groups = [list(_side(g, party_columns)) for g in group_by or []]
        measured = _measures(measures, party_columns)
        if not measured:
            raise InvalidRequest(
                "至少需要一个统计量", "at least one measure is needed", code="measures"
            )
        public = sorted({c for side, c, *_ in groups + measured if side == "public"})
        spec = {"kind": "stats", "party": party, "dataset": dataset, "key": public_key,
                "party_key": party_key, "party_table": party_table, "public_columns": public,
                "party_columns": party_columns,
                "params": {"group_by": groups, "measures": measured, "min_group": min_group}}  # fmt: skip
        return self._create(spec, purpose, scenario, name)

    def train(self, *, dataset: str, key: Key, party: str, features: list[str], party_label: str,
              model: str = "logistic", purpose: str, params: dict | None = None,
              party_table: str | None = None, scenario: int | str | None = None,
              name: str | None = None) -> Computation:  # fmt: skip
        """Vertical training: ``features`` of ``dataset`` here, the label ``party_label`` on the
        party's side; ``model`` ``logistic`` or ``xgboost`` (``params``: epochs, learning_rate,
        trees, depth)."""
        public_key, party_key = _key(key)
        spec = {"kind": "train", "party": party, "dataset": dataset, "key": public_key,
                "party_key": party_key, "party_table": party_table,
                "public_columns": list(features), "party_columns": [party_label],
                "params": {**(params or {}), "features": list(features), "label": party_label,
                           "model": model}}  # fmt: skip
        return self._create(spec, purpose, scenario, name)

    def stand_in(self, party: str, table: str | None = None, rows: int = 200, *,
                 dataset: str | None = None, key: Key | None = None,
                 scenario: int | str | None = None, seed: int = 0) -> pd.DataFrame:  # fmt: skip
        """A synthetic table of the party's declared schema to develop against (its values are
        made up here; the party's are never seen). With ``dataset`` and ``key``, the key column
        is drawn from the public sample's (masked) keys — most rows match, some do not — so
        joins with the sample work in the notebook."""
        import numpy as np
        import pandas as pd

        found = self._party(party)
        tables = found["tables"]
        if not tables:
            raise Conflict("参与方尚未声明其数据结构", "the party has not declared its tables yet",
                           code="no_schema")  # fmt: skip
        table = table or (next(iter(tables)) if len(tables) == 1 else None)
        if table not in tables:
            raise InvalidRequest(f"请指明数据表，可选：{', '.join(tables)}",
                                 f"name a table, one of: {', '.join(tables)}", code="table")  # fmt: skip
        rng = np.random.default_rng(seed)
        columns: dict[str, Any] = {}
        for column, dtype in tables[table]["columns"].items():
            kind = str(dtype).lower()
            if kind.startswith(("int", "uint")):
                columns[column] = rng.integers(0, 100, rows)
            elif kind.startswith("float"):
                columns[column] = rng.normal(0, 1, rows).round(4)
            elif kind.startswith("bool"):
                columns[column] = rng.random(rows) < 0.5
            elif kind.startswith("datetime"):
                columns[column] = pd.Timestamp("2024-01-01") + pd.to_timedelta(
                    rng.integers(0, 365, rows), "D"
                )
            else:
                columns[column] = [f"{column}-{i % 7}" for i in rng.integers(0, 10**6, rows)]
        frame = pd.DataFrame(columns)
        if dataset and key:
            from sdk.catalog import DatasetCollection

            public_key, party_key = _key(key)
            sample = (
                DatasetCollection(self.client, self.default_scenario)
                .get(dataset, scenario)
                .sample(scenario)
            )
            keys = sample[public_key].dropna().astype(str).unique()
            if len(keys):
                drawn = rng.choice(keys, rows)
                unmatched = rng.random(rows) < 0.2
                drawn = np.where(unmatched, [f"X{i:08d}" for i in range(rows)], drawn)
                frame[party_key] = drawn
        frame.attrs["shuyu_stand_in"] = {"party": found["id"], "table": table}
        return frame

    def list(self) -> ResourceList:
        mine = [self.get(r["id"]) for r in self.client.requests() if r["kind"] == "privacy"]
        return ResourceList(
            mine, ["#", "类型 Kind", "参与方 Party", "状态 Status", "参与方批准 Party approval"],
            lambda c: (c.id, c.attrs.get("computation"), c.attrs.get("party"), c.status, c.party_approval),
            "隐私计算 / Privacy computations",
        )  # fmt: skip
