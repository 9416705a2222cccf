"""SQL as data engineers write it, with DuckDB: in the workspace over the caller's desensitized
samples (:meth:`sdk.Workspace.sql`, the ``%%sql`` cell magic), in a job over the raw approved
columns (:func:`sdk.job.sql`). Each dataset is a table of its own name, holding only the columns
approved for the scenario, so the text written against the samples runs unchanged in the job.

DuckDB is imported when SQL first runs, never with the SDK. Its connections install and load no
extension (nothing is fetched from a network), and the workspace's cannot read files at all:
its tables are the samples the gateway served. A job's connection reads its own datasets' folder
and nothing else (:func:`confine`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sdk.errors import InvalidRequest

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

CLOSED = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


def connect(**config: Any) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection that fetches and loads no extension."""
    import duckdb

    return duckdb.connect(config={**CLOSED, **config})


def confine(con: duckdb.DuckDBPyConnection, folders: list[str]) -> None:
    """Let ``con`` reach files in ``folders`` only (none: no file at all), then lock its
    configuration: no other file is read or attached, no extension installed or loaded, and SQL
    cannot undo either."""
    if folders:
        con.execute("SET allowed_directories = $1", [[f.rstrip("/") + "/" for f in folders]])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def tables_in(text: str) -> set[str] | None:
    """The tables ``text`` reads, or ``None`` when DuckDB cannot tell without running it.

    Raises:
        InvalidRequest: the text is not SQL DuckDB can parse.
    """
    import duckdb

    try:
        return set(duckdb.get_table_names(text))
    except duckdb.ParserException as e:
        raise _refused(e) from None
    except duckdb.Error:  # some queries (JOIN … USING) are bound while their names are read
        return None


def run(con: duckdb.DuckDBPyConnection, text: str, tables: list[str]) -> pd.DataFrame:
    """``text`` on ``con`` as a DataFrame; DuckDB's complaint, with the tables there are, as a
    bilingual :class:`InvalidRequest`."""
    import duckdb

    try:
        return relation(con, text, tables).df()
    except duckdb.Error as e:
        raise _refused(e) from None


def relation(
    con: duckdb.DuckDBPyConnection, text: str, tables: list[str]
) -> duckdb.DuckDBPyRelation:
    """``text`` on ``con`` as a lazy relation (bound, not run); a table or column that is not
    there, or text DuckDB refuses, as a bilingual :class:`InvalidRequest`."""
    import duckdb

    try:
        return con.sql(text)
    except duckdb.CatalogException as e:
        shown = ", ".join(sorted(tables)) or "—"
        raise InvalidRequest(
            f"SQL 引用了不存在的表或列（可用的表：{shown}）：{_first_line(e)}",
            f"the SQL names a table or column that is not there (tables: {shown}): "
            f"{_first_line(e)}",
            code="sql",
        ) from None
    except duckdb.Error as e:
        raise _refused(e) from None


def _refused(error: Exception) -> InvalidRequest:
    return InvalidRequest(
        f"SQL 未能执行：{_first_line(error)}", f"the SQL failed: {_first_line(error)}", code="sql"
    )


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
