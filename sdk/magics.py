"""The ``%%sql`` cell magic: the cell's SQL over the desensitized samples, as ``ws.sql`` runs it.

::

    %%sql by_department
    SELECT department, count(*) AS n FROM medical_visits GROUP BY 1

The line may name a variable to hold the result and ``--scenario NAME`` (or ``-s``); the result
is shown as a table. Loaded in every workspace kernel (``%load_ext sdk.magics`` elsewhere).
"""

from __future__ import annotations

import shlex
from typing import Any

from sdk.errors import InvalidRequest

_workspace: Any = None


def parse(line: str) -> tuple[str | None, str | None]:
    """``(variable, scenario)`` from the magic's line.

    Raises:
        InvalidRequest: the line holds something else.
    """
    words, variable, scenario = shlex.split(line), None, None
    while words:
        word = words.pop(0)
        if word in ("-s", "--scenario") and words:
            scenario = words.pop(0)
        elif word.isidentifier() and variable is None:
            variable = word
        else:
            raise InvalidRequest(
                f"%%sql 的参数无法识别：{word}（用法：%%sql [变量名] [--scenario 场景]）",
                f"%%sql does not take {word!r} (usage: %%sql [variable] [--scenario NAME])",
                code="sql",
            )
    return variable, scenario


def sql(line: str, cell: str) -> Any:
    global _workspace
    from IPython import get_ipython

    variable, scenario = parse(line)
    if _workspace is None:
        from sdk.workspace import Workspace

        _workspace = Workspace()
    result = _workspace.sql(cell, scenario)
    if variable:
        get_ipython().user_ns[variable] = result
    return result


def load_ipython_extension(ipython) -> None:
    ipython.register_magic_function(sql, "cell", "sql")
