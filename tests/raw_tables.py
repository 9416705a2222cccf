"""Raw tables as the domain store holds them, for the export checks' tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hub.demo.datasets import generate, get_spec
from hub.review.checks import RawSource


def medical_visits(folder: Path, rows: int = 2000, seed: int = 3) -> tuple[pd.DataFrame, RawSource]:
    """A raw medical_visits table written to ``folder``, and the checks' view of it (its
    identifying and quasi-identifying columns)."""
    frame = generate("medical_visits", rows, seed=seed)
    path = folder / "medical_visits.parquet"
    frame.to_parquet(path)
    spec = get_spec("medical_visits")
    source = RawSource(
        "medical_visits",
        str(path),
        tuple(c.name for c in spec.columns if c.pii not in (None, "free_text", "name")),
        tuple(c.name for c in spec.columns if c.quasi),
    )
    return frame, source
