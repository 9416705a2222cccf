"""Production rules as ``jupyterhub_config.py`` sets them (``PRODUCTION_RULES``, handed to the
services as ``SHUYU_PRODUCTION_RULES``, JSON): job limits, auto-approval, publishing bounds."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class ProductionRules:
    # Scenario categories whose jobs are approved without a person when every check passes.
    auto_approve: tuple[str, ...] = ("public-governance",)
    max_cpus: float = 2.0
    max_memory_gb: float = 4.0
    max_seconds: int = 3600
    max_output_gb: float = 1.0
    max_bundle_bytes: int = 20 << 20
    max_files: int = 500
    concurrent_jobs: int = 1
    mia_max_auc: float = 0.6  # a model whose membership-inference AUC is above this is blocked
    max_import_bytes: int = 200 << 20
    max_query_records: int = 1000  # records one product query may score
    model_min_support: int = 5  # training rows behind each entry of a published lookup table
    # Product keys (a consumer's key, per product): calls a minute, records (or keys) a day, and
    # records looked up by key in a day after which the key's use is reported as a sweep.
    product_calls_per_minute: int = 60
    product_records_per_day: int = 10_000
    product_sweep_keys_per_day: int = 2_000

    def __post_init__(self) -> None:
        object.__setattr__(self, "auto_approve", tuple(self.auto_approve))
        if not (0.5 <= self.mia_max_auc <= 1 and self.max_cpus > 0 and self.max_seconds > 0):
            raise ValueError("mia_max_auc in [0.5, 1], max_cpus and max_seconds positive")
        limits = (self.model_min_support, self.product_calls_per_minute,
                  self.product_records_per_day, self.product_sweep_keys_per_day)  # fmt: skip
        if min(limits) < 1:
            raise ValueError("model_min_support and the product key limits must be at least 1")


def parse(text: str) -> ProductionRules:
    """The rules named in ``text`` (JSON object); an unknown name is an error."""
    values = json.loads(text or "{}")
    if not isinstance(values, dict):
        raise ValueError("production rules must be a JSON object")
    known = {f.name for f in fields(ProductionRules)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(
            f"unknown production rules: {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})"
        )
    return ProductionRules(**values)
