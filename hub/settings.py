"""The platform's rules as one frozen, strictly validated settings model.

``jupyterhub_config.py`` declares the rule sets (``SAMPLE_LIMITS``, ``REVIEW_RULES``,
``PRODUCTION_RULES``, ``PRICE_BOOK``), :func:`build` validates them once at startup and
:func:`document` turns them into one JSON document, handed to every service in one environment
variable (``SHUYU_SETTINGS``); each service calls :func:`load` once. Defaults live here only:
a rule the configuration leaves out takes the model's default, an unknown key or a value of the
wrong type is refused with its name and section (:class:`SettingsError`), so a typo cannot
silently keep a default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.i18n import Msg

ENV = "SHUYU_SETTINGS"
_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)


class SettingsError(ValueError):
    """Settings that cannot be used; the message (Chinese and English) names each offending key
    and its section, and is safe to show to a person."""

    def __init__(self, msg: Msg):
        super().__init__(str(msg))
        self.msg = msg


class SampleLimits(BaseModel):
    """Desensitized samples: at most ``max_rows`` rows and ``max_fraction`` of a table; quasi-
    identifiers shared by fewer than ``k`` sampled rows are suppressed."""

    model_config = _STRICT

    max_rows: int = Field(10_000, ge=1)
    max_fraction: float = Field(0.05, gt=0, le=1)
    k: int = Field(5, ge=1)


class Policy(BaseModel):
    """Review policy: requests at this classification level or above need two reviewers."""

    model_config = _STRICT

    two_person_level: int = 3


class Limits(BaseModel):
    """Thresholds of the automated export checks."""

    model_config = _STRICT

    min_count: int = Field(10, ge=1)  # smallest frequency a released cell may have
    # (n, k): the n largest contributors may not make up k % of a cell; the SDK sends each
    # cell's two largest contributions, so n is 1 or 2.
    dominance_n: int = Field(2, ge=1, le=2)
    dominance_k: float = Field(0.9, gt=0, le=1)
    p_percent: float = Field(0.1, gt=0, lt=1)  # the rest must exceed p % of the largest
    max_rows: int = Field(1_000_000, ge=1)
    max_bytes: int = Field(200 << 20, ge=1)
    quasi_k: int = Field(5, ge=1)  # raw quasi-identifier combinations rarer than this re-identify


class ReviewRules(BaseModel):
    """Export review: the policy (who must approve) and the checks' thresholds."""

    model_config = _STRICT

    policy: Policy = Policy()
    checks: Limits = Limits()


class ProductionRules(BaseModel):
    """Production zone: training jobs' limits, auto-approval, publishing and product-key bounds."""

    model_config = _STRICT

    # Scenario categories whose jobs are approved without a person when every check passes.
    auto_approve: tuple[str, ...] = Field(("public-governance",), strict=False)
    max_cpus: float = Field(2.0, gt=0)
    max_memory_gb: float = Field(4.0, gt=0)
    max_seconds: int = Field(3600, gt=0)
    max_output_gb: float = Field(1.0, gt=0)
    # Each job's disk-backed scratch folder, where DuckDB spills what does not fit its memory.
    scratch_gb: float = Field(4.0, gt=0)
    # Jobs that ask for engine="spark": workers of their own cluster, and the memory its JVMs
    # (master, workers, executors, driver) need at least.
    max_spark_workers: int = Field(2, ge=1, le=16)
    spark_min_memory_gb: float = Field(3.0, gt=0)
    max_bundle_bytes: int = Field(20 << 20, ge=1)
    max_files: int = Field(500, ge=1)
    concurrent_jobs: int = Field(1, ge=1)
    # A model whose membership-inference AUC is above this is not published.
    mia_max_auc: float = Field(0.6, ge=0.5, le=1)
    max_import_bytes: int = Field(200 << 20, ge=1)
    max_query_records: int = Field(1000, ge=1)  # records one product query may score
    model_min_support: int = Field(5, ge=1)  # training rows behind each category of a model
    model_max_bytes: int = Field(50 << 20, ge=1, le=50 << 20)  # a published ONNX model's size
    # Product keys (a consumer's key, per product): calls a minute, records (or keys) a day, and
    # records looked up by key in a day after which the key's use is reported as a sweep.
    product_calls_per_minute: int = Field(60, ge=1)
    product_records_per_day: int = Field(10_000, ge=1)
    product_sweep_keys_per_day: int = Field(2_000, ge=1)
    # The consumer API's largest request body (1,000 records of a few features fit in 1 MiB).
    consumer_max_body_bytes: int = Field(1 << 20, ge=1024, le=64 << 20)


