"""External data a processor brings in (集成外部数据): checked, reviewed, then a dataset of its own.

The frozen upload (CSV or Parquet) is read into a frame for the checks (format, size, the PII scan
of exports). Once approved it is written as Parquet to the domain store and catalogued as a dataset
of the importing tenant's scenario only: its identifying columns (found by the detectors) are
masked in samples like any other, and jobs of that scenario read it raw.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db.models import DataListItem, Dataset, Decision, Department, Request
from hub.i18n import Msg
from hub.refusals import BadRequest
from hub.review.checks import FAIL, PASS, Finding
from hub.store import of as store_of

FORMATS = ("csv", "parquet")
IMPORTS_DEPARTMENT = "加工使用主体导入数据 / processor imports"
_SLUG = re.compile(r"[^a-z0-9_]+")


def read(content: bytes, fmt: str) -> pd.DataFrame:
    """The upload as a frame; a file that is not what it says → BadRequest."""
    bad = Msg(f"文件不是有效的 {fmt.upper()}", f"the file is not valid {fmt.upper()}")
    if fmt not in FORMATS:
        raise BadRequest(Msg(f"只接受 {', '.join(FORMATS)} 文件", f"only {', '.join(FORMATS)} files are accepted"), "format")  # fmt: skip
    try:
        if fmt == "csv":
            frame = pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=True)
        else:
            frame = pd.read_parquet(io.BytesIO(content))
    except Exception:  # noqa: BLE001 - any parse failure is the same refusal
        raise BadRequest(bad, "format") from None
    if frame.empty or len(frame.columns) == 0:
        raise BadRequest(Msg("文件没有数据", "the file holds no data"), "format")
    if len(set(map(str, frame.columns))) != len(frame.columns):
        raise BadRequest(Msg("列名重复", "column names repeat"), "format")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def format_finding(frame: pd.DataFrame, fmt: str) -> Finding:
    return Finding(
        "format", PASS,
        Msg(f"{fmt.upper()}：{len(frame)} 行 × {len(frame.columns)} 列", f"{fmt.upper()}: {len(frame)} rows × {len(frame.columns)} columns"),
        {"columns": list(frame.columns), "rows": len(frame)},
    )  # fmt: skip


def failed_format(error: BadRequest) -> Finding:
    return Finding("format", FAIL, error.msg)


def dataset_name(request: Request) -> str:
    slug = _SLUG.sub("_", request.name.lower()).strip("_")[:40] or "data"
    return f"ext{request.id}_{slug}"


def _schema(frame: pd.DataFrame) -> list[dict]:
    from hub.masking.detectors import detect_column
    from hub.masking.sample import PII_ENTITIES

    kind_of = {entity: kind for kind, entity in PII_ENTITIES.items()}
    schema = []
    for name in frame.columns:
        found = detect_column(frame[name])
        kind = frame[name].dtype.kind
        schema.append({
            "name": name, "title": name, "quasi": False, "mask": None,
            "type": "int" if kind in "iu" else "float" if kind == "f" else "string",
            "pii": kind_of.get(found.entity) if found else None,
        })  # fmt: skip
    return schema


def install(s: Session, request: Request, store: Path, approver: str) -> Dataset:
    """Catalog an approved import as a dataset of its scenario (raw Parquet in the store)."""
    frame = read(Path(request.content_path).read_bytes(), request.meta.get("format", "csv"))
    department = s.scalars(select(Department).where(Department.name == IMPORTS_DEPARTMENT)).first()
    if department is None:
        department = Department(name=IMPORTS_DEPARTMENT)
        s.add(department)
        s.flush()
    path = f"imports/{request.id}.parquet"
    (store / "imports").mkdir(parents=True, exist_ok=True, mode=0o700)
    frame.to_parquet(store / path, index=False)
    domain = store_of(store)
    domain.put(path, keep=not domain.remote)  # on S3, the object store holds it
    dataset = Dataset(
        name=dataset_name(request), title=request.name[:200], department_id=department.id,
        schema=_schema(frame), level=request.level, path=path, rows=len(frame),
    )  # fmt: skip
    s.add(dataset)
    s.flush()
    s.add(
        DataListItem(
            scenario_id=request.scenario_id, dataset_id=dataset.id, columns=list(frame.columns),
            decision=Decision.APPROVED, decided_by=approver, reason=f"import request #{request.id}",
        )
    )  # fmt: skip
    return dataset
