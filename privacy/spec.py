"""What one privacy computation is, as both nodes and the party's approval see it.

A :class:`Computation` is frozen at submission; its :meth:`~Computation.digest` is what the
reviewer's approval and the party's signature are bound to, so a node that is handed anything else
refuses to compute.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("psi", "stats", "train")
SIDES = ("public", "party")
AGGREGATES = ("count", "sum", "mean")
MODELS = ("logistic", "xgboost")
REVEALS = ("size", "ids-to-party")
MAX_TREES, MAX_DEPTH = 20, 3  # secret-shared boosting: what the MPC engine runs in reasonable time
FORMAT = "shuyu-privacy/1"


class SpecError(ValueError):
    """A computation spec that is malformed (bilingual message)."""


@dataclass(frozen=True)
class Computation:
    """One computation between the platform node and one party node.

    ``params`` by kind:

    - ``psi``: ``{"reveal": "size" | "ids-to-party"}``
    - ``stats``: ``{"group_by": [[side, column], ...], "measures": [[side, column, agg], ...],
      "min_group": k}`` — counts, sums and means per group over the join on the key
    - ``train``: ``{"features": [public columns], "label": party column, "model": "logistic" |
      "xgboost", "epochs": int, "learning_rate": float, "trees": int, "depth": int}``
    """

    request_id: int
    kind: str
    party: str  # the party's id (``p-…``)
    tenant: str
    public_dataset: str
    public_key: str
    public_columns: tuple[str, ...]  # columns of the public side used, key excluded
    party_table: str
    party_key: str
    party_columns: tuple[str, ...]  # columns of the party side used, key excluded
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SpecError(f"未知的计算类型 / unknown computation kind: {self.kind!r}")
        object.__setattr__(self, "public_columns", tuple(self.public_columns))
        object.__setattr__(self, "party_columns", tuple(self.party_columns))
        _check_params(self.kind, self.params, self.public_columns, self.party_columns)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["public_columns"] = list(self.public_columns)
        data["party_columns"] = list(self.party_columns)
        return {"format": FORMAT, **data}

    def canonical(self) -> bytes:
        """The bytes the digest and the party's signature cover (sorted keys, no spaces)."""
        return json.dumps(
            self.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()

    def digest(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Computation:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise SpecError("计算描述格式不符 / not a shuyu-privacy/1 computation")
        fields = {k: v for k, v in data.items() if k != "format"}
        try:
            return cls(**fields)
        except TypeError as e:
            raise SpecError(f"计算描述字段不符 / computation fields do not match: {e}") from e

    @classmethod
    def from_json(cls, text: str | bytes) -> Computation:
        try:
            data = json.loads(text)
        except ValueError as e:
            raise SpecError("计算描述不是 JSON / computation is not JSON") from e
        return cls.from_dict(data)


def _check_params(
    kind: str, params: dict[str, Any], public: tuple[str, ...], party: tuple[str, ...]
) -> None:
    """Refuse params that name a column outside the computation's own column lists."""
    owned = {"public": set(public), "party": set(party)}

    def owned_by(side: str, column: str) -> None:
        if side not in SIDES or column not in owned[side]:
            raise SpecError(f"列不在本次计算中 / column not in this computation: {side}.{column}")

    if kind == "psi":
        if params.get("reveal") not in REVEALS:
            raise SpecError(f"reveal 须为 {REVEALS} / reveal must be one of {REVEALS}")
    elif kind == "stats":
        for side, column in params.get("group_by", []):
            owned_by(side, column)
        measures = params.get("measures", [])
        if not measures:
            raise SpecError("至少需要一个统计量 / at least one measure is needed")
        for side, column, agg in measures:
            owned_by(side, column)
            if agg not in AGGREGATES:
                raise SpecError(f"统计量须为 {AGGREGATES} / aggregate must be one of {AGGREGATES}")
        if int(params.get("min_group", 0)) < 1:
            raise SpecError("min_group 须为正整数 / min_group must be a positive integer")
    elif kind == "train":
        if params.get("model") not in MODELS:
            raise SpecError(f"模型须为 {MODELS} / model must be one of {MODELS}")
        features = params.get("features") or []
        if not features:
            raise SpecError("至少需要一个特征 / at least one feature is needed")
        for column in features:
            owned_by("public", column)
        owned_by("party", params.get("label", ""))
