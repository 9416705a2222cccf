"""The statuses a request moves through, shared by the platform's lifecycle, its consoles and
the SDK (the SDK imports nothing from the platform, so the platform imports this from here).

    draft ─submit→ submitted ─→ checking ─→ in_review ─approve×N→ approved ─download→ released
                                                     ├─reject→ rejected
                                                     └─return→ returned
    draft, submitted, checking, in_review, returned ─withdraw→ withdrawn

After approval a job runs (``running → succeeded | failed``), a model is ``published`` and an
import ``imported``.
"""

from __future__ import annotations

from enum import StrEnum


class RequestStatus(StrEnum):
    """Where a request stands; the value is what the database and the API carry."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    CHECKING = "checking"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    RETURNED = "returned"
    WITHDRAWN = "withdrawn"
    RELEASED = "released"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PUBLISHED = "published"
    IMPORTED = "imported"

    @property
    def is_open(self) -> bool:
        """Still in the requester's or the reviewers' hands: it may be withdrawn."""
        return self in OPEN


OPEN = frozenset(
    {
        RequestStatus.DRAFT,
        RequestStatus.SUBMITTED,
        RequestStatus.CHECKING,
        RequestStatus.IN_REVIEW,
        RequestStatus.RETURNED,
    }
)
