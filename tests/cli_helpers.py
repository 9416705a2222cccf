"""Run the ``shuyu`` CLI in-process and compare database snapshots."""

from __future__ import annotations

import io
import sys

from sqlalchemy import inspect, text

from hub.cli import main


def run_cli(monkeypatch, capsys, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        rc = main(list(argv))
    except SystemExit as e:  # argparse usage errors
        rc = e.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def snapshot(engine) -> dict[str, list]:
    """Every row of every table: proof that a failed command wrote nothing."""
    with engine.connect() as conn:
        return {
            t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY 1"))]
            for t in inspect(engine).get_table_names()
            if t != "alembic_version"
        }
