"""Training jobs, model publishing, products and imports — each a request under platform review.

::

    job = ws.jobs.submit("train.py", files=["train.py", "features.py"], datasets=["credit_records"],
                         params={"l2": 1.0}, resources={"cpus": 1, "memory_gb": 2, "seconds": 600},
                         purpose="信用评分模型训练").wait()
    job.metrics, print(job.log())          # released after disclosure checks
    model = ws.models.publish(job, product="credit-score", card={...}, purpose="...").wait()
    key = ws.products.issue_key("credit-score", consumer="某银行风控系统")
    ws.products.score("credit-score", key, records=[{...}])
    ws.imports.create("my_survey.csv", purpose="...").wait()

The job's code runs in the production zone on the full raw data, never here: this side sees only
what the platform releases (metrics with small counts suppressed, the log with personal data
masked, output names unless they hold personal data — then the platform's, ``output-3.parquet``).
What the release checks flag is withheld until a reviewer releases it: ``job.withheld`` says
where and why. Result tables leave only through an export request.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

from sdk import html
from sdk.errors import InvalidRequest, NotFound
from sdk.quotes import show_quote
from sdk.requests import Request, RequestCollection
from sdk.resources import Collection, Resource, ResourceList
from sdk.statuses import RequestStatus as S

SKIP = {"__pycache__", ".ipynb_checkpoints", ".git"}
ENDED = (S.SUCCEEDED, S.FAILED, S.REJECTED, S.RETURNED, S.WITHDRAWN)


def current_cell() -> str | None:
    """The message id of the notebook cell running now (links a request to the audited cell)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    header = getattr(shell, "parent_header", None) or {}
    return (header.get("header") or {}).get("msg_id")


def bundle(
    entrypoint: str, files: list[str | Path] | None, root: Path | None = None
) -> tuple[bytes, list[str]]:
    """A tar archive of ``files`` (folders recursively) relative to ``root``, with the entrypoint."""
    root = (root or Path.cwd()).resolve()
    names: dict[str, Path] = {}
    for item in [entrypoint, *(files or [])]:
        path = (root / item).resolve()
        if not path.exists():
            raise InvalidRequest(
                f"文件不存在：{item}", f"no such file: {item}", code="missing_file"
            )
        if not path.is_relative_to(root):
            raise InvalidRequest(f"文件须在 {root} 之内：{item}", f"files must be inside {root}: {item}", code="outside")  # fmt: skip
        for f in [path] if path.is_file() else sorted(path.rglob("*")):
            if f.is_file() and not SKIP & set(f.relative_to(root).parts):
                names[f.relative_to(root).as_posix()] = f
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, path in sorted(names.items()):
            info = tarfile.TarInfo(name)
            data = path.read_bytes()
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue(), sorted(names)


class Job(Request):
    """A training job: its review, then its run in the production zone."""

    STEPS = (S.SUBMITTED, S.CHECKING, S.IN_REVIEW, S.APPROVED, S.RUNNING, "ended")
    DONE = ENDED

    @property
    def metrics(self) -> dict | None:
        """The job's metrics as released (counts under the minimum are None)."""
        return (self.attrs.get("run") or {}).get("metrics")

    @property
    def outputs(self) -> list[dict]:
        """The job's outputs as released: ``{name, bytes (rounded), sha256}``; a name the release
        checks flagged is the platform's (``output-3.parquet``), and it is the name to export."""
        return (self.attrs.get("run") or {}).get("outputs") or []

    @property
    def withheld(self) -> list[dict]:
        """What of the job is withheld until a reviewer releases it: ``{ref, what, reason_zh,
        reason_en}`` (a log line, a metric or an output name, and why)."""
        return (self.attrs.get("run") or {}).get("withheld") or []

    def log(self) -> str:
        """The job's log with personal data masked; a withheld line reads as a notice."""
        return self.client.job_log(self.id)

    def export(self, output: str, purpose: str, name: str | None = None) -> Request:
        """Request the export of one result table (Parquet) the job wrote."""
        view = self.client.export_job_output(self.id, output=output, purpose=purpose, name=name)
        return RequestCollection(self.client, self.collection.default_scenario).prepare(view)

    def lineage(self) -> dict:
        """Cell → job → outputs → what came of them (models, exports, decisions)."""
        return self.client.lineage(self.id)

    def _repr_html_(self) -> str:
        rows = [(k, json.dumps(v, ensure_ascii=False)) for k, v in (self.metrics or {}).items()]
        rows += [(f"暂扣 Withheld · {w['ref']}", f"{w['reason_zh']} / {w['reason_en']}")
                 for w in self.withheld]  # fmt: skip
        return html.table(["指标 Metric", "值 Value"], rows, f"作业 Job #{self.id} · {self.status}")


