"""Joint statistics: counts, sums and means per group over the join, computed under MPC.

Each node one-hot encodes its own group columns over the aligned rows (``A`` at rank 0, ``B`` at
rank 1; a single all-ones column when it groups by nothing) and multiplies its own measures into
them in plaintext: ``L = [A | A*v | A*n ...]`` at rank 0, ``R = [B | B*v | B*n ...]`` at rank 1
(``v`` a measure with nulls as 0, ``n`` its not-null indicator). One secret matrix product
``Lᵀ R`` then holds every count, sum and not-null count per (rank-0 group, rank-1 group) cell.
Small cells are zeroed inside MPC, so rank 0 never sees a suppressed count even in memory; only
the masked table and the number of suppressed cells are opened, to rank 0 alone.

Rank 1 tells rank 0 the labels of its groups (they are the result's row labels), except for
groups smaller than ``min_group`` in the intersection: every cell of theirs is suppressed anyway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from privacy.compute.errors import ComputeError
from privacy.compute.session import Session, runtime_config
from privacy.spec import Computation

SIDE_OF_RANK = ("public", "party")


@dataclass(frozen=True)
class Plan:
    group_by: list[tuple[str, str]]
    measures: list[tuple[str, str, str]]
    min_group: int

    @classmethod
    def of(cls, spec: Computation) -> Plan:
        p = spec.params
        return cls(
            [tuple(g) for g in p.get("group_by", [])],
            [tuple(m) for m in p["measures"]],
            int(p["min_group"]),
        )

    def groups_of(self, side: str) -> list[str]:
        return [c for s, c in self.group_by if s == side]

    def measure_columns_of(self, side: str) -> list[str]:
        seen: list[str] = []
        for s, c, _ in self.measures:
            if s == side and c not in seen:
                seen.append(c)
        return seen


def _encode(
    rows: pd.DataFrame, groups: list[str], measures: list[str]
) -> tuple[np.ndarray, list[tuple[Any, ...]]]:
    """``[A | A*v1 | A*n1 | ...]`` and the label tuple of each column of ``A``."""
    if groups:
        columns = [rows[c].astype(object).where(rows[c].notna(), None).map(_plain) for c in groups]
        keyed = list(zip(*(c.tolist() for c in columns), strict=True))
        labels = sorted(set(keyed), key=lambda t: [(v is None, str(v)) for v in t])
        position = {label: i for i, label in enumerate(labels)}
        codes = np.fromiter((position[t] for t in keyed), dtype=np.int64, count=len(keyed))
        onehot = np.zeros((len(rows), len(labels)))
        onehot[np.arange(len(rows)), codes] = 1.0
    else:
        labels = [()]
        onehot = np.ones((len(rows), 1))
    blocks = [onehot]
    for column in measures:
        values = pd.to_numeric(rows[column], errors="coerce")
        if values.isna().sum() > rows[column].isna().sum():
            raise ComputeError(f"统计列须为数值 / a measure must be numeric: {column}")
        present = values.notna().to_numpy(dtype=float)
        blocks.append(onehot * values.fillna(0.0).to_numpy(dtype=float)[:, None])
        blocks.append(onehot * present[:, None])
    return np.concatenate(blocks, axis=1), labels


def compute(session: Session, spec: Computation, rows: pd.DataFrame) -> dict[str, Any]:
    plan = Plan.of(spec)
    rank = session.rank
    side = SIDE_OF_RANK[rank]
    own, labels = _encode(rows, plan.groups_of(side), plan.measure_columns_of(side))
    if rank == 1:
        # Labels of groups too small to ever be released stay with the party.
        sizes = own[:, : len(labels)].sum(axis=0)
        labels = [
            lab if size >= plan.min_group else None for lab, size in zip(labels, sizes, strict=True)
        ]
    shape_0, shape_1 = (
        json.loads(x) for x in sorted_by_rank(session, json.dumps([len(labels), own.shape[1]]))
    )
    g0, w0 = shape_0
    g1, w1 = shape_1
    n = len(rows)
    k = plan.min_group
    m0 = (w0 // g0 - 1) // 2
    m1 = (w1 // g1 - 1) // 2

    def program(left, right):
        import jax.numpy as jnp

        product = left.T @ right
        counts = product[:g0, :g1]
        keep = counts > (k - 0.5)
        suppressed = jnp.sum((counts > 0.5) & ~keep)
        cells = [counts]
        for j in range(m0):
            a = g0 * (1 + 2 * j)
            cells.append(product[a + g0 * 0 : a + g0, :g1])
            cells.append(product[a + g0 : a + 2 * g0, :g1])
        for j in range(m1):
            b = g1 * (1 + 2 * j)
            cells.append(product[:g0, b : b + g1])
            cells.append(product[:g0, b + g1 : b + 2 * g1])
        masked = jnp.stack([jnp.where(keep, c, 0.0) for c in cells])
        return masked, keep, suppressed

    left = session.share(0, own if rank == 0 else None, "stats_left")
    right = session.share(1, own if rank == 1 else None, "stats_right")
    del own
    outputs, _ = session.run(program, [left, right], [np.zeros((n, w0)), np.zeros((n, w1))])
    party_labels = session.exchange(json.dumps(labels if rank == 1 else None).encode())
    opened = session.reveal(outputs)
    session.drop([left, right, *outputs])
    if rank != 0:
        return {"rows": n}
    assert opened is not None
    masked, keep, suppressed = opened
    return _table(plan, labels, json.loads(party_labels), masked, keep.astype(bool), suppressed)


def sorted_by_rank(session: Session, mine: str) -> list[str]:
    """``[rank 0's value, rank 1's value]`` on both nodes."""
    other = session.exchange(mine.encode()).decode()
    return [mine, other] if session.rank == 0 else [other, mine]


def _table(
    plan: Plan,
    public_labels: list[tuple[Any, ...]],
    party_labels: list[list[Any] | None],
    masked: np.ndarray,
    keep: np.ndarray,
    suppressed: Any,
) -> dict[str, Any]:
    public_groups = plan.groups_of("public")
    party_groups = plan.groups_of("party")
    names = {("public", c): c for c in public_groups} | {("party", c): c for c in party_groups}
    if len(set(names.values())) < len(names):
        names = {key: f"{key[0]}.{key[1]}" for key in names}
    columns = [names[(s, c)] for s, c in plan.group_by] + ["count"]
    columns += [f"{agg}_{column}" for _, column, agg in plan.measures]

    measure_slots: dict[tuple[str, str], int] = {}
    slot = 1
    for side in ("public", "party"):
        for column in plan.measure_columns_of(side):
            measure_slots[(side, column)] = slot
            slot += 2

    rows = []
    for i, j in zip(*np.nonzero(keep), strict=True):
        party_label = party_labels[j]
        if party_label is None:  # cannot happen: those cells are below min_group
            continue
        by_side = {("public", c): v for c, v in zip(public_groups, public_labels[i], strict=True)}
        by_side |= {("party", c): v for c, v in zip(party_groups, party_label, strict=True)}
        count = int(round(float(masked[0, i, j])))
        row: list[Any] = [_plain(by_side[(s, c)]) for s, c in plan.group_by] + [count]
        for side, column, agg in plan.measures:
            s = measure_slots[(side, column)]
            total = float(masked[s, i, j])
            present = int(round(float(masked[s + 1, i, j])))
            if agg == "count":
                row.append(present)
            elif agg == "sum":
                row.append(total)
            else:
                row.append(total / present if present else None)
        rows.append(row)
    rows.sort(key=lambda r: [(v is None, str(v)) for v in r[: len(plan.group_by)]])
    return {"columns": columns, "rows": rows, "suppressed_groups": int(round(float(suppressed)))}


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def config():
    """FM128 with 40 fraction bits: sums over a million rows keep cents exact and never wrap."""
    return runtime_config("FM128", 40)
