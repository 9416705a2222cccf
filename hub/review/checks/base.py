"""What every check shares: verdicts, the context a check reads, findings and the registry
(:func:`register`). The checks import this, never the package that runs them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from hub.i18n import Msg
from hub.settings import Limits

PASS, WARN, FAIL = "pass", "warn", "fail"
ORDER = {PASS: 0, WARN: 1, FAIL: 2}


@dataclass(frozen=True)
class RawSource:
    """A raw dataset the request's scenario may use: its file and its sensitive columns."""

    name: str
    path: str
    identifiers: tuple[str, ...]
    quasi: tuple[str, ...]


@dataclass
class Context:
    """What the checks compare a result against."""

    limits: Limits = field(default_factory=Limits)
    raw: tuple[RawSource, ...] = ()
    releases: tuple[pd.DataFrame, ...] = ()  # the tenant's earlier approved results
    table: dict[str, Any] = field(default_factory=dict)  # SDC stats sent with a table
    size_bytes: int = 0


@dataclass(frozen=True)
class Finding:
    name: str
    verdict: str
    reason: Msg
    details: dict = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "verdict": self.verdict,
            "reason": str(self.reason),
            "reason_zh": self.reason.zh,
            "reason_en": self.reason.en,
            "details": self.details,
        }


Check = Callable[[pd.DataFrame, Context], Finding]
CHECKS: dict[str, Check] = {}


def register(name: str) -> Callable[[Check], Check]:
    def decorate(fn: Check) -> Check:
        CHECKS[name] = fn
        return fn

    return decorate


def flat(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its index as columns: a Parquet file can carry an index (pandas restores
    it on reading), and what sits in an index leaves with the file as surely as a column."""
    index = frame.index
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return frame
    names = [f"(index {i})" if n is None else str(n) for i, n in enumerate(index.names)]
    return frame.reset_index(names=names, allow_duplicates=True)


def worst(findings: list[Finding]) -> str:
    """The most severe verdict of ``findings`` (``pass`` when there are none)."""
    return max((f.verdict for f in findings), key=ORDER.__getitem__, default=PASS)