class JobCollection(Collection):
    resource = Job

    def submit(
        self,
        entrypoint: str,
        *,
        datasets: list[str],
        purpose: str,
        files: list[str | Path] | None = None,
        params: dict[str, Any] | None = None,
        resources: dict[str, Any] | None = None,
        scenario: int | str | None = None,
        name: str | None = None,
        dry_run: bool = True,
        dry_run_timeout: float = 120,
        engine: str | None = None,
    ) -> Job:
        """Bundle ``entrypoint`` and ``files`` from the workspace and request a training run.

        ``engine="spark"`` runs the job with a Spark cluster of its own (``job.spark()``; its
        workers as ``resources={"workers": 2}``); DuckDB (``job.sql``) is the default. The
        platform checks the engine: an unknown one is refused, in Chinese and English.

        First the bundle runs here on the desensitized samples, as the production zone will run
        it on the raw data (:mod:`sdk.dryrun`): what it read and wrote is shown, and a failure
        stops the submission. ``dry_run=False`` skips it.

        Raises:
            InvalidRequest: the dry run failed or ran out of time; nothing was submitted.
        """
        content, names = bundle(entrypoint, files)
        if engine is not None:
            resources = {**(resources or {}), "engine": engine}
        if dry_run:
            from sdk.catalog import DatasetCollection
            from sdk.dryrun import dry_run as run_on_samples

            scenario_ref = str(scenario) if scenario is not None else self.default_scenario
            tried = run_on_samples(
                content, Path(entrypoint).as_posix(), DatasetCollection(self.client, scenario_ref),
                list(datasets), params or {}, scenario_ref, dry_run_timeout,
            )  # fmt: skip
            html.show(tried)
        show_quote(self.client, "job", scenario or self.default_scenario, resources)
        meta = {
            "entrypoint": Path(entrypoint).as_posix(), "datasets": list(datasets),
            "params": params or {}, "resources": resources or {}, "files": names, "cell": current_cell(),
        }  # fmt: skip
        view = self.client.submit_job(
            content, meta, purpose=purpose, scenario=scenario or self.default_scenario,
            name=name or Path(entrypoint).stem,
        )  # fmt: skip
        return self.prepare(view)

    def get(self, job_id: int) -> Job:
        return self.prepare(self.client.job(job_id))


class Publication(Request):
    """A model publishing request; once approved, a product."""

    STEPS = (S.SUBMITTED, S.CHECKING, S.IN_REVIEW, S.APPROVED, S.PUBLISHED)
    DONE = (S.PUBLISHED, S.REJECTED, S.RETURNED, S.WITHDRAWN)


class ModelCollection(Collection):
    resource = Publication

    def get(self, request_id: int) -> Publication:
        return self.prepare(self.client.request(request_id))

    def publish(
        self, job: Job | int, *, product: str, card: dict, purpose: str,
        artifact: str = "model.onnx", dataset: str | None = None,
    ) -> Publication:  # fmt: skip
        """Publish the ONNX model a job wrote (``job.save_model``) as ``product``, with its card."""
        job_id = job.id if isinstance(job, Job) else int(job)
        scenario = (job.attrs if isinstance(job, Job) else {}).get("scenario_id")
        scenario = scenario or self.client.job(job_id)["scenario_id"]
        show_quote(self.client, "model", str(scenario))
        spec = {"job": job_id, "product": product, "card": card, "artifact": artifact,
                "dataset": dataset, "cell": current_cell()}  # fmt: skip
        return self.prepare(self.client.publish_model(spec, purpose=purpose))


class Import(Request):
    STEPS = (S.SUBMITTED, S.CHECKING, S.IN_REVIEW, S.APPROVED, S.IMPORTED)
    DONE = (S.IMPORTED, S.REJECTED, S.RETURNED, S.WITHDRAWN)


class ImportCollection(Collection):
    resource = Import

    def get(self, request_id: int) -> Import:
        return self.prepare(self.client.request(request_id))

    def create(self, path: str | Path, *, purpose: str, name: str | None = None,
               scenario: int | str | None = None) -> Import:  # fmt: skip
        """Bring an external CSV or Parquet file into the scenario, after checks and review."""
        source = Path(path)
        fmt = "parquet" if source.suffix.lower() == ".parquet" else "csv"
        view = self.client.create_import(
            source.read_bytes(), purpose=purpose, name=name or source.stem, format=fmt,
            scenario=scenario or self.default_scenario,
        )  # fmt: skip
        return self.prepare(view)


