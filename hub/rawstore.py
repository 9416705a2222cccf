"""The raw store's two shapes of a dataset, read alike everywhere.

A dataset is either one Parquet file (``raw/<name>.parquet``, as every dataset was first stored)
or, for a large table, a folder of Parquet part files (``raw/<name>/part-00000.parquet`` …) of at
most :data:`PART_ROWS` rows each, in row groups of :data:`GROUP_ROWS`: DuckDB and pyarrow scan the
parts and their row groups in parallel. pandas and pyarrow read both shapes by path; what needs
the files (a job's projection, the hash in its run record) asks :func:`files`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

PART_ROWS = 1_000_000  # rows per part file of a large dataset
GROUP_ROWS = 128 * 1024  # rows per row group: DuckDB's unit of parallel work
BATCH_ROWS = 64 * 1024  # rows held in memory at once while a dataset is rewritten


def files(path: Path) -> list[Path]:
    """The Parquet files of a dataset stored at ``path`` (a file, or a folder of parts), in
    order; a folder holding none is an error, never an empty table."""
    if not path.is_dir():
        return [path]
    found = sorted(p for p in path.iterdir() if p.suffix == ".parquet" and p.is_file())
    if not found:
        raise FileNotFoundError(f"no Parquet part in {path}")
    return found


def sha256(path: Path) -> str:
    """The file's SHA-256, or for a folder of parts one digest over each part's name and
    SHA-256 in order (the same parts give the same digest wherever the folder is)."""
    from hub.review.lifecycle import sha256_of

    parts = files(path)
    if not path.is_dir():
        return sha256_of(parts[0])
    digest = hashlib.sha256()
    for part in parts:
        digest.update(f"{part.name}\0{sha256_of(part)}\n".encode())
    return digest.hexdigest()


def write_parts(batches: Iterable[pa.RecordBatch], schema: pa.Schema, folder: Path) -> int:
    """Write ``batches`` as part files of :data:`PART_ROWS` rows into the new ``folder``,
    holding one batch at a time; returns the rows written (an empty table is one empty part)."""
    import pyarrow.parquet as pq

    folder.mkdir(mode=0o700)
    total, writer, in_part = 0, None, 0
    try:
        for batch in batches:
            offset = 0
            while offset < batch.num_rows:
                if writer is None or in_part >= PART_ROWS:
                    if writer is not None:
                        writer.close()
                    part = folder / f"part-{total // PART_ROWS:05d}.parquet"
                    writer, in_part = pq.ParquetWriter(part, schema), 0
                piece = batch.slice(offset, PART_ROWS - in_part)
                writer.write_batch(piece, row_group_size=GROUP_ROWS)
                offset += piece.num_rows
                in_part += piece.num_rows
                total += piece.num_rows
        if writer is None:
            pq.write_table(schema.empty_table(), folder / "part-00000.parquet")
    finally:
        if writer is not None:
            writer.close()
    return total


def write(table: pa.Table, target: Path) -> Path:
    """Store ``table`` as ``<target>.parquet``, or as the folder ``<target>`` of parts when it
    has more than :data:`PART_ROWS` rows; returns the path stored."""
    import pyarrow.parquet as pq

    if table.num_rows <= PART_ROWS:
        path = target.with_name(target.name + ".parquet")
        pq.write_table(table, path, row_group_size=GROUP_ROWS)
        return path
    write_parts(table.to_batches(max_chunksize=BATCH_ROWS), table.schema, target)
    return target


def project(source: Path, columns: list[str], folder: Path) -> int:
    """Copy the ``columns`` of the dataset at ``source`` into parts in the new ``folder``,
    reading one row group at a time (constant memory whatever the table's size); returns the
    rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = files(source)
    first = pq.read_schema(parts[0])
    schema = pa.schema([first.field(c) for c in columns], metadata=first.metadata)

    def batches():
        for part in parts:
            with pq.ParquetFile(part) as f:
                for batch in f.iter_batches(batch_size=BATCH_ROWS, columns=columns):
                    yield pa.record_batch([batch.column(c) for c in columns], schema=schema)

    return write_parts(batches(), schema, folder)
