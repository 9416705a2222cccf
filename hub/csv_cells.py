"""CSV cells a spreadsheet cannot run: formula injection is neutralised at export.

Audit trails and statements carry text that tenants and users chose (object names, reasons,
scenario names, a user agent). Opened in a spreadsheet, a cell such as ``=HYPERLINK(...)`` or
``@SUM(...)`` is a formula that can send the sheet's contents away or run a command (DDE). Every
text cell that a spreadsheet would read as a formula gets a leading apostrophe (OWASP's advice),
which spreadsheets show as text and a reader strips off; numbers stay numbers. The check looks
through the spellings a spreadsheet forgives: leading spaces and control or zero-width
characters, and full-width or small forms of ``= + - @`` (compared after NFKC).
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

TRIGGERS = frozenset("=+-@")
LEADING_CONTROLS = frozenset("\t\r\n")


def _starts_like_formula(text: str) -> bool:
    if text[:1] in LEADING_CONTROLS:
        return True
    normalised = unicodedata.normalize("NFKC", text)
    for ch in normalised:
        if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf"):
            continue  # skipped by spreadsheets (or invisible): look at what follows
        return ch in TRIGGERS
    return False


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell no spreadsheet evaluates: text that would start a formula gets a
    leading ``'``; numbers, ``None`` and harmless text are returned unchanged."""
    if isinstance(value, str) and value and _starts_like_formula(value):
        return "'" + value
    return value


def rows_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text of ``header`` and ``rows``, every cell passed through :func:`safe_cell`."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([safe_cell(h) for h in header])
    w.writerows([safe_cell(v) for v in row] for row in rows)
    return out.getvalue()


def dicts_text(fields: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV text of mappings (columns ``fields``), every cell passed through :func:`safe_cell`."""
    return rows_text(fields, ([row.get(f) for f in fields] for row in rows))
