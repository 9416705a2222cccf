"""Training jobs before they run: the code bundle, the requested resources, the automated checks.

A job request's frozen content is a tar archive of the files the processor named (its hash is the
code hash in the lineage); its metadata names the entrypoint, the datasets, the parameters and the
resources. Checks: the bundle is sound and holds the entrypoint, every dataset is approved for the
scenario, the resources are within the rules, and the code's syntax tree stays within an allow-list
(:mod:`hub.production.codescan`); what goes beyond it is a warning, so a person reviews the job
even where a production rule would approve it.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path, PurePosixPath

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db.models import DataListItem, Dataset, Decision
from hub.i18n import Msg
from hub.production import codescan
from hub.production.rules import ProductionRules
from hub.refusals import BadRequest
from hub.review.checks import FAIL, PASS, WARN, Finding
from spawner.job_policy import ENGINES, SPARK_PIDS, JobLimits, safe_entrypoint

RESOURCE_KEYS = {"cpus", "memory_gb", "seconds", "engine", "workers"}


def approved_datasets(s: Session, scenario_id: int) -> dict[str, Dataset]:
    """The datasets the scenario is approved for, by name."""
    found = s.scalars(
        select(Dataset)
        .join(DataListItem, DataListItem.dataset_id == Dataset.id)
        .where(DataListItem.scenario_id == scenario_id, DataListItem.decision == Decision.APPROVED)
    )
    return {d.name: d for d in found}


def approved_columns(s: Session, scenario_id: int) -> dict[str, tuple[Dataset, list[str]]]:
    """Each approved dataset of the scenario with the columns its data list approved."""
    items = s.scalars(
        select(DataListItem).where(
            DataListItem.scenario_id == scenario_id, DataListItem.decision == Decision.APPROVED
        )
    )
    return {i.dataset.name: (i.dataset, list(i.columns)) for i in items}


def limits(resources: dict, rules: ProductionRules) -> JobLimits:
    """The job's limits from the requested ``resources``; out of range or unknown → BadRequest."""
    if not isinstance(resources, dict) or set(resources) - RESOURCE_KEYS:
        raise BadRequest(
            Msg(f"资源只能指定 {sorted(RESOURCE_KEYS)}", f"resources may name only {sorted(RESOURCE_KEYS)}"),
            "resources",
        )  # fmt: skip
    try:
        cpus = float(resources.get("cpus", 1))
        memory_gb = float(resources.get("memory_gb", 2))
        seconds = int(resources.get("seconds", 600))
    except (TypeError, ValueError):
        raise BadRequest(Msg("资源须为数字", "resources must be numbers"), "resources") from None
    if not (0 < cpus <= rules.max_cpus and 0 < memory_gb <= rules.max_memory_gb
            and 0 < seconds <= rules.max_seconds):  # fmt: skip
        raise BadRequest(
            Msg(f"资源超出上限（CPU ≤ {rules.max_cpus}，内存 ≤ {rules.max_memory_gb} GB，时长 ≤ {rules.max_seconds} 秒）",
                f"resources over the limits (cpus ≤ {rules.max_cpus}, memory ≤ {rules.max_memory_gb} GB, "
                f"seconds ≤ {rules.max_seconds})"),
            "resources",
        )  # fmt: skip
    engine, workers = engine_of(resources, memory_gb, rules)
    return JobLimits(
        cpus=cpus,
        memory_bytes=int(memory_gb * 1024**3),
        seconds=seconds,
        output_bytes=int(rules.max_output_gb * 1024**3),
        scratch_bytes=int(rules.scratch_gb * 1024**3),
        engine=engine,
        workers=workers,
        **({"pids": SPARK_PIDS} if engine == "spark" else {}),
    )


def engine_of(resources: dict, memory_gb: float, rules: ProductionRules) -> tuple[str, int]:
    """The engine a job asked for (``duckdb`` by default) and its Spark workers (0 for DuckDB);
    an unknown engine, a worker count out of range or too little memory → BadRequest."""
    engine = resources.get("engine", "duckdb")
    if engine not in ENGINES:
        shown = engine if isinstance(engine, str) else type(engine).__name__
        raise BadRequest(
            Msg(f"未知的计算引擎 {shown[:40]!r}（可选：{'、'.join(ENGINES)}）",
                f"unknown engine {shown[:40]!r} (choose one of: {', '.join(ENGINES)})"),
            "resources",
        )  # fmt: skip
    if engine == "duckdb":
        if "workers" in resources:
            raise BadRequest(Msg("只有 Spark 作业可指定 workers", "only a Spark job takes workers"), "resources")  # fmt: skip
        return engine, 0
    workers = resources.get("workers", rules.max_spark_workers)
    if (
        not isinstance(workers, int)
        or isinstance(workers, bool)
        or not 1 <= workers <= rules.max_spark_workers
    ):
        raise BadRequest(
            Msg(f"Spark 工作节点数须为 1 至 {rules.max_spark_workers} 的整数",
                f"Spark workers must be a whole number from 1 to {rules.max_spark_workers}"),
            "resources",
        )  # fmt: skip
    if memory_gb < rules.spark_min_memory_gb:
        raise BadRequest(
            Msg(f"Spark 作业至少需要 {rules.spark_min_memory_gb} GB 内存（memory_gb）",
                f"a Spark job needs at least {rules.spark_min_memory_gb} GB of memory (memory_gb)"),
            "resources",
        )  # fmt: skip
    return engine, workers


