"""The meter: every metered use of the platform is recorded here, as one :class:`MeterKind`.

Fee statements (:mod:`hub.billing.statements`) price the events by their kind
(:data:`hub.billing.prices.PRICED`); a kind is either priced there or listed as free, so a new
kind cannot be metered without a decision on what it costs.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from hub.db.models import MeterEvent


class MeterKind(StrEnum):
    """What was used. The value is what the ``meter_events.kind`` column holds."""

    CONTAINER_SECONDS = "container_seconds"  # a workspace's running time, with its cpus and memory
    JOB_SECONDS = "job_seconds"  # a training job's running time, with its cpus
    MASKED_ROWS = "masked_rows"  # desensitized sample rows served
    MODEL_PUBLISH = "model_publish"  # a model published as a product
    EXPORT_DOWNLOAD = "export_download"  # an approved export downloaded (the first is priced)
    PRODUCT_QUERY = "product_query"  # records a published product answered for


def record(
    s: Session,
    tenant: int,
    kind: MeterKind,
    quantity: int,
    details: dict[str, Any] | None = None,
    *,
    actor: str,
    scenario: int | None = None,
) -> MeterEvent:
    """Add one meter event to the session (in the transaction of its audit event).

    Args:
        s: The session; the event is committed with it.
        tenant: The id of the tenant the use is billed to.
        kind: What was used.
        quantity: How much, in the kind's unit (seconds, rows, calls, …).
        details: What prices and statements need besides (cpus, whether a download is the first).
        actor: Who used it.
        scenario: The id of the scenario it was used under, if any.

    Returns:
        The event added.
    """
    event = MeterEvent(
        tenant_id=tenant,
        scenario_id=scenario,
        actor=actor,
        kind=MeterKind(kind).value,
        quantity=quantity,
        details=dict(details or {}),
    )
    s.add(event)
    return event
