"""Where the MPC engine's Python lives.

SPU needs numpy < 2 and jax <= 0.4.34, so :mod:`privacy.compute` runs in an environment of its own
(``.venv-spu``, built by ``make deps`` from ``privacy/spu.lock``); nodes and the hub start it as a
separate interpreter. This module is imported from the platform venv too: stdlib only.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def spu_python() -> Path:
    """The interpreter of the SPU environment: ``$SHUYU_SPU_PYTHON``, else ``<repo>/.venv-spu``."""
    override = os.environ.get("SHUYU_SPU_PYTHON")
    if override:
        return Path(override)
    return REPO / ".venv-spu" / "bin" / "python"
