"""Desensitized samples over HTTP: admission, approval, build (cached), audit and metering.

A sample is fixed per (tenant, scenario, dataset) — :func:`hub.masking.sample.sample_rows` — so a
built one is cached and served again until anything it depends on changes: the approved columns,
the dataset's file or masking policy, the limits. Every sample served is audited and metered
(rows served, in the same transaction); a refusal is audited too, with its reason.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import select

from hub import audit
from hub.access import caller as callers
from hub.access.catalog_view import masking_of
from hub.access.origin import TenantNetworks
from hub.billing import meter
from hub.billing.meter import MeterKind
from hub.db.engine import Database
from hub.db.models import Dataset
from hub.i18n import Msg
from hub.masking.operators import MaskContext, derive_key
from hub.masking.sample import SampleLimits, build_sample, identifying_columns
from hub.ops import Ctx
from hub.ops.catalog import approved_columns, approved_item
from hub.refusals import BadRequest, NotApproved, NotFound, Refusal
from hub.store import of as store_of

FORMATS = {
    "arrow": "application/vnd.apache.arrow.stream",
    "parquet": "application/vnd.apache.parquet",
}
METER_KIND = MeterKind.MASKED_ROWS


@dataclass(frozen=True)
class Served:
    """A sample as sent: its encoded body and what the audit and meter record of it."""

    body: bytes
    media_type: str
    rows: int
    columns: tuple[str, ...]
    masked_cells: int
    suppressed: int
    rows_drawn: int
    scenario_id: int
    scenario: str
    sha256: str


@dataclass(frozen=True)
class _Plan:
    """What a sample call resolved to, read in one transaction."""

    caller: callers.Caller
    dataset: str
    path: str
    schema: list
    scenario_id: int
    scenario: str
    item_id: int | None
    columns: tuple[str, ...]


class SampleCache:
    """Encoded samples by what they depend on, least recently used out past ``max_bytes``."""

    def __init__(self, max_bytes: int = 256 << 20):
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, Served] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Served | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple, served: Served) -> None:
        with self._lock:
            if key in self._items or len(served.body) > self.max_bytes:
                return
            self._items[key] = served
            self._size += len(served.body)
            while self._size > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._size -= len(old.body)


class SampleService:
    """Serves samples of the datasets in the domain store ``store`` to admitted callers;
    thread-safe (the gateway calls it from a pool)."""

    def __init__(
        self,
        db: Database,
        store: Path,
        master_key: bytes,
        limits: SampleLimits = SampleLimits(),  # noqa: B008 - frozen
        cache: SampleCache | None = None,
        networks: TenantNetworks = callers.NO_NETWORKS,
    ):
        if not master_key:
            raise ValueError("the masking master key must be non-empty")
        self.db = db
        self.store = Path(store)
        self._master = master_key
        self.limits = limits
        self.cache = cache or SampleCache()
        self.networks = networks

    def sample(
        self,
        username: str,
        dataset: str,
        scenario: str | None = None,
        fmt: str = "arrow",
        peer: str | None = None,
    ) -> Served:
        """The caller's desensitized sample of ``dataset`` in ``scenario``, audited and metered;
        a :class:`Refusal` (audited) when the caller (calling from ``peer``) may not have it."""
        try:
            if fmt not in FORMATS:
                raise BadRequest(
                    Msg(
                        f"不支持的格式：{fmt}（可选：arrow、parquet）",
                        f"unsupported format: {fmt} (arrow or parquet)",
                    )
                )
            plan = self._plan(username, dataset, scenario, peer)
            served = self._build(plan, fmt)
        except Refusal as refusal:
            self._record_refusal(username, dataset, scenario, refusal)
            raise
        self._record(plan, served, fmt)
        return served

    def _plan(self, username: str, dataset: str, scenario: str | None, peer: str | None) -> _Plan:
        with self.db.session() as s:
            caller = callers.admit(s, username, date.today(), peer, self.networks)
            ds = s.scalars(select(Dataset).where(Dataset.name == dataset)).first()
            if ds is None:
                raise NotFound(Msg(f"数据集不存在：{dataset}", f"unknown dataset: {dataset}"))
            if ds.prohibited:
                raise NotApproved(
                    Msg(f"{dataset} 属于禁止开放的数据", f"{dataset} may never be authorized")
                )
            found = callers.scenario(s, caller, scenario, dataset)
            ctx = Ctx(session=s, actor=username)
            columns = approved_columns(ctx, found, dataset)
            if not columns:
                raise NotApproved(
                    Msg(
                        f"场景 {found.name} 未获准使用数据集 {dataset}（或授权已撤销）",
                        f"scenario {found.name} is not approved for dataset {dataset} "
                        "(or the approval was revoked)",
                    )
                )
            item = approved_item(ctx, found, dataset)
            return _Plan(
                caller=caller,
                dataset=ds.name,
                path=str(store_of(self.store).fetch(ds.path)),  # read through the domain store
                schema=ds.schema,
                scenario_id=found.id,
                scenario=found.name,
                item_id=item.id if item is not None else None,
                columns=tuple(columns),
            )

    def _key(self, plan: _Plan, fmt: str) -> tuple:
        try:
            version = Path(plan.path).stat().st_mtime_ns
        except OSError:
            version = None
        policy = json.dumps(plan.schema, sort_keys=True, ensure_ascii=False, default=str)
        return (
            plan.caller.tenant,
            plan.scenario_id,
            plan.dataset,
            plan.path,
            version,
            plan.columns,
            policy,
            self.limits,
            fmt,
        )

    def _build(self, plan: _Plan, fmt: str) -> Served:
        key = self._key(plan, fmt)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        import pyarrow.parquet as pq

        try:
            # the approved columns, and the identifying ones free text is scrubbed of (hub-side)
            needed = [*plan.columns, *identifying_columns(plan.schema)]
            raw = pq.read_table(plan.path, columns=list(dict.fromkeys(needed)))
        except OSError:
            raise Refusal(
                Msg(
                    "数据集文件暂不可用，请稍后再试",
                    "the dataset's file is unavailable; retry later",
                ),
                "dataset_unavailable",
            ) from None
        tenant, scenario = plan.caller.tenant, str(plan.scenario_id)
        sample = build_sample(
            raw,
            plan.schema,
            list(plan.columns),
            tenant=tenant,
            scenario=scenario,
            dataset=plan.dataset,
            ctx=MaskContext(key=derive_key(self._master, tenant, scenario)),
            limits=self.limits,
        )
        by_name = {c["name"]: c for c in plan.schema}
        meta = {
            "dataset": plan.dataset,
            "scenario": plan.scenario,
            "scenario_id": plan.scenario_id,
            "rows_drawn": sample.rows_drawn,
            "suppressed": sample.suppressed,
            "k": self.limits.k,
            "masking": {c: masking_of(by_name.get(c, {})) for c in sample.frame.columns},
        }
        body = encode(sample.frame, fmt, meta)
        served = Served(
            body=body,
            media_type=FORMATS[fmt],
            rows=len(sample.frame),
            columns=tuple(sample.frame.columns),
            masked_cells=sample.masked_cells,
            suppressed=sample.suppressed,
            rows_drawn=sample.rows_drawn,
            scenario_id=plan.scenario_id,
            scenario=plan.scenario,
            sha256=hashlib.sha256(body).hexdigest(),
        )
        self.cache.put(key, served)
        return served

    def _record(self, plan: _Plan, served: Served, fmt: str) -> None:
        with self.db.session() as s:
            audit.append(
                s,
                "gateway.sample",
                actor=plan.caller.username,
                tenant=plan.caller.tenant,
                object=plan.dataset,
                details={
                    "scenario": plan.scenario,
                    "scenario_id": plan.scenario_id,
                    "item": plan.item_id,
                    "columns": list(served.columns),
                    "rows": served.rows,
                    "rows_drawn": served.rows_drawn,
                    "suppressed": served.suppressed,
                    "masked_cells": served.masked_cells,
                    "format": fmt,
                    "sha256": served.sha256,
                },
            )
            meter.record(
                s,
                plan.caller.tenant_id,
                METER_KIND,
                served.rows,
                {"dataset": plan.dataset, "masked_cells": served.masked_cells},
                actor=plan.caller.username,
                scenario=plan.scenario_id,
            )

    def _record_refusal(
        self, username: str, dataset: str, scenario: str | None, refusal: Refusal
    ) -> None:
        with self.db.session() as s:
            audit.append(
                s,
                "gateway.sample",
                actor=username,
                object=dataset[:200],
                outcome="denied",
                reason=refusal.code,
                details={"scenario": scenario, "message": str(refusal.msg)},
            )


def encode(frame, fmt: str, meta: dict) -> bytes:
    """The frame as an Arrow IPC stream or a Parquet file, with ``meta`` in the schema's
    metadata under ``shuyu``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = dict(table.schema.metadata or {})
    metadata[b"shuyu"] = json.dumps(meta, ensure_ascii=False).encode()
    table = table.replace_schema_metadata(metadata)
    sink = io.BytesIO()
    if fmt == "parquet":
        pq.write_table(table, sink)
    else:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    return sink.getvalue()