def read_bundle(content: bytes, rules: ProductionRules) -> dict[str, bytes]:
    """The files of a bundle (a tar archive of regular files at safe relative paths)."""
    bad = Msg(
        "代码包须为只含普通文件的 tar 归档", "the code bundle must be a tar archive of plain files"
    )
    if len(content) > rules.max_bundle_bytes:
        raise BadRequest(Msg(f"代码包超过 {rules.max_bundle_bytes} 字节", f"the code bundle is over {rules.max_bundle_bytes} bytes"), "bundle")  # fmt: skip
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(content), mode="r:*") as tar:
            for member in tar:
                path = PurePosixPath(member.name)
                if not member.isfile() or path.is_absolute() or ".." in path.parts:
                    raise BadRequest(bad, "bundle")
                total += member.size
                if len(files) >= rules.max_files or total > rules.max_bundle_bytes * 4:
                    raise BadRequest(Msg("代码包文件过多或过大", "the code bundle holds too many or too large files"), "bundle")  # fmt: skip
                files[str(path)] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError):
        raise BadRequest(bad, "bundle") from None
    if not files:
        raise BadRequest(Msg("代码包为空", "the code bundle is empty"), "bundle")
    return files


def unpack(files: dict[str, bytes], dest: Path) -> None:
    for name, data in files.items():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def validate(meta: dict, approved: dict[str, Dataset], rules: ProductionRules) -> None:
    """Refuse at submit what can never pass: a bad entrypoint, an unapproved dataset, resources."""
    try:
        safe_entrypoint(str(meta.get("entrypoint", "")))
    except ValueError:
        raise BadRequest(Msg("入口须为代码包中的 .py 文件", "the entrypoint must be a .py file of the bundle"), "entrypoint") from None  # fmt: skip
    datasets = meta.get("datasets")
    if (
        not isinstance(datasets, list)
        or not datasets
        or not all(isinstance(d, str) for d in datasets)
    ):
        raise BadRequest(
            Msg("请列出作业使用的数据集", "name the datasets the job uses"), "datasets"
        )
    missing = sorted(set(datasets) - set(approved))
    if missing:
        raise BadRequest(
            Msg(f"场景未获准使用数据集：{', '.join(missing)}", f"the scenario is not approved for: {', '.join(missing)}"),
            "dataset_not_approved",
        )  # fmt: skip
    if not isinstance(meta.get("params", {}), dict):
        raise BadRequest(Msg("参数须为 JSON 对象", "params must be a JSON object"), "params")
    limits(meta.get("resources") or {}, rules)


def checks(
    content: bytes, meta: dict, approved: dict[str, Dataset], rules: ProductionRules
) -> list[Finding]:
    """The automated checks of a job request (reviewers see each with its reason)."""
    findings = []
    try:
        files = read_bundle(content, rules)
        entry = safe_entrypoint(str(meta.get("entrypoint", "")))
        ok = entry in files
        findings.append(Finding(
            "bundle", PASS if ok else FAIL,
            Msg(f"代码包含 {len(files)} 个文件，入口 {entry}", f"{len(files)} files, entrypoint {entry}")
            if ok else Msg(f"代码包中没有入口 {entry}", f"the bundle lacks the entrypoint {entry}"),
            {"files": sorted(files), "bytes": sum(map(len, files.values()))},
        ))  # fmt: skip
    except (BadRequest, ValueError) as e:
        files = {}
        findings.append(
            Finding("bundle", FAIL, getattr(e, "msg", Msg("代码包无效", "invalid bundle")))
        )
    missing = sorted(set(meta.get("datasets") or []) - set(approved))
    findings.append(Finding(
        "datasets", FAIL if missing else PASS,
        Msg(f"未获准：{', '.join(missing)}", f"not approved: {', '.join(missing)}") if missing
        else Msg("所有数据集均已获准", "every dataset is approved for the scenario"),
        {"datasets": meta.get("datasets") or []},
    ))  # fmt: skip
    try:
        lim = limits(meta.get("resources") or {}, rules)
        findings.append(Finding("resources", PASS, Msg("资源在上限内", "resources within the limits"),
                                {"cpus": lim.cpus, "memory_bytes": lim.memory_bytes, "seconds": lim.seconds}))  # fmt: skip
    except BadRequest as e:
        findings.append(Finding("resources", FAIL, e.msg))
    problems = codescan.scan_bundle(files)
    findings.append(Finding(
        "code_scan", WARN if problems else PASS,
        codescan.reason(problems) if problems
        else Msg("代码均在自动批准的允许范围内", "the code stays within what may be approved automatically"),
        {"outside": [p.as_dict() for p in problems[:200]], "count": len(problems),
         "kinds": sorted({p.kind for p in problems})},
    ))  # fmt: skip
    return findings
