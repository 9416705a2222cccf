"""What the consoles' JSON routes take and answer, as pydantic models (the document shows their
schemas; the handlers' query is validated against them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from hub.web.api_models import DROPPED, Answer, Inputs

Filter = Annotated[
    str | None, Field(default=None, max_length=200, pattern=f"^[^{DROPPED}]*$")
]  # fmt: skip
ISO_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$"  # fmt: skip


def _a_time(value: str | None) -> str | None:
    """Refuse a date or time of the right shape that is none (the 31st of February)."""
    if value is not None:
        datetime.fromisoformat(value)
    return value


Bound = Annotated[
    str | None,
    Field(default=None, pattern=ISO_TIME, description="An ISO date or date-time (inclusive)"),
    AfterValidator(_a_time),
]


class AuditExportQuery(Inputs):
    format: Literal["csv", "json"] = Field("csv", description="CSV, or JSON with the checkpoint")
    tenant: Filter = Field(None, description="A tenant group (tenant-…)")
    actor: Filter = Field(None, description="Who acted")
    action: Filter = Field(None, description="An action, or the start of one (request.)")
    since: Bound = None
    until: Bound = None


class AuditRow(Answer):
    """One audit event, with the hashes that chain it to the one before."""

    id: int
    ts: str
    actor: str
    tenant: str
    action: str
    object: str
    outcome: str
    reason: str
    details: str = Field(description="The event's details as the JSON text that was hashed")
    prev_hash: str
    hash: str


class Checkpoint(Answer):
    """The signed head of the chain when the file was made."""

    id: int
    hash: str
    ts: str
    mac: str


class AuditExport(Answer):
    """Every matching event, oldest first, with the filters and the signed checkpoint."""

    events: list[AuditRow]
    filters: dict[str, str]
    checkpoint: Checkpoint | None


class ModelSummary(Answer):
    """What a reviewer sees of a frozen ONNX model (``shuyu-onnx/1``): never the file itself."""

    task: str = Field(description="classification or regression")
    target: str
    features: list[str]
    inputs: list[dict] = Field(description="{name, type, shape} per graph input")
    outputs: list[dict] = Field(description="{name, type, shape} per graph output")
    operators: dict[str, int] = Field(description="nodes per operator (domain.name)")
    trees: int
    max_depth: int
    categories: dict[str, list[str]] = Field(description="labels the graph matches, per feature")
    class_labels: list[str]
    opset: dict[str, int]
    producer: str
    bytes: int
    key: dict | None
    threshold: float