class PrivacyRules(BaseModel):
    """The platform's privacy-computing node (:mod:`hub.privacy`): where it listens for party
    nodes (HOST:PORT, written into every party's bundle as the platform's address), the network
    namespace its processes run in (``ip netns exec``; empty: the host's), and the Python of the
    SPU environment that runs ``python -m privacy`` (empty: ``privacy.environment.spu_python()``).
    """

    model_config = _STRICT

    privacy_listen: str = Field(
        "127.0.0.1:9470", pattern=r"^[^\s:]+:[0-9]{1,5}$|^\[[0-9a-fA-F:.]+\]:[0-9]{1,5}$"
    )
    privacy_netns: str = Field("", pattern=r"^[A-Za-z0-9_.-]{0,64}$")
    privacy_python: str = ""
    # Seconds a computation waits for the party's approval once a reviewer approved it.
    privacy_wait_approval: int = Field(600, ge=0, le=7 * 24 * 3600)
    max_features: int = Field(50, ge=1)  # public features of one vertical training


class Rates(BaseModel):
    """One scenario category's prices, every item required (see :mod:`hub.billing.prices`)."""

    model_config = _STRICT

    container_cpu_hour: float = Field(ge=0)
    container_memory_gb_hour: float = Field(ge=0)
    job_cpu_hour: float = Field(ge=0)
    masked_rows_10k: float = Field(ge=0)
    model_publish: float = Field(ge=0)
    export: float = Field(ge=0)


FREE = Rates(container_cpu_hour=0, container_memory_gb_hour=0, job_cpu_hour=0,
             masked_rows_10k=0, model_publish=0, export=0)  # fmt: skip


class UnitCaps(BaseModel):
    """The highest price (CNY) of one product category per unit: a call, 10,000 records, a
    month."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)

    call: float = Field(ge=0)
    records_10k: float = Field(ge=0, alias="10k_records")
    month: float = Field(ge=0)


class ProductCaps(BaseModel):
    """Guided price caps of data products, per category."""

    model_config = _STRICT

    scoring: UnitCaps = UnitCaps(call=0.5, records_10k=800.0, month=20_000.0)
    verification: UnitCaps = UnitCaps(call=0.2, records_10k=300.0, month=8_000.0)


class Prices(BaseModel):
    """The price book: rates by scenario category (industry at the government-guided price,
    public governance free under the programme's condition)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, validate_by_name=True, validate_by_alias=True
    )

    currency: str = "CNY"
    industry: Rates = Rates(
        container_cpu_hour=0.5,
        container_memory_gb_hour=0.1,
        job_cpu_hour=2.0,
        masked_rows_10k=1.0,
        model_publish=200.0,
        export=50.0,
    )
    public_governance: Rates = Field(FREE, alias="public-governance")
    # The government-guided cap on what an industry consumer pays for a product, by product
    # category and unit (see hub.production.registry); public-governance products are free.
    product_caps: ProductCaps = ProductCaps()
    conditions: dict[str, str] = Field(
        default_factory=lambda: {
            "public-governance": "公共治理场景在批准用途内免费 / free within the approved public-governance use"
        }
    )


MIN_RETENTION_DAYS = 183  # six months: the national rules' floor for network and audit logs


class Retention(BaseModel):
    """How long audit events and access logs stay in the platform's database: at least six
    months (``MIN_RETENTION_DAYS``), three years unless configured; older events may be moved to
    an archive (``shuyu audit archive``) that carries their chain hashes."""

    model_config = _STRICT

    audit_days: int = Field(3 * 365, ge=MIN_RETENTION_DAYS)


