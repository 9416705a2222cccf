"""HTML tables for notebooks: every value escaped, headers in Chinese and English."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], caption: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    cap = f"<caption style='text-align:left'><b>{escape(caption)}</b></caption>" if caption else ""
    return f"<table class='shuyu'>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def masking_text(masking: dict | None) -> str:
    """``pseudonym``, ``mask(keep_prefix=3, keep_suffix=4)`` or ``—`` (served as it is)."""
    if not masking:
        return "—"
    params = ", ".join(f"{k}={v}" for k, v in sorted((masking.get("params") or {}).items()))
    return f"{masking['operator']}({params})" if params else masking["operator"]


def show(value: object) -> None:
    """Display ``value`` (an object with ``_repr_html_``, or an HTML string) in the notebook, if
    the code runs in one; elsewhere nothing is shown."""
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display
    except ImportError:
        return
    if get_ipython() is not None:
        display(HTML(value) if isinstance(value, str) else value)
