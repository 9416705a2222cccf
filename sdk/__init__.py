"""Shuyu processor SDK: a pure HTTP + pandas client of the data gateway. Imports nothing from ``hub``.

::

    from sdk import Workspace
    ws = Workspace()
    ws.datasets.list()
    df = ws.datasets.get("medical_visits").sample()
"""

from sdk.errors import (
    AccessDenied,
    InvalidRequest,
    NotApproved,
    NotFound,
    PlatformUnavailable,
    ShuyuError,
)
from sdk.models import Dataset, Scenario
from sdk.workspace import Workspace

__all__ = [
    "AccessDenied",
    "Dataset",
    "InvalidRequest",
    "NotApproved",
    "NotFound",
    "PlatformUnavailable",
    "Scenario",
    "ShuyuError",
    "Workspace",
]
