"""instructkit: build small, clean, diverse, uncontaminated instruction-tuning datasets.

The Python API mirrors the command line: :func:`read` streams any supported
input as record tables, :func:`convert` runs a file-to-file conversion, and
:func:`stats` computes the summary table.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from instructkit.accounting import RunLog
from instructkit.io.read import ReadOptions, read_tables
from instructkit.schema import RECORD_SCHEMA, Record, to_records, to_table

__version__ = "0.1.0"


def read(inputs: str | list[str], fmt: str = "auto", batch_size: int = 5000) -> Iterator[pa.Table]:
    """Stream inputs as record tables; rows that cannot be read are skipped (use convert for rejects)."""
    paths = [inputs] if isinstance(inputs, str) else inputs
    with RunLog(None, None) as log:
        yield from read_tables(paths, log, ReadOptions(fmt=fmt, batch_size=batch_size))


def read_records(inputs: str | list[str], fmt: str = "auto") -> list[Record]:
    return [r for t in read(inputs, fmt) for r in to_records(t)]


def convert(
    inputs: str | list[str],
    output: str | Path,
    fmt: str = "auto",
    to: str | None = None,
    strict: bool = False,
) -> dict[str, Any]:
    """File-to-file conversion; returns the summary (also written beside ``output``)."""
    from instructkit.engines import local

    paths = [inputs] if isinstance(inputs, str) else inputs
    return local.run(
        paths, Path(output), [], to=to, read_options=ReadOptions(fmt=fmt), strict=strict
    )


def stats(inputs: str | list[str], fmt: str = "auto") -> dict[str, Any]:
    from instructkit import stats_table as core

    return core.compute(read(inputs, fmt))


__all__ = [
    "RECORD_SCHEMA",
    "Record",
    "convert",
    "read",
    "read_records",
    "stats",
    "to_records",
    "to_table",
]
