"""Automated disclosure checks: a plug-in family run on a request's frozen content.

Each check is a function ``(frame, context) -> Finding`` registered by name with
:func:`register`; a finding has a verdict (``pass``, ``warn`` or ``fail``) and a plain-language,
bilingual reason. A ``fail`` blocks approval unless a reviewer overrides it with a written reason.
The same checks run in the SDK's preflight (on the processor's side, before anything is sent)
and on the platform's side after submission.
"""

from __future__ import annotations

import time
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


def run_all(frame: pd.DataFrame, context: Context, names: list[str] | None = None) -> list[Finding]:
    """Every registered check (or ``names``) on ``frame`` (its index included as columns); a
    check that crashes is a ``fail`` naming the crash, never a pass."""
    from hub.review.checks import (  # noqa: F401 - register
        differencing,
        limits,
        overlap,
        pii,
        records,
        sdc,
        values,
    )

    unknown = set(names or ()) - set(CHECKS)
    if unknown:
        raise KeyError(f"no such checks: {sorted(unknown)}")
    frame = flat(frame)
    values.forget()  # the columns' canonical text is shared by the checks of this one run
    out = []
    for name in names or list(CHECKS):
        start = time.perf_counter()
        try:
            finding = CHECKS[name](frame, context)
        except Exception as e:  # noqa: BLE001 - reported as a failing check
            finding = Finding(
                name,
                FAIL,
                Msg(
                    f"检查未能完成：{type(e).__name__}",
                    f"the check could not run: {type(e).__name__}",
                ),
            )
        out.append(
            Finding(finding.name, finding.verdict, finding.reason, finding.details,
                    round(time.perf_counter() - start, 3))
        )  # fmt: skip
    values.forget()
    return out


def worst(findings: list[Finding]) -> str:
    return max((f.verdict for f in findings), key=ORDER.__getitem__, default=PASS)