class Settings(BaseModel):
    """Every rule set of the platform, as one value."""

    model_config = _STRICT

    sample_limits: SampleLimits = SampleLimits()
    review_rules: ReviewRules = ReviewRules()
    production_rules: ProductionRules = ProductionRules()
    price_book: Prices = Prices()
    privacy: PrivacyRules = PrivacyRules()
    retention: Retention = Retention()


def build(**config: Any) -> Settings:
    """The settings from the rule sets ``jupyterhub_config.py`` declares (``sample_limits=``,
    ``review_rules=``, ``production_rules=``, ``price_book=``, ``privacy=``, ``retention=``; each a plain dict).

    Raises:
        SettingsError: an unknown key or a bad value, named with its section.
    """
    try:
        return Settings.model_validate(config)
    except ValidationError as e:
        raise SettingsError(_explain(e)) from None


def document(settings: Settings) -> str:
    """The one JSON document every service receives (in ``SHUYU_SETTINGS``)."""
    return settings.model_dump_json(by_alias=True)


def load(environ: Mapping[str, str] = os.environ) -> Settings:
    """The settings handed to this process in ``SHUYU_SETTINGS``; absent, the defaults.

    Raises:
        SettingsError: the document is not valid settings.
    """
    text = environ.get(ENV, "")
    if not text:
        return Settings()
    try:
        return Settings.model_validate_json(text)
    except ValidationError as e:
        raise SettingsError(_explain(e)) from None


def configured(
    config_file: Path | None = None, environ: Mapping[str, str] = os.environ
) -> Settings:
    """The settings for a tool outside the hub (the ``shuyu`` CLI): ``SHUYU_SETTINGS`` if set,
    else the document ``jupyterhub_config.py`` hands its services, else the defaults."""
    if environ.get(ENV):
        return load(environ)
    from traitlets.config.loader import PyFileConfigLoader

    from hub import home

    config_file = config_file or home.CHECKOUT / "jupyterhub_config.py"
    if config_file.exists():
        config = PyFileConfigLoader(config_file.name, path=str(config_file.parent)).load_config()
        for service in config.JupyterHub.get("services", []):
            environment = service.get("environment") or {}
            if environment.get(ENV):
                return load(environment)
    return Settings()


# Why a value was refused, in Chinese, by pydantic error type (English comes from pydantic).
_REASONS = {
    "extra_forbidden": "是未知设置",
    "missing": "缺失",
    "greater_than": "过小",
    "greater_than_equal": "过小",
    "less_than": "过大",
    "less_than_equal": "过大",
    "json_invalid": "不是有效的 JSON",
}


def _explain(error: ValidationError) -> Msg:
    """One bilingual line per problem, naming the key and its section; no stack trace."""
    zh, en = [], []
    for problem in error.errors(include_url=False):
        loc = [str(part) for part in problem["loc"]]
        key = loc[-1] if loc else "(document)"
        section = ".".join(loc[:-1]) or "settings"
        kind = problem["type"]
        if kind == "extra_forbidden":
            zh.append(f"{section} 中的 {key} 是未知设置")
            en.append(f"unknown setting {key} in {section}")
            continue
        if key == "audit_days" and kind == "greater_than_equal":
            zh.append(
                f"{section} 中的 {key} 过小：审计日志至少保留六个月（{MIN_RETENTION_DAYS} 天）"
            )
            en.append(
                f"{key} in {section} is too short: audit and access logs are kept at least six "
                f"months ({MIN_RETENTION_DAYS} days)"
            )
            continue
        reason = _REASONS.get(kind) or ("类型错误" if kind.endswith("_type") else "无效")
        zh.append(f"{section} 中的 {key} {reason}")
        en.append(f"bad value for {key} in {section}: {problem['msg']}")
    return Msg("设置有误：" + "；".join(zh), "invalid settings: " + "; ".join(en))
