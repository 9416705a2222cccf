"""Automated disclosure checks: a plug-in family run on a request's frozen content.

Each check is a function ``(frame, context) -> Finding`` registered by name with
:func:`register`; a finding has a verdict (``pass``, ``warn`` or ``fail``) and a plain-language,
bilingual reason. A ``fail`` blocks approval unless a reviewer overrides it with a written reason.
The same checks run in the SDK's preflight (on the processor's side, before anything is sent)
and on the platform's side after submission.
"""

from __future__ import annotations

import time

import pandas as pd

from hub.i18n import Msg
from hub.review.checks import (  # noqa: F401 - each registers its checks
    differencing,
    limits,
    overlap,
    pii,
    rawmatch,
    records,
    sdc,
    values,
)
from hub.review.checks.base import (
    CHECKS,
    FAIL,
    ORDER,
    PASS,
    WARN,
    Check,
    Context,
    Finding,
    Limits,
    RawSource,
    flat,
    register,
    worst,
)

__all__ = [
    "CHECKS", "FAIL", "ORDER", "PASS", "WARN", "Check", "Context", "Finding", "Limits", "Msg",
    "RawSource", "flat", "rawmatch", "register", "run_all", "values", "worst",
]  # fmt: skip


def run_all(frame: pd.DataFrame, context: Context, names: list[str] | None = None) -> list[Finding]:
    """Every registered check (or ``names``) on ``frame`` (its index included as columns); a
    check that crashes is a ``fail`` naming the crash, never a pass."""
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
