"""A node's own tables: ``DIR/*.csv`` and ``DIR/*.parquet``, named by file stem.

pandas (and pyarrow for Parquet) are imported only here and only when a table is read, so the
rest of :mod:`privacy` stays importable from the platform's environment. Key columns are read as
text, so an identifier like ``007`` keeps its zeros.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas

SUFFIXES = (".csv", ".parquet")
SCHEMA_ROWS = 10_000


class TableError(ValueError):
    """A table or column that does not exist or cannot be read (bilingual message)."""


def tables(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(Path(folder).iterdir()) if Path(folder).is_dir() else []:
        if path.suffix.lower() in SUFFIXES and path.is_file() and path.stem not in found:
            found[path.stem] = path
    return found


def _read(
    path: Path,
    columns: list[str] | None = None,
    text: tuple[str, ...] = (),
    rows: int | None = None,
):
    import pandas as pd

    try:
        if path.suffix.lower() == ".parquet":
            frame = pd.read_parquet(path, columns=columns)
            for column in text:
                frame[column] = frame[column].astype(str)
            return frame
        return pd.read_csv(path, usecols=columns, dtype={c: str for c in text}, nrows=rows)
    except (OSError, ValueError, ImportError) as e:
        raise TableError(f"无法读取数据表 / cannot read the table {path.name}: {e}") from e


def schema(path: Path) -> dict[str, str]:
    """Column → dtype name (never a value); a CSV's types are inferred from its first rows."""
    if path.suffix.lower() == ".parquet":
        try:
            import pyarrow.parquet as pq

            return {f.name: str(f.type) for f in pq.read_schema(path)}
        except ImportError:
            pass
    return {str(c): str(t) for c, t in _read(path, rows=SCHEMA_ROWS).dtypes.items()}


def columns_of(path: Path) -> set[str]:
    if path.suffix.lower() == ".csv":
        return {str(c) for c in _read(path, rows=0).columns}
    return set(schema(path))


def load(path: Path, key: str, columns: tuple[str, ...] | list[str]) -> pandas.DataFrame:
    """The key column (as text) and ``columns``, in that order; TableError if one is missing."""
    wanted = [key, *[c for c in columns if c != key]]
    have = columns_of(path)
    missing = [c for c in wanted if c not in have]
    if missing:
        raise TableError(
            f"数据表 {path.stem} 缺少列 / the table {path.stem} has no column(s): "
            f"{', '.join(missing)}"
        )
    return _read(path, wanted, (key,))[wanted]


def check(path: Path, key: str, columns: tuple[str, ...] | list[str]) -> None:
    """TableError unless the table has the key and every column (reads the schema only)."""
    have = columns_of(path)
    missing = [c for c in [key, *columns] if c not in have]
    if missing:
        raise TableError(
            f"数据表 {path.stem} 缺少列 / the table {path.stem} has no column(s): "
            f"{', '.join(missing)}"
        )