class Registration(Request):
    """A product registration request; once approved, the product is registered (and live)."""

    STEPS = (S.SUBMITTED, S.CHECKING, S.IN_REVIEW, S.APPROVED, S.PUBLISHED)
    DONE = (S.PUBLISHED, S.REJECTED, S.RETURNED, S.WITHDRAWN, S.FAILED)


class RegistrationCollection(Collection):
    resource = Registration

    def get(self, request_id: int) -> Registration:
        return self.prepare(self.client.request(request_id))


class Product(Resource):
    """A product of the caller's company: a published model that consumers query with a key."""

    id_attribute = "name"


class ProductCollection(Collection):
    resource = Product

    def list(self) -> ResourceList:
        return ResourceList(
            [self.prepare(p) for p in self.client.products()],
            ["产品 Product", "场景 Scenario", "状态 Status", "密钥 Keys"],
            lambda p: (p.name, p.scenario, p.status, p.keys),
            "我单位的产品 / My company's products",
        )

    def get(self, name: str) -> Product:
        for product in self.list():
            if product.name == name:
                return product
        raise NotFound(f"您的单位没有产品 {name}", f"your company has no product {name}")

    def register(
        self, product: str, *, category: str, price: float, unit: str, processing: str,
        self_assessment: dict[str, str], purpose: str, title: str | None = None,
        model_card: dict | str | None = None,
    ) -> Registration:  # fmt: skip
        """Register ``product`` (公共数据资源登记) before it is listed; a new model or a new price
        is registered again as a new version. ``category`` is ``scoring`` or ``verification``;
        ``price`` is per ``unit`` (``call``, ``10k_records`` or ``month``; free for a
        public-governance scenario, at most the guided cap otherwise); ``self_assessment``
        answers ``data_security``, ``personal_information`` and ``compliance``. The platform
        adds what it knows (the data resources, the model and its checks); reviewers approve."""
        record = {"category": category, "price": price, "unit": unit, "processing": processing,
                  "self_assessment": self_assessment, "title": title, "model_card": model_card}  # fmt: skip
        view = self.client.register_product(product, record, purpose=purpose)
        return RegistrationCollection(self.client, self.default_scenario).prepare(view)

    def registrations(self, product: str) -> dict:
        """The product's issued registrations and the one in force (``None``: not live)."""
        return self.client.registrations(product)

    def issue_key(self, product: str, consumer: str, *, expires_at: str | None = None,
                  calls_per_minute: int | None = None, records_per_day: int | None = None) -> str:  # fmt: skip
        """A new key for ``consumer`` (shown once: keep it safe); optionally when it expires
        (ISO 8601) and its own limits (else the platform's)."""
        return self.client.issue_key(product, consumer, expires_at=expires_at,
                                     calls_per_minute=calls_per_minute,
                                     records_per_day=records_per_day)["key"]  # fmt: skip

    def keys(self, product: str) -> list[dict]:
        """The product's keys: prefix, consumer, expiry, revoked or stopped (never the key)."""
        return self.client.product_keys(product)

    def rotate_key(self, product: str, prefix: str, grace_seconds: int = 0) -> str:
        """A new key for the consumer of key ``prefix``; the old one stays valid
        ``grace_seconds`` (at most a day; 0: revoked at once). The new key is shown once."""
        return self.client.rotate_key(product, prefix, grace_seconds)["key"]

    def revoke_key(self, product: str, prefix: str) -> None:
        """Revoke the key ``prefix`` at once."""
        self.client.revoke_key(product, prefix)

    def consumers(self, month: str) -> dict:
        """Each consumer's calls of the company's products in ``month`` (YYYY-MM), charged at
        their registered prices: the same lines each consumer reads on its own statement."""
        return self.client.consumers(month)

    def _query(self, product: str, mode: str, key: str, records, keys, scenario) -> list:
        body = {"records": records} if records is not None else {"keys": keys}
        return self.client.query_product(product, mode, key, body, scenario=scenario)["answers"]

    def score(self, product: str, key: str, *, records: list[dict],
              scenario: str | None = None) -> list[float]:  # fmt: skip
        """Scores for ``records`` (the model's features). Identifiers are looked up only by
        :meth:`verify`: a score of one resident's record found by its ID is raw-derived data,
        and the platform refuses it (``score_by_key``).

        Raises:
            RateLimited: the key's calls a minute or records a day are used up.
        """
        return self._query(product, "score", key, records, None, scenario)

    def verify(self, product: str, key: str, *, records: list[dict] | None = None,
               keys: list[str] | None = None, scenario: str | None = None) -> list[bool]:  # fmt: skip
        """Yes/no answers (核验) for ``records`` or ``keys`` (a key the domain does not hold is a
        no, like any other).

        Raises:
            RateLimited: the key's calls a minute or records a day are used up.
        """
        return self._query(product, "verify", key, records, keys, scenario)
