"""Shuyu processor SDK: a pure HTTP + pandas client of the data gateway. Imports nothing from ``hub``.

::

    from sdk import Workspace
    ws = Workspace()
    ws.datasets.list()
    df = ws.datasets.get("medical_visits").sample()
    request = ws.exports.create(result, purpose="...").wait()
    request.download("result.parquet")
"""

from sdk.catalog import Dataset, Scenario
from sdk.errors import (
    AccessDenied,
    Conflict,
    InvalidRequest,
    NotApproved,
    NotFound,
    PlatformUnavailable,
    RateLimited,
    ShuyuError,
)
from sdk.requests import Request
from sdk.workspace import Workspace

__all__ = [
    "AccessDenied",
    "Conflict",
    "Dataset",
    "InvalidRequest",
    "NotApproved",
    "NotFound",
    "PlatformUnavailable",
    "RateLimited",
    "Request",
    "Scenario",
    "ShuyuError",
    "Workspace",
]
